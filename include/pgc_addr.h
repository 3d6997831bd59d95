/*
 * pgc_addr.h — libpgcoalesce's addresses (internal): which socket to
 * connect to, and connecting to it.
 *
 *   /path/to.sock, ./rel.sock, unix:PATH    a Unix socket
 *   tcp:HOST:PORT, HOST:PORT, [::1]:PORT    TCP (the sidecar's --listen)
 *
 * A text that starts with '/' or '.', or has no ':', is a path.
 */
#ifndef PGC_ADDR_H
#define PGC_ADDR_H

#include <stdbool.h>
#include <stddef.h>

enum pgc_addr_kind {
	PGC_ADDR_UNIX = 0,
	PGC_ADDR_TCP,
};

struct pgc_addr {
	enum pgc_addr_kind kind;
	char *path;     /* UNIX */
	char *host;     /* TCP: without brackets */
	char *port;     /* TCP: digits */
	char *display;  /* the path, or HOST:PORT ([HOST]:PORT for IPv6), for messages */
};

/* Parse `text`; false with a one-line reason in err. */
bool pgc_addr_parse(struct pgc_addr *a, const char *text, char *err, size_t errsz);
void pgc_addr_free(struct pgc_addr *a);

/*
 * A connected, non-blocking, close-on-exec socket (TCP with TCP_NODELAY),
 * or -1 with the reason in err. TCP tries each address the host resolves
 * to, in order, blocking while it connects.
 */
int pgc_addr_connect(const struct pgc_addr *a, char *err, size_t errsz);

#endif /* PGC_ADDR_H */
