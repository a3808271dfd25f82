/* Listening Unix-domain sockets for the virtual board's servers (control
 * socket, CAN bus, USB-to-CAN bridge). */
#ifndef MCUFLASH_SIM_UNIXSOCK_H
#define MCUFLASH_SIM_UNIXSOCK_H

/* The longest path unix_listen takes: a socket address less the
 * temporary name's ".new". */
#define UNIXSOCK_PATH_MAX 103

/* Why unix_listen failed (anything else: errno says). */
enum {
    UNIXSOCK_TOO_LONG = -2,   /* the path does not fit a socket address */
    UNIXSOCK_NOT_SOCKET = -3, /* something that is not a socket is there */
};

/* A socket of type (SOCK_STREAM or SOCK_SEQPACKET, flags allowed) listening
 * at path; a stale socket there is replaced.  The path appears only once
 * the socket listens, so a client that sees it can connect.  Returns the
 * descriptor, -1 with errno, or UNIXSOCK_TOO_LONG / UNIXSOCK_NOT_SOCKET. */
int unix_listen(const char *path, int type, int backlog);

#endif
