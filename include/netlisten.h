/*
 * netlisten.h — listening TCP sockets for a HOST:PORT.
 *
 * Shared by the metrics endpoint (http.c) and the protocol's TCP listener
 * (server.c): every address the host resolves to is bound (an address
 * family this host lacks is skipped), port 0 picks a free port (one socket
 * then), and a listener may be restricted to loopback addresses.
 */
#ifndef PGC_NETLISTEN_H
#define PGC_NETLISTEN_H

#include <stdbool.h>
#include <stddef.h>

#define NETLISTEN_MAX 8

struct netlisten {
	int    fds[NETLISTEN_MAX];   /* non-blocking, close-on-exec */
	size_t nfds;
	char   address[80];          /* the first bound address, "127.0.0.1:9187", "[::1]:7432" */
};

/*
 * Listen on host:port (host "" is every interface) with `backlog`. With
 * `loopback_only`, refuse (before binding anything) a host that resolves to
 * any address other than 127.0.0.0/8 or ::1. On failure returns false with
 * one line in err and nothing open.
 */
bool netlisten_open(struct netlisten *nl, const char *host, long port, int backlog,
		    bool loopback_only, char *err, size_t errsz);
void netlisten_close(struct netlisten *nl);

#endif /* PGC_NETLISTEN_H */
