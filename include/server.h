/*
 * server.h — the listening sockets: the Unix socket, and an optional TCP
 * listener (--listen) for clients that share a network namespace but no
 * filesystem with the sidecar (a Kubernetes pod). Both speak the same
 * protocol; each accepted connection becomes a client of the client set.
 */
#ifndef PGC_SERVER_H
#define PGC_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include <ev.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "netlisten.h"

struct server {
	struct ev_loop      *loop;
	const struct config *cfg;       /* --max-clients */
	struct client_set   *clients;
	bool                 tcp;       /* its clients come over TCP */
	struct netlisten     socks;     /* the listening sockets (one for the Unix socket) */
	char                *path;      /* the Unix socket's path, unlinked at close */
	ev_io                accept_io[NETLISTEN_MAX];
	ev_timer             accept_pause; /* out of descriptors: accepting resumes when it fires */
	bool                 listening;
	struct log_limit     accept_limit; /* accept() failing (out of descriptors) */
	struct log_limit     refuse_limit; /* clients refused at --max-clients */
};

/*
 * Bind and listen on the Unix socket `path` with `mode`. A stale socket file
 * (nothing listening) is replaced; a live one is not stolen. On failure
 * prints one line on stderr and returns false.
 */
bool server_listen(struct server *srv, const char *path, mode_t mode);

/*
 * Listen on TCP `spec` (HOST:PORT, [IPV6]:PORT or :PORT): only on loopback
 * addresses unless `remote`. On failure prints one line on stderr and
 * returns false. srv->socks.address is what was bound.
 */
bool server_listen_tcp(struct server *srv, const char *spec, bool remote);

/* Start accepting on the loop into `clients` (at most --max-clients at once). */
void server_start(struct server *srv, struct ev_loop *loop, const struct config *cfg,
		  struct client_set *clients);
/* Stop accepting, close (and unlink a Unix socket). Harmless if never listening. */
void server_close(struct server *srv, struct ev_loop *loop);

#endif /* PGC_SERVER_H */
