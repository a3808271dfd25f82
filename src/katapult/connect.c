/* The CONNECT reply: what the bootloader says about itself. */
#include "katapult/client.h"

#include <stdio.h>
#include <string.h>

#include "katapult/frame.h"

#define KP_PROTO_WITH_VERSION 0x00010100u

/* Copy a NUL-terminated field, keeping messages printable. */
static size_t take_string(const uint8_t *p, size_t len, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    for (; i < len && p[i]; i++)
        if (n + 1 < cap)
            out[n++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[n] = '\0';
    return i;
}

int kp_parse_connect(const uint8_t *data, size_t len, struct kp_info *info, struct mf_err *err)
{
    memset(info, 0, sizeof(*info));
    if (len < 12)
        return mf_fail(err, MF_E_PROTOCOL, "The CONNECT reply is %zu bytes long, too short to be Katapult's.", len);
    info->proto = kp_get_le32(data);
    info->start_address = kp_get_le32(data + 4);
    info->block_size = kp_get_le32(data + 8);
    if (info->block_size < KP_BLOCK_MIN || info->block_size > KP_BLOCK_MAX || info->block_size % 4)
        return mf_fail(err, MF_E_PROTOCOL, "Katapult reports a block size of %u bytes; only multiples of 4 from "
                       "%d to %d fit its frames.", info->block_size, KP_BLOCK_MIN, KP_BLOCK_MAX);
    if (info->start_address % info->block_size)
        return mf_fail(err, MF_E_PROTOCOL, "Katapult reports an application start 0x%08x that is not a multiple "
                       "of its block size %u.", info->start_address, info->block_size);
    const uint8_t *p = data + 12;
    size_t left = len - 12, used = take_string(p, left, info->mcu, sizeof(info->mcu));
    /* 1.1.0 pads the MCU name with 1..7 NULs, then the version follows. */
    if (info->proto >= KP_PROTO_WITH_VERSION) {
        while (used < left && p[used] == 0)
            used++;
        take_string(p + used, left - used, info->version, sizeof(info->version));
    }
    return 0;
}
