/*
 * group.h — rows waiting for their table's next flush.
 *
 * One group per table as the client named it (schema, table). A group is
 * ready to flush when it holds --max-batch-rows rows, --max-batch-bytes
 * bytes, or its oldest row has waited --max-delay-ms — or, in eager mode,
 * as soon as it holds a row. A ready group is flushed when a database
 * connection is free. Rows of one group that
 * name the same columns share a colset; the flush writes one INSERT per
 * colset.
 */
#ifndef PGC_GROUP_H
#define PGC_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "conflict.h"
#include "log.h"
#include "row.h"
#include "schema.h"
#include "stats.h"

/* A set of column names, sorted, interned per group. */
struct colset {
	struct colset *next;
	size_t         n;
	char         **names;   /* sorted, exact */
	/* resolved against the group's schema generation `schema_gen` (0: never) */
	unsigned long  schema_gen;
	int           *col_index;  /* schema column of each name */
	int            missing;    /* first name the table lacks, or -1 */
	size_t         users;      /* rows holding it (row_free releases) */
};

struct group {
	struct group *hnext;       /* hash chain */
	struct group *ready_next;  /* in the registry's ready queue */
	char         *schema;      /* NULL: resolved through search_path */
	char         *table;
	char         *display;     /* the name as clients write it ("events", "app.events"), for logs;
	                            * stats and metrics label a table by its resolved name (metrics.c) */
	struct row   *head, *tail; /* rows waiting, oldest first */
	size_t        nrows;
	size_t        nbytes;
	size_t        pending;     /* rows accepted and not yet completed (queued or in flight) */
	bool          ready;       /* in the ready queue */
	int           in_flight;   /* batches of this group started and not yet ended */
	int           executing;   /* of those, running their INSERTs on a connection (before
	                            * COMMIT; batch.c keeps it): while one does, the group
	                            * starts no other, which would only queue behind it (or
	                            * behind the same lock, holding a second connection that
	                            * other tables need). */
	int           commit_held; /* of those, in a COMMIT short enough that the next batch
	                            * waits for it rather than start on another connection
	                            * (batch.c, COMMIT_HOLD_RATIO); longer COMMITs overlap
	                            * with the next batch's INSERTs. */
	double        exec_avg;    /* moving averages of a batch's INSERTs and of its COMMIT, */
	double        commit_avg;  /* in seconds (batch.c keeps them) */
	unsigned      commits_unheld; /* COMMITs since one last held the group */
	ev_timer      deadline;    /* fires when the oldest row has waited max-delay */
	struct colset *colsets;    /* most recently used first */
	struct conflict *conflicts;/* on_conflict specs of its rows, interned (conflict.h) */
	size_t        ncolsets;
	size_t        colsets_sweep_at; /* free unheld colsets when ncolsets reaches this */
	struct table_schema *tschema;  /* cached column types, or NULL */
	bool          schema_stale;/* refetch before the next flush */
	bool          copy_off;    /* a COPY failed where its rows one by one did not: no more COPY */
	unsigned long schema_gen;  /* bumped by group_set_schema */
	struct table_stats stats;  /* per-table counters for `stats` and /metrics */
	struct log_limit warn_limit; /* for warnings that may repeat every batch */
	struct log_limit expire_limit; /* rows failing past --retry-timeout-ms */
	void         *owner;       /* the registry */
};

struct group_registry {
	struct group **buckets;
	size_t         nbuckets;
	size_t         count;
	size_t         sweep_at;   /* group_sweep runs once count reaches this ... */
	double         last_sweep; /* ... or a second after this ev_now() */
	struct group  *ready_head, *ready_tail;
	struct ev_loop *loop;
	double         max_delay;  /* seconds */
	size_t         max_rows;
	size_t         max_bytes;
	bool           eager;      /* a non-empty group is ready at once (--eager-flush) */
};

/*
 * Ready groups wait in the registry's queue (group_pop_ready) until the
 * flusher takes them before the loop sleeps: becoming ready calls nobody.
 */
void group_registry_init(struct group_registry *reg, struct ev_loop *loop,
			 double max_delay, size_t max_rows, size_t max_bytes);

