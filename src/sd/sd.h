/* An SD card on a card bus: initialisation, identity, sector I/O.
 *
 * sd_open() speaks SPI mode or SD (native) mode according to bus->kind,
 * initialises the card, reads its CID and CSD, and hands back a card whose
 * sectors can be read and written directly or through a struct blockdev.
 * Sector operations are retried as a whole when a reply is lost or a CRC,
 * token or status check fails; never half an operation.
 */
#ifndef MF_SD_SD_H
#define MF_SD_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev/blockdev.h"
#include "sd/cardbus.h"
#include "util/err.h"

struct sd_card_info {
    enum cardbus_kind mode;     /* how the card is driven */
    int version;                /* 1: physical layer 1.x, 2: 2.0 or later */
    bool sdhc;                  /* high capacity, block addressed */
    unsigned csd_structure;     /* 0: CSD v1 (SDSC), 1: CSD v2 (SDHC/SDXC) */
    uint64_t capacity_bytes;
    uint32_t sector_count;      /* 512-byte sectors */
    bool write_protected;       /* either CSD write-protect bit */
    bool perm_write_protect, tmp_write_protect;
    uint8_t manufacturer_id;
    char oem[3];                /* OEM/application id, 2 characters */
    char product[6];            /* product name, 5 characters */
    uint8_t revision_major, revision_minor;
    uint32_t serial;
    uint16_t year;              /* manufacture date */
    uint8_t month;
    uint8_t cid[16], csd[16];   /* raw registers, byte 15 = CRC7 << 1 | 1 */
};

/* The SD-mode bus clock for data, once the card is identified (what
 * Klipper's own tool uses on this path). */
#define SD_MODE_TRANSFER_HZ 1000000u

struct sd_options {
    unsigned tries;             /* attempts per sector operation (default 4) */
    bool multi_block;           /* CMD18/CMD25 for runs of sectors (SPI only) */
    uint32_t max_run;           /* most sectors in one multi-block command */
    uint8_t write_polls;        /* SD mode, pipelined: CMD13s after each write
                                 * until the card shows what it needs (0: 2) */
};

struct sd_stats {
    uint64_t retries;           /* sector operations tried again */
    uint64_t recoveries;        /* bus resynchronisations after a failure */
    uint64_t reinits;           /* full re-initialisations during I/O */
    uint64_t split_runs;        /* multi-sector runs redone sector by sector */
    uint64_t sectors_read, sectors_written;
};

struct sd_card;

void sd_options_init(struct sd_options *opt);

/* Initialise the card on bus (which stays owned by the caller and must
 * outlive the card).  Fails with MF_E_CARD and a sentence for the user. */
int sd_open(struct cardbus *bus, struct sd_card **out, struct mf_err *err);
int sd_open_opts(struct cardbus *bus, const struct sd_options *opt, struct sd_card **out,
                 struct mf_err *err);

const struct sd_card_info *sd_card_info(const struct sd_card *card);
const struct sd_stats *sd_card_stats(const struct sd_card *card);
/* SD mode, pipelined: the CMD13s now queued after each write. */
unsigned sd_card_write_polls(const struct sd_card *card);

/* The card as a block device; read_only if the CSD says write-protected.
 * It belongs to the card: blockdev_close() on it does nothing, sd_close()
 * ends both. */
struct blockdev *sd_card_blockdev(struct sd_card *card);

/* Direct sector I/O (the block device calls these). */
int sd_read_sectors(struct sd_card *card, uint32_t lba, uint32_t count, uint8_t *buf,
                    struct mf_err *err);
int sd_write_sectors(struct sd_card *card, uint32_t lba, uint32_t count, const uint8_t *buf,
                     struct mf_err *err);

/* Leave the card idle (SPI: CMD0 then CMD59(0); SD mode: CMD0) and free it.
 * Returns -1 if the card could not be told, but frees it anyway. */
int sd_close(struct sd_card *card, struct mf_err *err);

/* "SanDisk" for well-known manufacturer ids, else "0xNN" in buf. */
const char *sd_manufacturer_name(uint8_t mid, char buf[8]);

/* One line such as "SanDisk SU08G rev 8.0, SDHC 7.4 GiB, made 2019-06,
 * serial 0x1234abcd". */
void sd_describe(const struct sd_card_info *info, char *buf, size_t size);

/* Decode CID and CSD (byte 15 ignored) into info; -1 if the CSD structure
 * is not one this tool supports (SDUC). */
int sd_decode_registers(const uint8_t cid[16], const uint8_t csd[16], struct sd_card_info *info,
                        struct mf_err *err);

#endif
