/* Directory-entry timestamps: local time, 2-second steps, years 1980..2107. */
#include "fat/fat_priv.h"

void fat_stamp(const struct fat_volume *v, uint16_t *date, uint16_t *time_out, uint8_t *tenth)
{
    time_t t = v->fixed_time ? v->fixed_time : time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        tm = (struct tm){ .tm_year = 80, .tm_mday = 1 };
    if (tm.tm_year < 80)
        tm = (struct tm){ .tm_year = 80, .tm_mday = 1 };
    if (tm.tm_year > 207)
        tm = (struct tm){ .tm_year = 207, .tm_mon = 11, .tm_mday = 31, .tm_hour = 23, .tm_min = 59,
                          .tm_sec = 58 };
    if (tm.tm_sec > 59)
        tm.tm_sec = 59;  /* leap second */
    *date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    *time_out = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    *tenth = (uint8_t)((tm.tm_sec & 1) * 100);
}

void fat_time_decode(uint16_t date, uint16_t time_in, struct fat_time *out)
{
    out->year = (uint16_t)(1980 + (date >> 9));
    out->month = (uint8_t)(date >> 5 & 0x0F);
    out->day = (uint8_t)(date & 0x1F);
    out->hour = (uint8_t)(time_in >> 11);
    out->minute = (uint8_t)(time_in >> 5 & 0x3F);
    out->second = (uint8_t)((time_in & 0x1F) * 2);
}

void fat_set_time(struct fat_volume *vol, time_t fixed)
{
    vol->fixed_time = fixed;
}
