/*
 * sidecar.h — the daemon: every module wired together on one loop.
 *
 * Owns the loop's hooks (signals, the before-sleep hook, timers), the
 * listening socket, the clients, the table groups, the ledger of accepted
 * rows, the flusher and the counters. It routes each request line to its
 * handler (the clients' on_line callback), decides backpressure (their
 * may_read callback) and runs shutdown. Nothing below calls up into it.
 */
#ifndef PGC_SIDECAR_H
#define PGC_SIDECAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "client.h"
#include "config.h"
#include "cpusched.h"
#include "flush.h"
#include "group.h"
#include "ledger.h"
#include "metrics.h"
#include "reload.h"
#include "request.h"
#include "server.h"
#include "stats.h"

struct sidecar {
	struct ev_loop        *loop;
	struct config         *cfg;
	struct stats           stats;
	struct server          server;        /* the Unix socket */
	struct server          tcp;           /* --listen, if set */
	struct client_set      clients;
	struct request_decoder decoder;
	struct group_registry  groups;
	struct ledger          ledger;
	struct flusher         flusher;
	struct buf             scratch;       /* responses other than acks */
	struct cpusched        cpu;           /* SCHED_BATCH under load (--sched-batch) */
	uint64_t               seen_batches;  /* stats.batch_rows as cpu last saw it */
	double                 seen_batch_rows;

	bool                   shutting_down;
	bool                   shutdown_expired;
	bool                   stopping_now;  /* a second signal came during the drain */
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

#endif /* PGC_SIDECAR_H */
