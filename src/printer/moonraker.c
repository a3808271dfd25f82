/* Moonraker's HTTP API over libcurl (printer/moonraker.h).  libcurl is
 * opened only when Moonraker is asked: linked in, it and the libraries it
 * pulls in would more than double the memory of every mcuflash command. */
#include "printer/moonraker.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Moonraker answers at once; a busy host gets a few seconds. */
#define CONNECT_TIMEOUT_MS 1000L
#define TIMEOUT_MS 15000L
#define BODY_MAX (256 * 1024)

static struct {
    bool tried, ok;
    CURL *(*init)(void);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*perform)(CURL *);
    CURLcode (*getinfo)(CURL *, CURLINFO, ...);
    void (*cleanup)(CURL *);
    const char *(*error_text)(CURLcode);
} curl;

static bool load_curl(void)
{
    static const char *const names[] = { "libcurl.so.4", "libcurl-gnutls.so.4" };
    if (curl.tried)
        return curl.ok;
    curl.tried = true;
    void *lib = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return false;
    /* POSIX: a function pointer round-trips through dlsym's void *. */
    *(void **)&curl.init = dlsym(lib, "curl_easy_init");
    *(void **)&curl.setopt = dlsym(lib, "curl_easy_setopt");
    *(void **)&curl.perform = dlsym(lib, "curl_easy_perform");
    *(void **)&curl.getinfo = dlsym(lib, "curl_easy_getinfo");
    *(void **)&curl.cleanup = dlsym(lib, "curl_easy_cleanup");
    *(void **)&curl.error_text = dlsym(lib, "curl_easy_strerror");
    curl.ok = curl.init && curl.setopt && curl.perform && curl.getinfo && curl.cleanup && curl.error_text;
    return curl.ok;
}

struct body {
    char *data;
    size_t len;
};

static size_t take(char *p, size_t size, size_t n, void *ctx)
{
    struct body *b = ctx;
    size_t add = size * n;
    if (b->len + add > BODY_MAX)
        return 0; /* not Moonraker: stop reading */
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, p, add);
    b->data = grown;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One request; the JSON "result" of a 200 answer in *result. */
static int request(const char *url, const char *path, bool post, json_t **result, struct mf_err *err)
{
    char full[1024];
    struct body b = { 0 };
    long status = 0;
    *result = NULL;
    snprintf(full, sizeof(full), "%s%s", url, path);
    if (!load_curl())
        return mf_fail(err, MF_E_DEVICE, "Moonraker at %s cannot be asked: libcurl (libcurl.so.4) is not "
                       "installed.", url);
    CURL *c = curl.init();
    if (!c)
        return mf_fail(err, MF_E_FAIL, "Could not set up an HTTP request to Moonraker.");
    curl.setopt(c, CURLOPT_URL, full);
    curl.setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl.setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl.setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl.setopt(c, CURLOPT_WRITEFUNCTION, take);
    curl.setopt(c, CURLOPT_WRITEDATA, &b);
    if (post)
        curl.setopt(c, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl.perform(c);
    curl.getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl.cleanup(c);
    int out = 0;
    json_t *doc = rc == CURLE_OK && b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    if (rc != CURLE_OK)
        out = mf_fail(err, MF_E_DEVICE, "Moonraker does not answer at %s (%s).", url, curl.error_text(rc));
    else if (status != 200)
        out = mf_fail(err, MF_E_PROTOCOL, "Moonraker at %s answered %s %s with HTTP status %ld.", url,
                      post ? "POST" : "GET", path, status);
    else if (!json_object_get(doc, "result"))
        out = mf_fail(err, MF_E_PROTOCOL, "What answers at %s is not Moonraker (no result for %s).", url, path);
    else
        *result = json_incref(json_object_get(doc, "result"));
    json_decref(doc);
    free(b.data);
    return out;
}

int moonraker_get(const char *url, const char *path, json_t **result, struct mf_err *err)
{
    return request(url, path, false, result, err);
}

int moonraker_post(const char *url, const char *path, struct mf_err *err)
{
    json_t *result;
    if (request(url, path, true, &result, err) < 0)
        return -1;
    const char *ok = json_string_value(result);
    int rc = ok && !strcmp(ok, "ok") ? 0 : mf_fail(err, MF_E_PROTOCOL, "Moonraker at %s did not answer ok to %s.", url, path);
    json_decref(result);
    return rc;
}