/*
 * Eager mode: a group is ready as soon as it holds a row, so it is flushed
 * whenever a database connection is free; max-delay then only bounds the
 * wait for one. Batches still form while the connections are busy.
 */
void group_registry_set_eager(struct group_registry *reg, bool eager);
void group_registry_free(struct group_registry *reg);

/*
 * New limits at run time (SIGHUP): every waiting group's deadline is
 * re-armed from its oldest row with the new delay, and groups that are now
 * full or overdue become ready.
 */
void group_registry_reconfigure(struct group_registry *reg, double max_delay, size_t max_rows,
				size_t max_bytes, bool eager);

/* The group for (schema, table), created on first use. */
struct group *group_get(struct group_registry *reg, const char *schema, const char *table);

/*
 * Intern a sorted list of column names in the group; the caller (a row)
 * holds it until colset_release(). Unheld colsets are freed when a group's
 * count doubled since the last time, and by group_sweep, so clients naming
 * ever new columns cannot grow memory for good.
 */
struct colset *group_colset(struct group *g, const char *const *names, size_t n);
void colset_release(struct colset *cs);

/*
 * Intern a parsed on_conflict spec in the group (taking `parsed`'s fields:
 * it is left empty); the caller (a row) holds the result until
 * conflict_release(). Unheld specs are freed with the unheld colsets.
 */
struct conflict *group_conflict(struct group *g, struct conflict *parsed);
void conflict_release(struct conflict *c);

/*
 * Free idle groups that never committed a row (no rows queued, pending or in
 * flight) beyond the first few hundred, and the unheld colsets of groups that
 * have many: what clients naming ever new (mostly nonexistent) tables and
 * columns leave behind. Runs at the loop boundary, when the registry doubled
 * since the last sweep or a second has passed: O(1) per group created plus at
 * most one scan a second.
 */
void group_sweep(struct group_registry *reg, double now);

/* Column sets interned over all groups (for `stats`). */
size_t group_registry_colsets(const struct group_registry *reg);

/*
 * A batch of the group's rows is starting (before group_take_rows) / has
 * ended. In eager mode a group with a batch in flight is not ready again
 * until that batch ends, or the group fills up (rows or bytes), or its
 * oldest row reaches the deadline: rows that arrive meanwhile form the next
 * batch instead of trickling out in small ones on the other connections.
 */
void group_batch_started(struct group_registry *reg, struct group *g);
void group_batch_ended(struct group_registry *reg, struct group *g);

/* Queue a row; may make the group ready. */
void group_add_row(struct group_registry *reg, struct group *g, struct row *r);

/* Mark a group ready now (flush request, shutdown). No-op if empty. */
void group_make_ready(struct group_registry *reg, struct group *g);

/* Mark every non-empty group ready. */
void group_make_all_ready(struct group_registry *reg);

/*
 * The first ready group with no batch executing or holding it in a short
 * COMMIT (removed from the ready queue), or NULL; ready groups that have
 * one stay queued, in order.
 */
struct group *group_pop_ready(struct group_registry *reg);

/*
 * Detach up to max_rows rows (and max_bytes, at least one row) from the
 * group's head into a new array of *n rows (the caller frees it). Re-arms
 * the deadline for what is left.
 */
struct row **group_take_rows(struct group_registry *reg, struct group *g, size_t *n);

/* Put rows back at the head of the queue (nothing could run them). */
void group_return_rows(struct group_registry *reg, struct group *g, struct row **rows, size_t n);

/* Iterate: calls fn for every group. */
void group_foreach(struct group_registry *reg, void (*fn)(struct group *, void *), void *arg);

/* Replace the group's schema cache (takes ownership). */
void group_set_schema(struct group *g, struct table_schema *s);

/*
 * Resolve a colset's names against the group's current schema (cached per
 * schema generation). Returns false if the table lacks one of them
 * (cs->missing says which). The group must have a schema.
 */
bool group_colset_resolve(struct group *g, struct colset *cs);

#endif /* PGC_GROUP_H */
