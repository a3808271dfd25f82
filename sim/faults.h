/* Line faults: bytes corrupted (one random bit flipped) or dropped on the
 * wire, per direction, and whole response blocks lost.  Deterministic for
 * a given seed and traffic. */
#ifndef SIM_FAULTS_H
#define SIM_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct sim_faults {
    double corrupt, drop, lose_response; /* probabilities */
    bool dir_in, dir_out;                /* host->MCU, MCU->host */
    uint64_t seed, rng;
    /* Counters since start. */
    uint64_t corrupted_in, corrupted_out, dropped_in, dropped_out, lost_responses;
};

void faults_init(struct sim_faults *f);
/* "corrupt=0.001,drop=0.001,lose-response=0.01,seed=7,dir=both|in|out";
 * replaces the settings (keys not given go back to 0 / both), keeps the
 * counters.  An empty spec turns faults off. */
int faults_parse(struct sim_faults *f, const char *spec, struct mf_err *err);
/* Apply byte faults in place to data crossing the wire; returns the new length. */
size_t faults_apply(struct sim_faults *f, bool inbound, uint8_t *buf, size_t len);
/* Should this response block be lost? */
bool faults_lose_response(struct sim_faults *f);
bool faults_active(const struct sim_faults *f);

/* Small deterministic generator (also used by the firmware maker). */
uint64_t sim_rand(uint64_t *state);

#endif
