#include "config.h"
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define LISTEN_BACKLOG 4096

static int
listen_setup(int fd, const struct addrinfo *ai, bool reuseport)
{
	int on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		return -1;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		return -1;
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		return -1;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		return -1;
	return listen(fd, LISTEN_BACKLOG);
}

int
listen_open(const char *key, const char *host, uint16_t port, bool reuseport, char *err,
    size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char portstr[8], where[300];
	int fd = -1, rc;

	listen_format(host, port, where, sizeof(where));
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: cannot resolve %s: %s", key, where, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    res->ai_protocol);
	if (fd == -1 || listen_setup(fd, res, reuseport) == -1) {
		int saved = errno;

		snprintf(err, errlen, "%s: cannot listen on %s: %s%s", key, where, strerror(saved),
		    saved == EADDRINUSE ? "; another process holds the port (choose another, or "
		    "stop it)" : saved == EACCES ? "; ports below 1024 need CAP_NET_BIND_SERVICE" :
		    "");
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

uint16_t
listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void
listen_format(const char *host, uint16_t port, char *buf, size_t size)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}
