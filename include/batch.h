/*
 * batch.h — one batch of a table's rows, from its group to its acks.
 *
 * A batch takes up to --max-batch-rows rows of one ready group and runs them
 * on a database connection as one transaction, through the states below.
 * Every state change goes through batch_set_state (batch.c), which checks it
 * against this table; every result a connection delivers is checked against
 * the state that sent its command.
 *
 *   state      event                                   next state
 *   ---------  --------------------------------------  ---------------------------
 *   QUEUED     given an idle connection                SCHEMA if the column cache
 *                                                      is stale, else EXEC (or
 *                                                      ISOLATE once isolating);
 *                                                      DONE if no row is left valid
 *   SCHEMA     Sync: columns fetched                   EXEC / ISOLATE / DONE
 *   SCHEMA     Sync: transient error                   BACKOFF
 *   SCHEMA     Sync: other error                       DONE (every row fails)
 *   EXEC       Sync: every command ok                  COMMIT
 *   EXEC       Sync: an error                          ROLLBACK
 *   ROLLBACK   Sync: transient error was seen          BACKOFF
 *   ROLLBACK   Sync: the table changed                 SCHEMA (same connection); after
 *                                                      two refetches, as any error:
 *   ROLLBACK   Sync: any other error (maybe a row's)   ISOLATE (same connection;
 *                                                      SCHEMA first if stale)
 *   ROLLBACK   Sync: an error while isolating that     DONE (every row fails)
 *              is no single row's
 *   ISOLATE    Sync of a window: a row failed          ISOLATE (next window)
 *   ISOLATE    Sync of a window: rows left             ISOLATE (next window)
 *   ISOLATE    Sync of the last window                 ISOLATE (the schema check)
 *   ISOLATE    Sync of the schema check                COMMIT
 *   ISOLATE    Sync: transient error                   ROLLBACK
 *   COMMIT     Sync: committed                         DONE (rows acked)
 *   COMMIT     Sync: transient error                   BACKOFF
 *   COMMIT     Sync: a row's data failed (deferred)    ISOLATE (same connection)
 *   COMMIT     Sync: other error                       DONE (every row fails)
 *   COMMIT     connection lost                         IN_DOUBT (DONE if the xid
 *                                                      is unknown: PC007)
 *   IN_DOUBT   given an idle connection                RESOLVE
 *   RESOLVE    Sync: committed                         DONE (rows acked)
 *   RESOLVE    Sync: aborted                           BACKOFF
 *   RESOLVE    Sync: in progress, or the check failed  IN_DOUBT (poll timer)
 *   RESOLVE    Sync: unknowable, or past its deadline  DONE (PC007)
 *   RESOLVE    connection lost                         IN_DOUBT / DONE
 *   any other  connection lost before COMMIT           BACKOFF
 *   BACKOFF    timer                                   QUEUED
 *   BACKOFF    every row past --retry-timeout-ms       DONE (PC006)
 *   QUEUED     rows past --retry-timeout-ms            QUEUED / DONE (PC006)
 *   IN_DOUBT   past its deadline                       DONE (PC007)
 *   (waiting)  shutdown timeout (batch_abandon_all)    DONE (PC005, or PC007
 *                                                      once COMMIT was sent)
 *
 * With --write-path copy, EXEC may run its steps as one script with a COPY
 * per part (pgconn_send_script), whose results arrive tagged as the
 * pipelined steps' would: the table above holds for both. ISOLATE always
 * uses INSERT.
 *
 * Rows are acked only in DONE: ok if the transaction committed (COMMIT
 * returned, or pg_xact_status said so) and the row was written in it, else
 * with the row's own error. A failed row is never in the database.
 *
 * Bounded waits: each attempt sets its transaction's statement_timeout to
 * end just past its oldest row's deadline (acceptance plus
 * --retry-timeout-ms), and a batch still holding its connection a second
 * past that deadline drops it (the watchdog): either way the attempt ends
 * as a transient failure, and rows past their deadline get PC006.
 */
#ifndef PGC_BATCH_H
#define PGC_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <libpq-fe.h>

#include "config.h"
#include "group.h"
#include "ledger.h"
#include "pgconn.h"
#include "stats.h"

enum batch_state {
	BATCH_QUEUED = 0,  /* in env->waiting: needs a connection for its next attempt */
	BATCH_BACKOFF,     /* a transient failure: the retry timer runs */
	BATCH_SCHEMA,      /* the table's column types are being fetched */
	BATCH_EXEC,        /* BEGIN; xid; an INSERT (or a COPY) per part; the schema check: in flight */
	BATCH_ROLLBACK,    /* ROLLBACK of a failed attempt: in flight; b->after says what next */
	BATCH_ISOLATE,     /* one transaction, a savepoint per row, a window of rows in flight */
	BATCH_COMMIT,      /* COMMIT in flight: a lost connection leaves the outcome in doubt */
	BATCH_IN_DOUBT,    /* lost during COMMIT: waits (queue or poll timer) to ask pg_xact_status */
	BATCH_RESOLVE,     /* pg_xact_status(xid) in flight */
	BATCH_DONE,        /* every row completed; the batch is freed at once */
	BATCH_STATES
};

/* What the batches of one flusher share; the flusher owns it. */
struct batch_env {
	struct ev_loop        *loop;
	const struct config   *cfg;
	struct stats          *stats;
	struct ledger         *ledger;
	struct group_registry *groups;
	struct pgpool         *pool;
	struct batch          *batches;   /* every live batch */
	struct batch          *waiting;   /* QUEUED and IN_DOUBT batches waiting for a connection, in order */
	size_t                 count;     /* live batches */
	bool                   abandoned; /* shutdown timeout: no more retries, in-doubt is PC007 */
	bool                   no_retry;  /* stopping now: no more retries; in-doubt still resolved */
	bool                   keys_ready;/* pgcoalesce.keys is known to exist (keys.h) */
	uint64_t               token_base;/* random per process: attempts' tokens are unique */
	uint64_t               token_seq;
};

struct batch;

/* A new batch (QUEUED, not in the queue) of the rows at the head of ready group `g`. */
struct batch *batch_new(struct batch_env *env, struct group *g);

/* Run the batch's next step on `pc`, an idle connection it now owns (QUEUED or IN_DOUBT). */
void batch_start(struct batch *b, struct pgconn *pc);

/* The first batch waiting for a connection, taken off the queue; NULL if none. */
struct batch *batch_next_waiting(struct batch_env *env);

/* pgconn_ops callbacks: a result of a command the batch `job` queued, and a lost connection. */
void batch_on_result(struct pgconn *pc, void *job, int tag, size_t arg, PGresult *res);
void batch_on_lost(struct pgconn *pc, void *job);

/*
 * Fail rows of waiting batches that are past --retry-timeout-ms (PC006),
 * and in-doubt batches past their deadline (PC007).
 */
void batch_expire_waiting(struct batch_env *env, double now);

/* Shutdown timeout: end every batch now (PC005, or PC007 once COMMIT was sent). */
void batch_abandon_all(struct batch_env *env);

/*
 * Stop now (a second signal): batches whose COMMIT was not sent end with
 * PC005 (their connections dropped); those in COMMIT or in doubt go on to
 * learn their outcome, and no batch is retried.
 */
void batch_stop_uncommitted(struct batch_env *env);

/* Free every batch without answering its rows (exit). */
void batch_free_all(struct batch_env *env);

/* For tests and logs. */
enum batch_state batch_state(const struct batch *b);
const char *batch_state_name(enum batch_state s);

#endif /* PGC_BATCH_H */
