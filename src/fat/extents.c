/* Cluster lists kept as runs (start, count): a contiguous file is one run. */
#include "fat/fat_priv.h"

#include <stdlib.h>

int ext_push(struct extents *e, uint32_t cluster, struct mf_err *err)
{
    if (e->n && e->v[e->n - 1].start + e->v[e->n - 1].count == cluster) {
        e->v[e->n - 1].count++;
        e->clusters++;
        return 0;
    }
    if (e->n == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 8;
        struct extent *nv = realloc(e->v, cap * sizeof(*nv));
        if (!nv)
            return fat_oom(err);
        e->v = nv;
        e->cap = cap;
    }
    e->v[e->n++] = (struct extent){ cluster, 1 };
    e->clusters++;
    return 0;
}

bool ext_contains(const struct extents *e, uint32_t cluster)
{
    if (!e)
        return false;
    for (uint32_t i = 0; i < e->n; i++)
        if (cluster >= e->v[i].start && cluster - e->v[i].start < e->v[i].count)
            return true;
    return false;
}

uint32_t ext_cluster_at(const struct extents *e, uint32_t index)
{
    for (uint32_t i = 0; i < e->n; i++) {
        if (index < e->v[i].count)
            return e->v[i].start + index;
        index -= e->v[i].count;
    }
    return 0;
}

uint32_t ext_last(const struct extents *e)
{
    return e->n ? e->v[e->n - 1].start + e->v[e->n - 1].count - 1 : 0;
}

int ext_append(struct extents *dst, const struct extents *src, struct mf_err *err)
{
    for (uint32_t i = 0; i < src->n; i++)
        for (uint32_t k = 0; k < src->v[i].count; k++)
            if (ext_push(dst, src->v[i].start + k, err) < 0)
                return -1;
    return 0;
}

void ext_free(struct extents *e)
{
    free(e->v);
    *e = (struct extents){ 0 };
}

void ext_locate_sector(const struct fat_volume *v, const struct extents *e, uint32_t sector,
                       uint32_t *lba, uint32_t *contiguous)
{
    uint32_t ci = sector / v->sec_per_clus, in = sector % v->sec_per_clus;
    for (uint32_t i = 0; i < e->n; i++) {
        if (ci < e->v[i].count) {
            *lba = cluster_lba(v, e->v[i].start + ci) + in;
            *contiguous = (e->v[i].count - ci) * v->sec_per_clus - in;
            return;
        }
        ci -= e->v[i].count;
    }
    *lba = 0;
    *contiguous = 0;
}
