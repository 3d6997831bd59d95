/*
 * flush.h — writing groups to PostgreSQL: batches and their fate.
 *
 * A batch takes up to --max-batch-rows rows of one ready group onto an idle
 * connection and runs this state machine (each state commented in flush.c):
 *
 *   SCHEMA?  -> EXEC (BEGIN; xid; INSERT per colset; Sync)
 *            -> COMMIT (COMMIT; Sync)                -> ack every row
 *   EXEC error, row-attributable -> ISOLATE (savepoint per row, same xact)
 *   transient error / lost before COMMIT -> BACKOFF -> retry
 *   lost during COMMIT -> RESOLVE (pg_xact_status on a new connection)
 *
 * Rows are acked only after COMMIT returned (or pg_xact_status said
 * committed). A failed row is never in the database.
 */
#ifndef PGC_FLUSH_H
#define PGC_FLUSH_H

#include <stdbool.h>

struct sidecar;
struct pgconn;

/* pgconn callbacks (installed by sidecar.c). */
void flush_conn_idle(struct pgconn *pc);

/* Start batches on idle connections for ready groups and waiting work. */
void flush_schedule(struct sidecar *sc);

/* Number of batches in flight (started, not completed). */
int flush_in_flight(const struct sidecar *sc);

/* Fail rows that waited past --retry-timeout-ms while the database is down. */
void flush_expire_waiting(struct sidecar *sc);

/* Shutdown timeout: give up on everything still pending (PC005 / PC007). */
void flush_abandon_all(struct sidecar *sc);

void flush_init(struct sidecar *sc);
void flush_free(struct sidecar *sc);

#endif /* PGC_FLUSH_H */
