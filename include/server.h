/*
 * server.h — the listening Unix socket.
 */
#ifndef PGC_SERVER_H
#define PGC_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include <ev.h>

#include "client.h"
#include "config.h"
#include "log.h"

/* The listening socket; each connection it accepts becomes a client of `clients`. */
struct server {
	struct ev_loop    *loop;
	const struct config *cfg;   /* --max-clients */
	struct client_set *clients;
	int       fd;
	char     *path;
	ev_io     accept_io;
	ev_timer  accept_pause; /* out of descriptors: accepting resumes when it fires */
	bool      listening;
	struct log_limit accept_limit;  /* accept() failing (out of descriptors) */
	struct log_limit refuse_limit;  /* clients refused at --max-clients */
};

/*
 * Bind and listen on `path` with `mode`. A stale socket file (nothing
 * listening) is replaced; a live one is not stolen. On failure prints one
 * line on stderr and returns false.
 */
bool server_listen(struct server *srv, const char *path, mode_t mode);
/* Start accepting on the loop into `clients` (at most --max-clients at once). */
void server_start(struct server *srv, struct ev_loop *loop, const struct config *cfg,
		  struct client_set *clients);
/* Stop accepting, close and unlink the socket. */
void server_close(struct server *srv, struct ev_loop *loop);

#endif /* PGC_SERVER_H */
