/* The board losing its power after a given number of card writes. */
#include "powercut.h"

#include "sim.h"

static uint64_t card_writes(const struct sim *s)
{
    return sdcard_stats(s->slot.card)->sectors_written;
}

void powercut_arm(struct sim *s, uint64_t writes)
{
    s->powercut.armed = true;
    s->powercut.at_writes = card_writes(s) + writes;
    /* The card itself goes dead right after that write, before the MCU
     * handles anything more. */
    sdcard_set_power_cut(s->slot.card, (long)writes);
}

void powercut_disarm(struct sim *s)
{
    if (!s->powercut.armed)
        return;
    s->powercut.armed = false;
    sdcard_set_power_cut(s->slot.card, -1);
}

int64_t powercut_writes_left(const struct sim *s)
{
    if (!s->powercut.armed)
        return -1;
    return (int64_t)(s->powercut.at_writes - card_writes(s));
}

void powercut_watch(struct sim *s)
{
    if (!s->powercut.armed || card_writes(s) < s->powercut.at_writes)
        return;
    s->powercut.armed = false;
    s->powercut.cuts++;
    sim_unplug(s);
}
