/* Frames on a virtual CAN bus socket (mcuflash-sim canbus, or one end of a
 * socketpair standing in for it): one struct can_frame per packet. */
#ifndef MF_TEST_CAN_FRAMES_H
#define MF_TEST_CAN_FRAMES_H

#include <linux/can.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connect to the bus socket at path; hello gets the bus's greeting (its
 * bitrate).  -1 if either fails. */
int can_bus_join(const char *path, char *hello, size_t cap);
/* One frame of len (0..8) data bytes. */
bool can_frame_send(int fd, uint32_t id, const void *data, uint8_t len);
/* The next frame within ms (0: only one already waiting). */
bool can_frame_recv(int fd, int ms, struct can_frame *f);
/* A byte stream as data frames of at most 8 bytes on id. */
bool can_stream_send(int fd, uint32_t id, const uint8_t *data, size_t len);

#endif
