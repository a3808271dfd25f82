/* Cluster chains, walked with every link checked: a link to a free, bad or
 * out-of-range cluster, or a chain longer than its owner can be (which is
 * also how loops show up), is reported as damage instead of followed. */
#include "fat/fat_priv.h"

int chain_next(struct fat_volume *v, uint32_t cluster, uint32_t *next, const char *what,
               struct mf_err *err)
{
    uint32_t val;
    if (fat_get(v, cluster, &val, err) < 0)
        return -1;
    if (fat_is_eoc(v, val)) {
        *next = 0;
        return 0;
    }
    if (val == 0)
        return fat_damaged(err, "the cluster chain of %s runs into free cluster %u", what, cluster);
    if (val == v->bad_mark)
        return fat_damaged(err, "the cluster chain of %s runs into a cluster marked bad", what);
    if (!fat_in_range(v, val))
        return fat_damaged(err, "the cluster chain of %s links to cluster %u, outside the volume",
                           what, val);
    *next = val;
    return 0;
}

uint32_t dir_cluster_limit(const struct fat_volume *v)
{
    uint32_t most = (DIR_MAX_ENTRIES * DIRENT + v->cluster_bytes - 1) / v->cluster_bytes;
    return most < v->cluster_count ? most : v->cluster_count;
}

int chain_collect(struct fat_volume *v, uint32_t start, uint32_t limit, struct extents *out,
                  const char *what, struct mf_err *err)
{
    if (!fat_in_range(v, start))
        return fat_damaged(err, "%s starts at cluster %u, outside the volume", what, start);
    if (limit > v->cluster_count)
        limit = v->cluster_count;
    uint32_t c = start;
    while (c) {
        if (out->clusters >= limit)
            return fat_damaged(err, "the cluster chain of %s loops or is longer than it can be", what);
        if (ext_push(out, c, err) < 0 || chain_next(v, c, &c, what, err) < 0)
            return -1;
    }
    return 0;
}

int chain_of_file(struct fat_volume *v, const uint8_t *ent, const char *name, struct extents *out,
                  struct mf_err *err)
{
    uint32_t size = get32(ent + 28);
    uint32_t start = ent_cluster(v, ent);
    uint32_t need = (uint32_t)(((uint64_t)size + v->cluster_bytes - 1) / v->cluster_bytes);
    if (start == 0) {
        if (size != 0)
            return fat_damaged(err, "file %s has a size of %u bytes but no clusters", name, size);
        return 0;
    }
    if (size == 0)
        return fat_damaged(err, "empty file %s still owns clusters", name);
    if (chain_collect(v, start, need, out, name, err) < 0)
        return -1;
    if (out->clusters != need)
        return fat_damaged(err, "file %s is %u bytes but its cluster chain holds only %u bytes",
                           name, size, out->clusters * v->cluster_bytes);
    return 0;
}
