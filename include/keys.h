/*
 * keys.h — idempotency keys: the table that remembers them, and its pruning.
 *
 * A row with a `key` (docs/PROTOCOL.md) is written at most once per key
 * within --key-retention. The keys live in pgcoalesce.keys, one row per key
 * with the token of the attempt that stored it:
 *
 *   CREATE TABLE pgcoalesce.keys (key text COLLATE "C" PRIMARY KEY,
 *                                 token text NOT NULL,
 *                                 created_at timestamptz NOT NULL DEFAULT now());
 *
 * A batch stores its rows' keys (keys_insert_query) in the transaction that
 * writes the rows, before them; the keys it could not store were already
 * there: those rows are duplicates. Its INSERTs then write only the rows
 * whose key this attempt stored (sqlbuild.h's key filter, by token), so the
 * row and its key commit together or not at all, whoever else (a second
 * sidecar, a retry of our own) races for the key: the loser's key insert
 * waits for the winner's transaction and then finds the key.
 *
 * The same table settles a COMMIT whose outcome pg_xact_status cannot tell
 * (keys_probe_query): the attempt's token is there iff it committed.
 *
 * The table is created on first use (keys_setup_query, which needs CREATE
 * on the database only while the table does not exist) or by `pgcoalesce
 * --init-db` (keys_init_db). Old keys are deleted in bounded steps
 * (KEYS_PRUNE_LIMIT rows a statement) by a small job the flusher runs on an
 * idle connection every few seconds.
 */
#ifndef PGC_KEYS_H
#define PGC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <libpq-fe.h>

#include "config.h"
#include "log.h"
#include "pgconn.h"
#include "stats.h"

#define KEYS_PRUNE_LIMIT 1000

/* Tags of the pruner's commands (a batch's are below, describe's at 1000). */
#define KEYS_TAG_PRUNE 2000
#define KEYS_TAG_COUNT 2001
#define KEYS_TAG_SYNC  2002

/* Create schema pgcoalesce and its table and index where missing (one statement, no parameters). */
extern const char keys_setup_query[];

/*
 * $1 text[] of keys, $2 the attempt's token: stores the keys not yet
 * there, returning them in $1's order.
 */
extern const char keys_insert_query[];

/* $1 a key the attempt stored, $2 its token: one boolean row, is it there? */
extern const char keys_probe_query[];

/* The hint added to a keyed row's error when the key table cannot be set up. */
extern const char keys_setup_hint[];

struct keys_pruner {
	struct ev_loop      *loop;
	const struct config *cfg;
	struct stats        *stats;
	ev_timer             timer;    /* makes it due every few seconds */
	bool                 due;      /* the timer fired: run before new batches */
	bool                 more;     /* the last step found a full page: run when a connection is spare */
	struct pgconn       *pc;       /* while its statements run */
	int64_t              deleted;  /* by the statement in flight */
	bool                 failed;   /* its statement failed (logged) */
	struct log_limit     warn_limit;
};

void keys_pruner_init(struct keys_pruner *p, struct ev_loop *loop, const struct config *cfg,
		      struct stats *stats);
void keys_pruner_free(struct keys_pruner *p);

/*
 * Should it run on the next idle connection (its timer fired: once every
 * few seconds, before new batches)? Or when a connection is spare (old
 * keys are left from its last step)?
 */
bool keys_pruner_due(const struct keys_pruner *p);
bool keys_pruner_more(const struct keys_pruner *p);
/*
 * Seconds a key is kept: --key-retention, but at least 2 x
 * --retry-timeout-ms + 10 s, while a COMMIT in doubt may still be settled
 * by its key.
 */
double keys_prune_age(const struct config *cfg);
/* Run one bounded step on `pc`, an idle connection it now owns. */
void keys_pruner_start(struct keys_pruner *p, struct pgconn *pc);
/* Is `job` (a connection's owner) the pruner? */
bool keys_pruner_owns(const struct keys_pruner *p, const void *job);
/* pgconn_ops callbacks for the pruner. */
void keys_pruner_on_result(struct keys_pruner *p, struct pgconn *pc, int tag, const PGresult *res);
void keys_pruner_on_lost(struct keys_pruner *p, struct pgconn *pc);

/*
 * `pgcoalesce --init-db`: connect to `dsn` (blocking), create the key
 * table where missing, print what was done. Returns the exit status.
 */
int keys_init_db(const char *dsn);

#endif /* PGC_KEYS_H */
