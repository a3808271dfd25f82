/* A fake CAN node for tests: one board on a virtual bus socket (C1 format:
 * one struct can_frame per packet) that answers the canbus admin protocol
 * and carries a device's byte stream, from another socket, on its node id. */
#ifndef MF_TEST_FAKE_CAN_NODE_H
#define MF_TEST_FAKE_CAN_NODE_H

#include <stdint.h>

/* Serve until either socket closes, then _exit(0).  app is 0x01 (Klipper:
 * takes SET_NODEID 0x01) or 0x11 (Katapult: takes 0x11, forgets its id on
 * CLEAR_NODEID 0x12). */
void fake_can_node_run(int busfd, int streamfd, const uint8_t uuid[6], uint8_t app) __attribute__((noreturn));

#endif
