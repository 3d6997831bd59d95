/*
 * pgc_addr.c — libpgcoalesce's addresses (see pgc_addr.h).
 */
#include "pgc_addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"

void pgc_addr_free(struct pgc_addr *a)
{
	free(a->path);
	free(a->host);
	free(a->port);
	free(a->display);
	memset(a, 0, sizeof(*a));
}

static bool parse_unix(struct pgc_addr *a, const char *path, char *err, size_t errsz)
{
	if (!*path) {
		snprintf(err, errsz, "empty socket path");
		return false;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errsz, "socket path is too long: \"%s\"", path);
		return false;
	}
	a->kind = PGC_ADDR_UNIX;
	a->path = pgc_strdup(path);
	a->display = pgc_strdup(path);
	return true;
}

/* HOST:PORT or [HOST]:PORT; the port is 1-65535. */
static bool parse_tcp(struct pgc_addr *a, const char *hp, char *err, size_t errsz)
{
	const char *colon = strrchr(hp, ':'), *host = hp, *p;
	size_t hlen = colon ? (size_t)(colon - hp) : 0;
	long port;

	if (colon && hp[0] == '[' && hlen >= 2 && hp[hlen - 1] == ']') {
		host = hp + 1;
		hlen -= 2;
	}
	for (p = colon ? colon + 1 : ""; *p >= '0' && *p <= '9'; p++)
		;
	port = colon ? strtol(colon + 1, NULL, 10) : 0;
	if (!colon || hlen == 0 || p == colon + 1 || *p || p - colon > 6 || port < 1 || port > 65535) {
		snprintf(err, errsz, "invalid TCP address \"%s\": want HOST:PORT", hp);
		return false;
	}
	a->kind = PGC_ADDR_TCP;
	a->host = pgc_strndup(host, hlen);
	a->port = pgc_strdup(colon + 1);
	a->display = pgc_strdup(hp);
	return true;
}

bool pgc_addr_parse(struct pgc_addr *a, const char *text, char *err, size_t errsz)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(a, text + 5, err, errsz);
	if (strncmp(text, "tcp:", 4) == 0)
		return parse_tcp(a, text + 4, err, errsz);
	if (text[0] == '/' || text[0] == '.' || !strchr(text, ':'))
		return parse_unix(a, text, err, errsz);
	return parse_tcp(a, text, err, errsz);
}

static int connect_unix(const struct pgc_addr *a, char *err, size_t errsz)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errsz, "%s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, a->path, strlen(a->path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errsz, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_tcp(const struct pgc_addr *a, char *err, size_t errsz)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(a->host, a->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errsz, "%s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			snprintf(err, errsz, "%s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			snprintf(err, errsz, "%s", strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	/* acks are small and latency matters: no Nagle delay */
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int pgc_addr_connect(const struct pgc_addr *a, char *err, size_t errsz)
{
	int fd = a->kind == PGC_ADDR_UNIX ? connect_unix(a, err, errsz) : connect_tcp(a, err, errsz);

	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}
