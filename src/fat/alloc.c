/* Allocation: plan first (nothing written), link later.  A contiguous run
 * is preferred; the search starts at the next-free hint and wraps once. */
#include "fat/fat_priv.h"

#include <stdlib.h>

struct plan_ctx {
    uint32_t need;
    const struct extents *exclude;
    uint32_t run_start, run_len, prev;
    bool found;
    uint32_t free_seen;
    struct extents *fallback;
    struct mf_err *err;
    bool failed;
};

static int plan_cb(void *arg, uint32_t c, uint32_t val)
{
    struct plan_ctx *p = arg;
    if (val != 0 || ext_contains(p->exclude, c)) {
        p->run_len = 0;
        return 0;
    }
    p->free_seen++;
    if (p->run_len && c == p->prev + 1) {
        p->run_len++;
    } else {
        p->run_start = c;
        p->run_len = 1;
    }
    p->prev = c;
    if (p->fallback->clusters < p->need && ext_push(p->fallback, c, p->err) < 0) {
        p->failed = true;
        return 1;
    }
    if (p->run_len == p->need) {
        p->found = true;
        return 1;
    }
    return 0;
}

int alloc_plan(struct fat_volume *v, uint32_t need, const struct extents *exclude,
               struct extents *out, struct mf_err *err)
{
    if (need == 0)
        return 0;
    struct extents fallback = { 0 };
    struct plan_ctx p = { .need = need, .exclude = exclude, .fallback = &fallback, .err = err };
    uint32_t hint = fat_in_range(v, v->alloc_hint) ? v->alloc_hint : 2;
    int rc = fat_scan(v, hint, v->max_cluster, plan_cb, &p, err);
    if (rc == 0 && !p.found && !p.failed) {
        p.run_len = 0;  /* a run does not continue across the wrap */
        rc = fat_scan(v, 2, hint - 1, plan_cb, &p, err);
    }
    if (rc < 0 || p.failed) {
        ext_free(&fallback);
        return -1;
    }
    if (p.found) {
        ext_free(&fallback);
        for (uint32_t i = 0; i < need; i++)
            if (ext_push(out, p.run_start + i, err) < 0)
                return -1;
        return 0;
    }
    /* The whole FAT was scanned: free_seen is exact. */
    if (!exclude || exclude->clusters == 0) {
        v->free_known = true;
        v->free_clusters = p.free_seen;
    }
    if (fallback.clusters < need) {
        ext_free(&fallback);
        return mf_fail(err, MF_E_CARD,
                       "The card is full: %llu KiB more space is needed but only %llu KiB is free; "
                       "nothing was changed; delete files from the card or use a larger card.",
                       (unsigned long long)need * v->cluster_bytes / 1024,
                       (unsigned long long)p.free_seen * v->cluster_bytes / 1024);
    }
    int r = ext_append(out, &fallback, err);
    ext_free(&fallback);
    return r;
}

int alloc_link(struct fat_volume *v, const struct extents *e, struct mf_err *err)
{
    for (uint32_t i = 0; i < e->n; i++) {
        const struct extent *x = &e->v[i];
        for (uint32_t k = 0; k < x->count; k++) {
            uint32_t c = x->start + k;
            uint32_t next = k + 1 < x->count ? c + 1 : (i + 1 < e->n ? e->v[i + 1].start : v->eoc_mark);
            if (fat_set(v, c, next, err) < 0)
                return -1;
        }
    }
    return 0;
}

int alloc_release(struct fat_volume *v, const struct extents *e, struct mf_err *err)
{
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t k = 0; k < e->v[i].count; k++)
            if (fat_set(v, e->v[i].start + k, 0, err) < 0)
                return -1;
    return 0;
}

int clusters_zero(struct fat_volume *v, const struct extents *e, struct mf_err *err)
{
    uint8_t *zero = calloc(1, v->cluster_bytes);
    if (!zero)
        return fat_oom(err);
    int rc = 0;
    for (uint32_t i = 0; i < e->n && rc == 0; i++)
        for (uint32_t k = 0; k < e->v[i].count && rc == 0; k++) {
            uint32_t lba = cluster_lba(v, e->v[i].start + k);
            cache_forget(v, lba, v->sec_per_clus);
            rc = vol_write(v, lba, v->sec_per_clus, zero, err);
        }
    free(zero);
    return rc;
}
