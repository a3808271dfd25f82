/* Monotonic time in the units the protocol code thinks in. */
#ifndef MF_UTIL_CLOCK_H
#define MF_UTIL_CLOCK_H

#include <stdint.h>

/* Microseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
uint64_t mf_now_us(void);
/* Sleep for the given number of microseconds (restarts on EINTR). */
void mf_sleep_us(uint64_t us);

#endif
