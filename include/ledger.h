/*
 * ledger.h — the rows the sidecar has accepted and not yet answered.
 *
 * Every accepted row is entered here (ledger_accept) and leaves exactly once
 * (ledger_complete): its ack is rendered and queued to its client, the
 * counters move, `flush` requests waiting for it are told, the client's
 * reference is dropped and the row is freed. Whoever holds a row meanwhile
 * (its group's queue, then a batch) never answers it any other way.
 *
 * A `flush` request waits here for every row accepted before it
 * (ledger_wait): it is answered when the last of them completes.
 *
 * Rows with an idempotency key are known here by their key while pending:
 * a second request with the key of a pending row is not written again; it
 * follows the first and gets its answer (ok as a duplicate, or the same
 * error) when the first completes.
 */
#ifndef PGC_LEDGER_H
#define PGC_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "buf.h"
#include "errdata.h"
#include "row.h"
#include "stats.h"

struct client;
struct group;
struct ledger_waiter;

struct ledger {
	struct ev_loop       *loop;
	struct row          **keyed;         /* pending rows by key (open hashing, power of 2) */
	size_t                nkeyed_buckets;
	size_t                nkeyed;
	struct stats         *stats;
	struct buf            scratch;       /* one ack at a time */
	uint64_t              next_seq;      /* rows accepted so far: each row's seq */
	size_t                pending_rows;  /* accepted, not completed */
	struct ledger_waiter *waiters;       /* `flush` requests not yet answered */
};

void ledger_init(struct ledger *l, struct ev_loop *loop, struct stats *stats);
/* At exit: forget the waiters (their clients are gone). */
void ledger_free(struct ledger *l);

/*
 * Take responsibility for `r` of group `g`, to be acked to `c`. Returns
 * false when `r` follows a pending row with its key: it is answered with
 * that row and must not be queued.
 */
bool ledger_accept(struct ledger *l, struct row *r, struct group *g, struct client *c);

/*
 * Answer `r` and forget it: ok with r->returned (and r->action) when
 * r->outcome is ROW_WRITTEN and its transaction committed (`committed`),
 * else its error (r->error; a row with none fails as PC007, outcome
 * unknown). Its followers get the same answer (ok as duplicates).
 */
void ledger_complete(struct ledger *l, struct row *r, struct group *g, bool committed);

/* Fail `r` with `e` (copied) and complete it. */
void ledger_fail(struct ledger *l, struct row *r, struct group *g, const struct errdata *e);

/*
 * A `flush` request of `c` with id `id_json`: answered ok at once when
 * nothing is pending, else once every row accepted so far has completed.
 */
void ledger_wait(struct ledger *l, struct client *c, const char *id_json);

#endif /* PGC_LEDGER_H */
