/*
 * sidecar.h — the daemon's context, passed to every module.
 *
 * Owns the loop, the listening socket, the clients, the table groups, the
 * connection pool and the counters; routes each request line to its
 * handler and completes each row exactly once (row_complete).
 */
#ifndef PGC_SIDECAR_H
#define PGC_SIDECAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "client.h"
#include "config.h"
#include "group.h"
#include "metrics.h"
#include "pgconn.h"
#include "reload.h"
#include "request.h"
#include "server.h"
#include "stats.h"

struct batch;

/* A `flush` request waiting for earlier rows. */
struct flush_waiter {
	struct flush_waiter *next;
	struct client       *client;
	char                *id_json;
	uint64_t             upto_seq;   /* rows with seq <= this must complete */
	size_t               remaining;  /* of those, still pending */
};

struct sidecar {
	struct ev_loop        *loop;
	struct config         *cfg;
	struct stats           stats;
	struct server          server;
	struct request_decoder decoder;
	struct group_registry  groups;
	struct pgpool          pool;

	struct client         *clients;       /* live clients */
	size_t                 nclients;
	uint64_t               next_client_id;
	struct client         *out_list;      /* clients with output to write */
	struct client         *free_list;     /* closed, to free at the loop boundary */
	bool                   paused_clients;/* some client is paused (backpressure) */

	uint64_t               next_seq;      /* row acceptance counter */
	size_t                 pending_rows;  /* accepted, not completed */
	struct flush_waiter   *waiters;

	struct batch          *batches;       /* in flight */
	struct batch          *waiting;       /* retry backoff over, or resolve, waiting for a conn */
	struct buf             scratch;       /* ack formatting */

	bool                   shutting_down;
	bool                   shutdown_expired;
	ev_signal              sig_term, sig_int;
	ev_prepare             before_sleep;
	ev_timer               shutdown_timer;
	ev_timer               sweep_timer;   /* retry-timeout expiry while the db is down */

	struct metrics         metrics;       /* GET /metrics (--metrics-listen) */
	struct reload          reload;        /* SIGHUP: re-read --config */
};

/* Set up everything; false if the socket cannot be created. */
bool sidecar_init(struct sidecar *sc, struct ev_loop *loop, struct config *cfg);
/* Run until shutdown completes; returns the exit status. */
int sidecar_run(struct sidecar *sc);
void sidecar_free(struct sidecar *sc);

/* One framed request line from a client. */
void sidecar_handle_line(struct sidecar *sc, struct client *c, const char *line, size_t len);
/* The line exceeded --max-request-bytes. */
void sidecar_line_too_long(struct sidecar *sc, struct client *c);

/* May `c` read more requests now (backpressure)? */
bool sidecar_may_read(struct sidecar *sc, struct client *c);

/*
 * Complete a row: write its ack (ok, or the error in r->result), update
 * counters and flush waiters, drop the client reference, free the row.
 * `ok` selects the ok ack (r->result then holds the RETURNING object, if any).
 */
void row_complete(struct sidecar *sc, struct row *r, struct group *g, bool ok);

/* Complete a row with a sidecar (PC) or synthesized error. */
void row_fail(struct sidecar *sc, struct row *r, struct group *g, const char *code,
	      const char *message);

#endif /* PGC_SIDECAR_H */
