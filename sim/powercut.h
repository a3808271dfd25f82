/* A power cut in the middle of a card write sequence: armed to strike
 * right after the k-th sector the card programs from now, it leaves the
 * card without power at once (later writes never reach the image, even in
 * the same batch of commands) and then takes the whole board down as an
 * unplugged board: the device disappears until `plug`. */
#ifndef SIM_POWERCUT_H
#define SIM_POWERCUT_H

#include <stdbool.h>
#include <stdint.h>

struct sim;

struct sim_powercut {
    bool armed;
    uint64_t at_writes; /* the card's sectors_written count that cuts the power */
    uint64_t cuts;      /* power cuts so far */
};

/* Arm: the power goes after `writes` more sector writes (writes >= 1). */
void powercut_arm(struct sim *s, uint64_t writes);
void powercut_disarm(struct sim *s);
/* Writes still to come before the cut; -1 when not armed. */
int64_t powercut_writes_left(const struct sim *s);
/* Called by the event loop after the firmware ran: takes the board down
 * once the card has lost its power. */
void powercut_watch(struct sim *s);

#endif
