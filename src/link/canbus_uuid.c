/* The CAN UUID of a Klipper USB-CAN bridge, from its USB serial number.
 *
 * The firmware hashes its chip id with fasthash64 (seed 0xA16231A7) and
 * uses the first six bytes of the result, least significant first, as its
 * UUID; the chip id is also its USB serial number in hex.
 */
#include "link/canbus.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BRIDGE_UUID_SEED 0xA16231A7u
#define FASTHASH_M 0x880355f21e6d1965ull

static uint64_t mix(uint64_t h)
{
    h ^= h >> 23;
    h *= 0x2127599bf4325c37ull;
    h ^= h >> 47;
    return h;
}

uint64_t canbus_fasthash64(const uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t h = seed ^ (len * FASTHASH_M);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = 0;
        for (int b = 7; b >= 0; b--)
            v = v << 8 | buf[i + (size_t)b];
        h ^= mix(v);
        h *= FASTHASH_M;
    }
    if (i < len) {
        uint64_t v = 0;
        for (size_t b = len; b > i; b--)
            v = v << 8 | buf[b - 1];
        h ^= mix(v);
        h *= FASTHASH_M;
    }
    return mix(h);
}

/* Hex digits to bytes (how many), or -1: hex must give exactly cap bytes,
 * or with any_len 1 to cap of them. */
static int hex_decode(const char *hex, uint8_t *out, size_t cap, bool any_len)
{
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n / 2 > cap || (!any_len && n / 2 != cap))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)hex[i]))
            return -1;
    for (size_t i = 0; i < n / 2; i++) {
        char pair[3] = { hex[2 * i], hex[2 * i + 1], 0 };
        out[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return (int)(n / 2);
}

int canbus_uuid_parse(const char *hex, uint8_t uuid[CANBUS_UUID_LEN])
{
    return hex_decode(hex, uuid, CANBUS_UUID_LEN, false) < 0 ? -1 : 0;
}

void canbus_uuid_format(const uint8_t uuid[CANBUS_UUID_LEN], char out[2 * CANBUS_UUID_LEN + 1])
{
    for (int i = 0; i < CANBUS_UUID_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", uuid[i]);
}

int canbus_uuid_from_usb_serial(const char *serial, uint8_t uuid[CANBUS_UUID_LEN])
{
    uint8_t chipid[64];
    int n = hex_decode(serial, chipid, sizeof(chipid), true);
    if (n < 0)
        return -1;
    uint64_t h = canbus_fasthash64(chipid, (size_t)n, BRIDGE_UUID_SEED);
    for (int i = 0; i < CANBUS_UUID_LEN; i++)
        uuid[i] = (uint8_t)(h >> (8 * i));
    return 0;
}
