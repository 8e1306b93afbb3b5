/*
 * listen: opening the TCP listening sockets. Workers each get their own socket on the same
 * address (SO_REUSEPORT) so the kernel spreads new connections across them without a shared
 * accept lock. Port 0 picks a free port once; every later socket binds that same port.
 */
#ifndef REVGATE_LISTEN_H
#define REVGATE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Opens a non-blocking listening socket on HOST:PORT (HOST numeric or a name, resolved with
 * blocking DNS: start-up only). REUSEPORT allows several sockets on one port. Returns the fd,
 * or -1 with a message naming KEY, the address and the reason in ERR.
 */
int listen_open(const char *key, const char *host, uint16_t port, bool reuseport, char *err,
    size_t errlen);

/* The port FD is bound to, or 0 on error. */
uint16_t listen_port(int fd);

/* Writes "host:port" (brackets for IPv6) for display. */
void listen_format(const char *host, uint16_t port, char *buf, size_t size);

#endif
