/* Moonraker's HTTP API over libcurl (printer/moonraker.h). */
#include "printer/moonraker.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Moonraker answers at once; a busy host gets a few seconds. */
#define CONNECT_TIMEOUT_MS 1000L
#define TIMEOUT_MS 15000L
#define BODY_MAX (256 * 1024)

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
    CURL *c = curl_easy_init();
    if (!c)
        return mf_fail(err, MF_E_FAIL, "Could not set up an HTTP request to Moonraker.");
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    int out = 0;
    json_t *doc = rc == CURLE_OK && b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    if (rc != CURLE_OK)
        out = mf_fail(err, MF_E_DEVICE, "Moonraker does not answer at %s (%s).", url, curl_easy_strerror(rc));
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
