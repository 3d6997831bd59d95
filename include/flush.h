/*
 * flush.h — the flusher: ready groups onto database connections.
 *
 * It owns the connection pool and the batches (batch.h). Before the loop
 * sleeps, flush_schedule gives every idle connection work: first a batch
 * waiting for one (a retry, an in-doubt COMMIT to resolve), then a
 * `describe` request (short: they go before new batches), then a step of
 * the idempotency keys' pruning when its timer fired (keys.h), then the
 * next ready group's rows as a new batch, then more pruning if it is
 * behind. Rows are completed through the ledger.
 */
#ifndef PGC_FLUSH_H
#define PGC_FLUSH_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "batch.h"
#include "client.h"
#include "config.h"
#include "describe.h"
#include "group.h"
#include "keys.h"
#include "ledger.h"
#include "pgconn.h"
#include "stats.h"

struct flusher {
	struct ev_loop        *loop;
	const struct config   *cfg;
	struct ledger         *ledger;
	struct group_registry *groups;
	struct pgpool          pool;
	struct batch_env       batches;
	struct describe_queue  describes;
	struct keys_pruner     keys;
};

/* Set up and start connecting (--connections connections to cfg->dsn). */
void flush_init(struct flusher *fl, struct ev_loop *loop, const struct config *cfg,
		struct stats *stats, struct ledger *ledger, struct group_registry *groups);
/* Close the connections; batches still live are freed without acks (exit). */
void flush_free(struct flusher *fl);

/* Start batches on idle connections for waiting batches and ready groups. */
void flush_schedule(struct flusher *fl);

/* Batches (and describe requests) started and not yet ended. */
size_t flush_in_flight(const struct flusher *fl);

/* A `describe` request of `c` for (schema or NULL, table): answered once a connection ran it. */
void flush_describe(struct flusher *fl, struct client *c, const char *id_json, const char *schema,
		    const char *table);
/* Database connections up. */
int flush_db_up(const struct flusher *fl);

/* Fail rows still waiting (queued or in a waiting batch) past --retry-timeout-ms. */
void flush_expire_waiting(struct flusher *fl);

/* Shutdown timeout: give up on everything still pending (PC005 / PC007). */
void flush_abandon_all(struct flusher *fl);

/*
 * A second signal: rows not yet in a COMMIT get PC005 now; COMMITs in
 * flight or in doubt go on to learn their outcome (the caller gives them a
 * moment, then calls flush_abandon_all).
 */
void flush_stop_now(struct flusher *fl);

#endif /* PGC_FLUSH_H */
