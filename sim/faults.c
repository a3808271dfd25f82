/* Line faults. */
#include "faults.h"

#include <stdlib.h>
#include <string.h>

uint64_t sim_rand(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rand_unit(struct sim_faults *f)
{
    return (double)(sim_rand(&f->rng) >> 11) * (1.0 / 9007199254740992.0);
}

void faults_init(struct sim_faults *f)
{
    memset(f, 0, sizeof(*f));
    f->dir_in = f->dir_out = true;
}

static int parse_probability(const char *v, double *out)
{
    char *end;
    double p = strtod(v, &end);
    if (end == v || *end || !(p >= 0.0 && p <= 1.0))
        return -1;
    *out = p;
    return 0;
}

static int apply_setting(struct sim_faults *f, const char *key, const char *v)
{
    if (!strcmp(key, "corrupt"))
        return parse_probability(v, &f->corrupt);
    if (!strcmp(key, "drop"))
        return parse_probability(v, &f->drop);
    if (!strcmp(key, "lose-response"))
        return parse_probability(v, &f->lose_response);
    if (!strcmp(key, "seed")) {
        char *end;
        f->seed = strtoull(v, &end, 0);
        return end == v || *end ? -1 : 0;
    }
    if (!strcmp(key, "dir")) {
        f->dir_in = !strcmp(v, "both") || !strcmp(v, "in");
        f->dir_out = !strcmp(v, "both") || !strcmp(v, "out");
        return f->dir_in || f->dir_out ? 0 : -1;
    }
    return -1;
}

int faults_parse(struct sim_faults *f, const char *spec, struct mf_err *err)
{
    struct sim_faults n = *f;
    n.corrupt = n.drop = n.lose_response = 0;
    n.dir_in = n.dir_out = true;
    n.seed = 0;
    char buf[512];
    if (strlen(spec) >= sizeof(buf))
        return mf_fail(err, MF_E_USAGE, "The fault spec is too long; faults were left unchanged.");
    strcpy(buf, spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            return mf_fail(err, MF_E_USAGE, "Fault setting '%s' has no '='; faults were left unchanged.", item);
        *eq = '\0';
        if (apply_setting(&n, item, eq + 1) < 0)
            return mf_fail(err, MF_E_USAGE,
                           "Bad fault setting '%s=%s' (use corrupt=P, drop=P, lose-response=P with P in 0..1, "
                           "seed=N, dir=both|in|out); faults were left unchanged.",
                           item, eq + 1);
    }
    n.rng = n.seed;
    *f = n;
    return 0;
}

bool faults_active(const struct sim_faults *f)
{
    return f->corrupt > 0 || f->drop > 0 || f->lose_response > 0;
}

size_t faults_apply(struct sim_faults *f, bool inbound, uint8_t *buf, size_t len)
{
    if (!(inbound ? f->dir_in : f->dir_out) || (f->corrupt <= 0 && f->drop <= 0))
        return len;
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = buf[i];
        if (f->drop > 0 && rand_unit(f) < f->drop) {
            (*(inbound ? &f->dropped_in : &f->dropped_out))++;
            continue;
        }
        if (f->corrupt > 0 && rand_unit(f) < f->corrupt) {
            b ^= (uint8_t)(1u << (sim_rand(&f->rng) & 7));
            (*(inbound ? &f->corrupted_in : &f->corrupted_out))++;
        }
        buf[out++] = b;
    }
    return out;
}

bool faults_lose_response(struct sim_faults *f)
{
    if (f->lose_response <= 0 || rand_unit(f) >= f->lose_response)
        return false;
    f->lost_responses++;
    return true;
}
