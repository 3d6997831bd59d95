/*
 * batch.c — one batch's state machine (see batch.h for its table).
 *
 * A batch owns its rows from the moment they leave the group until each is
 * completed through the ledger. Its connection delivers results in order
 * (pgconn.h); the batch tags every command it queues so batch_on_result
 * knows what each result answers, and its state says what a Sync ends.
 */
#include "batch.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "errdata.h"
#include "keys.h"
#include "log.h"
#include "schema.h"
#include "sqlbuild.h"

#define ISOLATE_WINDOW    64     /* rows per round trip while isolating errors */
#define RETRY_BACKOFF_MIN 0.01   /* seconds */
#define RETRY_BACKOFF_MAX 1.0
#define RESOLVE_POLL      0.05   /* seconds between pg_xact_status polls */
#define SAVEPOINT_NAME    "pgcoalesce_row"
#define NO_ROW            ((size_t)-1)
#define WARN_EVERY        10.0   /* seconds between repeats of a per-batch warning */
#define ISO_CHECK         ((size_t)-2) /* the Sync after isolation's schema check */
/*
 * Every row is answered within --retry-timeout-ms of its acceptance plus
 * this (README "Guarantees"): a batch's statements get a statement_timeout
 * that ends half of it after its oldest row's deadline, and a connection
 * still busy with the batch this long after it is dropped.
 */
#define DEADLINE_GRACE    1.0

/* What a batch does once its ROLLBACK completed. */
enum batch_after {
	AFTER_RETRY = 0,   /* transient: back off, then run again */
	AFTER_REFRESH,     /* the table changed: refetch its schema, run again now */
	AFTER_ISOLATE,     /* a row's data failed: find it, row by row */
	AFTER_FAIL,        /* the whole batch fails with the error */
};

/*
 * Tags of the commands a batch queues. T_SYNC ends the step its state
 * names (arg: the row of an isolation window, NO_ROW for the others);
 * T_SYNC_RECOVER ends the savepoint recovery after a failed row, which may
 * still be in the pipeline when the last window's COMMIT is sent.
 */
enum batch_tag {
	T_SYNC, T_SYNC_RECOVER, T_SCHEMA, T_KEYS_SETUP,
	T_BEGIN, T_CHECK, T_SETCONS, T_XID, T_KEYS, T_INSERT,
	T_ROLLBACK, T_SAVEPOINT, T_ISO_KEYS, T_ISO_INSERT, T_RELEASE, T_RECOVER,
	T_COMMIT, T_RESOLVE, T_RESOLVE_KEY,
};

/*
 * What an error means for the batch. Everything that is neither transient
 * nor a sign that the table changed may be some row's doing (a constraint,
 * a trigger, a policy, an extension can raise anything): the rows are then
 * tried one by one, and a row gets an error only if it fails alone.
 */
enum err_class {
	ERR_NONE = 0,
	ERR_TRANSIENT,     /* retry the whole batch later (the connection, a deadlock, our deadline) */
	ERR_SCHEMA,        /* the table changed under us: refetch and retry (then isolate) */
	ERR_ROW,           /* anything else: isolate */
	ERR_UNKNOWABLE,    /* pg_xact_status cannot tell: the outcome stays in doubt */
};

/*
 * Rows of a batch that go in one INSERT: same columns, same RETURNING
 * need, same on_conflict; rows of an upsert also have distinct keys (one
 * round: batch_partition).
 */
struct part {
	struct colset         *cs;
	bool                   returning;
	const struct conflict *conflict;
	bool                   keyed;  /* some row has an idempotency key */
	size_t                *idx;    /* indexes into batch->rows (in batch->part_rows) */
	size_t                 n;
};

struct batch {
	struct batch     *next;        /* env->batches */
	struct batch     *wait_next;   /* env->waiting */
	bool              in_queue;    /* in env->waiting */
	struct batch_env *env;
	struct group     *g;
	struct row      **rows;
	size_t            n;
	enum batch_state  state;
	enum batch_after  after;
	struct pgconn    *pc;          /* the connection it owns, or NULL */
	ev_timer          timer;       /* BACKOFF retry, IN_DOUBT poll */
	ev_timer          watchdog;    /* drops the connection DEADLINE_GRACE past the oldest row's deadline */
	double            backoff;     /* the next retry's delay */
	double            resolve_deadline;
	bool              isolate;        /* go row by row (a row-attributable error was seen) */
	bool              schema_fetched; /* refetched during this attempt */
	int               schema_retries;
	bool              committed;      /* COMMIT (or pg_xact_status) said so */
	bool              xact_aborted;   /* pg_xact_status said aborted */
	bool              lost_last;      /* the last failure was a lost connection */
	bool              own_timeout;    /* the attempt's statement_timeout is ours (the rows' deadline) */
	bool              deadline_hit;   /* it ran out: our statement_timeout, or the watchdog */
	bool              whole_failed;   /* every row failed with one error that is not a row's */
	char              xid[32];
	unsigned long     epoch_id;       /* the server's crash epoch when xid was assigned */
	enum err_class    err;            /* first error of the attempt */
	struct errdata    error;
	struct part      *parts;          /* in the order their INSERTs run */
	size_t            nparts;
	size_t           *part_rows;      /* the parts' row indexes, part after part */
	char              token[48];      /* this attempt's mark on the keys it stores (keys.h) */
	size_t            iso_pos;        /* next row to try */
	size_t            iso_end;        /* last row of the window in flight */
	size_t            iso_failed;     /* first failed row of the window, or NO_ROW */
	double            started_at;     /* ev_now() when the batch took its rows */
	double            phase_at;       /* ev_now() when it entered its state */
	bool              holds_group;    /* its COMMIT counts in g->commit_held */
	bool              copying;        /* this attempt writes its parts with COPY */
	bool              copy_failed;    /* an attempt's COPY failed, not transiently ... */
	struct errdata    copy_error;     /* ... with this error, ... */
	unsigned long     copy_schema_gen;/* ... with this schema (g->schema_gen) */
	unsigned          retries;        /* attempts retried so far */
};

/* The fate of an xid; 'future' if no transaction has it yet (lost in a crash). */
static const char resolve_query[] =
	"SELECT CASE WHEN $1::pg_catalog.xid8 OPERATOR(pg_catalog.>=) "
	"pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) "
	"THEN 'future' ELSE pg_catalog.pg_xact_status($1::pg_catalog.xid8) END";

/* The attempt's xid, and its statement_timeout ($1, ms) set for the transaction. */
static const char xid_query[] =
	"SELECT pg_catalog.pg_current_xact_id()::pg_catalog.text, "
	"pg_catalog.set_config('statement_timeout', $1, true)";

static void batch_attempt(struct batch *b);
static double batch_deadline(const struct batch *b);
static void batch_exec(struct batch *b);
static void batch_isolate_start(struct batch *b);
static void batch_retry_later(struct batch *b);

/* ---- states ---- */

static const char *const state_names[BATCH_STATES] = {
	"queued", "backoff", "schema", "exec", "rollback", "isolate", "commit", "in_doubt",
	"resolve", "done",
};

/* Running its INSERTs on a connection, before COMMIT (group.h: g->executing). */
static bool state_executing(enum batch_state s)
{
	return s == BATCH_SCHEMA || s == BATCH_EXEC || s == BATCH_ROLLBACK || s == BATCH_ISOLATE;
}

#define S(x) (1u << BATCH_##x)
/* allowed[from]: the states `from` may change to (batch.h's table). */
static const unsigned allowed[BATCH_STATES] = {
	[BATCH_QUEUED]   = S(SCHEMA) | S(EXEC) | S(ISOLATE) | S(DONE),
	[BATCH_BACKOFF]  = S(QUEUED) | S(DONE),
	[BATCH_SCHEMA]   = S(EXEC) | S(ISOLATE) | S(BACKOFF) | S(DONE),
	[BATCH_EXEC]     = S(COMMIT) | S(ROLLBACK) | S(BACKOFF) | S(DONE),
	[BATCH_ROLLBACK] = S(BACKOFF) | S(SCHEMA) | S(ISOLATE) | S(DONE),
	[BATCH_ISOLATE]  = S(COMMIT) | S(ROLLBACK) | S(BACKOFF) | S(DONE),
	[BATCH_COMMIT]   = S(DONE) | S(BACKOFF) | S(SCHEMA) | S(ISOLATE) | S(IN_DOUBT),
	[BATCH_IN_DOUBT] = S(RESOLVE) | S(DONE),
	[BATCH_RESOLVE]  = S(DONE) | S(BACKOFF) | S(IN_DOUBT),
	[BATCH_DONE]     = 0,
};
#undef S

/*
 * A COMMIT shorter than this share of the group's INSERT time holds the
 * group: its next batch waits for this connection instead of starting on
 * another. Two backends taking turns cost PostgreSQL more CPU per row than
 * one running the same batches in sequence, and the rows that arrive
 * meanwhile join the next batch; a longer COMMIT (a slow disk's flush) is
 * better overlapped with the next batch's INSERTs. Measured (README
 * "Performance"): at COMMIT/INSERT 0.2 (this machine's disk) holding is
 * far ahead, at 0.7 (1 ms added to each flush) overlapping is.
 */
#define COMMIT_HOLD_RATIO 0.5
/* Every this many COMMITs that did not hold, one does, to measure again. */
#define COMMIT_PROBE_EVERY 16
#define AVG_WEIGHT 0.125

/*
 * A sample counts at most twice the average: a COMMIT that met a new WAL
 * segment or a checkpoint's flush takes ten times the usual, and one such
 * outlier would otherwise swing the choice for the next hundred batches.
 * A lasting change still moves the average by an eighth each batch.
 */
static void moving_avg(double *avg, double sample)
{
	*avg = *avg > 0 ? *avg + AVG_WEIGHT * (fmin(sample, 2 * *avg) - *avg) : sample;
}

static bool commit_holds(struct group *g)
{
	if (g->commit_avg == 0 || g->commit_avg < COMMIT_HOLD_RATIO * g->exec_avg)
		return true;
	if (++g->commits_unheld < COMMIT_PROBE_EVERY)
		return false;
	g->commits_unheld = 0;
	return true;
}

/* The COMMIT stops holding its group (it ended, or ran past its limit). */
static void batch_hold_release(struct batch *b)
{
	b->g->commit_held--;
	b->holds_group = false;
	ev_timer_stop(b->env->loop, &b->timer);
}

/*
 * A held COMMIT ran past its limit (a standby gone away, a deferred unique
 * check waiting on another transaction): the table's next batch need not
 * wait for it any more. The wait counts as a sample (capped at twice the
 * average), so a disk that got slower moves the average and the table
 * goes over to overlapping.
 */
static void batch_hold_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct batch *b = w->data;

	if (!b->holds_group)
		return;
	moving_avg(&b->g->commit_avg, ev_now(loop) - b->phase_at);
	batch_hold_release(b);
}

/* A COMMIT holds its group for at most this: twice its usual time, or as long as one that would not hold. */
static double hold_limit(const struct group *g)
{
	return fmax(2 * g->commit_avg, COMMIT_HOLD_RATIO * g->exec_avg);
}

/* Time the INSERTs (EXEC) and the COMMIT; decide whether the COMMIT holds the group. */
static void batch_time_phase(struct batch *b, enum batch_state to)
{
	struct group *g = b->g;
	double now;

	/* the loop's time is its iteration's start, before that iteration's
	 * client work: a busy sidecar would see every phase last about one
	 * iteration, and COMMITs as long as INSERTs */
	ev_now_update(b->env->loop);
	now = ev_now(b->env->loop);
	if (b->state == BATCH_EXEC && to == BATCH_COMMIT)
		moving_avg(&g->exec_avg, now - b->phase_at);
	if (b->holds_group) {
		/* only a COMMIT that held its group ran alone: one overlapped
		 * with the next batch's INSERTs takes as long as they do on a
		 * busy server, and would keep the group from ever holding */
		if (to == BATCH_DONE && b->committed)
			moving_avg(&g->commit_avg, now - b->phase_at);
		batch_hold_release(b);
	}
	if (to == BATCH_COMMIT && commit_holds(g)) {
		g->commit_held++;
		b->holds_group = true;
		/* the timer is free in COMMIT (BACKOFF and IN_DOUBT use it) */
		ev_set_cb(&b->timer, batch_hold_cb);
		ev_timer_set(&b->timer, hold_limit(g), 0.);
		ev_timer_start(b->env->loop, &b->timer);
	}
	b->phase_at = now;
}

/* The one place a batch changes state. */
static void batch_set_state(struct batch *b, enum batch_state to)
{
	assert(to < BATCH_STATES && (allowed[b->state] & (1u << to)));
	if (state_executing(b->state) != state_executing(to))
		b->g->executing += state_executing(to) ? 1 : -1;
	batch_time_phase(b, to);
	b->state = to;
}

enum batch_state batch_state(const struct batch *b)
{
	return b->state;
}

const char *batch_state_name(enum batch_state s)
{
	return s < BATCH_STATES ? state_names[s] : "?";
}

/* Is a result of a command tagged `tag` one the state `s` can receive? */
static bool tag_fits_state(int tag, enum batch_state s)
{
	switch (tag) {
	case T_SYNC:
		return s == BATCH_SCHEMA || s == BATCH_EXEC || s == BATCH_ROLLBACK || s == BATCH_ISOLATE ||
		       s == BATCH_COMMIT || s == BATCH_RESOLVE;
	case T_SCHEMA: case T_KEYS_SETUP:
		return s == BATCH_SCHEMA;
	case T_BEGIN: case T_CHECK: case T_SETCONS: case T_XID:
		return s == BATCH_EXEC || s == BATCH_ISOLATE;
	case T_KEYS: case T_INSERT:
		return s == BATCH_EXEC;
	case T_SAVEPOINT: case T_ISO_KEYS: case T_ISO_INSERT: case T_RELEASE:
		return s == BATCH_ISOLATE;
	case T_RECOVER: case T_SYNC_RECOVER:
		return s == BATCH_ISOLATE || s == BATCH_COMMIT;
	case T_ROLLBACK:
		return s == BATCH_ROLLBACK;
	case T_COMMIT:
		return s == BATCH_COMMIT;
	case T_RESOLVE: case T_RESOLVE_KEY:
		return s == BATCH_RESOLVE;
	}
	return false;
}

/* ---- error classification ---- */

static bool code_in(const char *code, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(code, list[i]) == 0)
			return true;
	return false;
}

static enum err_class classify(struct batch *b, const PGresult *res)
{
	static const char *const transient[] = { "40001", "40P01", "55P03", "57P01", "57P02", "57P03" };
	/* the table changed: undefined table/column/type (a renamed type), a
	 * type mismatch, a prepared statement whose result type changed (0A000)
	 * or that is gone (26000) */
	static const char *const schema[] = { "42P01", "42703", "42704", "42804", "0A000", "26000" };
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (!code || strncmp(code, "08", 2) == 0 || strncmp(code, "53", 2) == 0 ||
	    code_in(code, transient, sizeof(transient) / sizeof(transient[0])))
		return ERR_TRANSIENT;
	if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
		return ERR_TRANSIENT; /* the server is ending the connection, whatever the code */
	if (strcmp(code, "57014") == 0 && b->own_timeout) {
		b->deadline_hit = true; /* our statement_timeout: the rows' deadline came */
		return ERR_TRANSIENT;
	}
	if (code_in(code, schema, sizeof(schema) / sizeof(schema[0])))
		return ERR_SCHEMA;
	return ERR_ROW;
}

/* Keep the attempt's first error. */
static void batch_note_error(struct batch *b, const PGresult *res)
{
	if (b->err != ERR_NONE)
		return;
	errdata_from_result(&b->error, res);
	b->err = classify(b, res);
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* ---- lifetime ---- */

static void batch_clear_parts(struct batch *b)
{
	free(b->parts);
	free(b->part_rows);
	b->parts = NULL;
	b->part_rows = NULL;
	b->nparts = 0;
}

static void queue_remove(struct batch *b)
{
	struct batch **pb;

	if (!b->in_queue)
		return;
	for (pb = &b->env->waiting; *pb; pb = &(*pb)->wait_next)
		if (*pb == b) {
			*pb = b->wait_next;
			break;
		}
	b->in_queue = false;
}

/* The batch is over (its rows are completed or were handed on): forget it. */
static void batch_free(struct batch *b)
{
	struct batch_env *env = b->env;
	struct batch **pb;

	if (b->holds_group) /* freed at exit in its COMMIT */
		batch_hold_release(b);
	group_batch_ended(env->groups, b->g);
	for (pb = &env->batches; *pb; pb = &(*pb)->next)
		if (*pb == b) {
			*pb = b->next;
			break;
		}
	queue_remove(b);
	env->count--;
	ev_timer_stop(env->loop, &b->timer);
	ev_timer_stop(env->loop, &b->watchdog);
	batch_clear_parts(b);
	errdata_clear(&b->error);
	errdata_clear(&b->copy_error);
	free(b->rows);
	free(b);
}

/* Give the connection back (idle again) unless it was lost meanwhile. */
static void batch_release_conn(struct batch *b)
{
	struct pgconn *pc = b->pc;

	b->pc = NULL;
	ev_timer_stop(b->env->loop, &b->watchdog);
	if (pc)
		pgconn_release(pc, b);
}

/*
 * The batch still holds its connection DEADLINE_GRACE past its oldest row's
 * deadline (its statement_timeout did not end it: a stuck network, a COMMIT
 * waiting for a standby): drop the connection. The loss is handled as any
 * other: the attempt is retried (rows past their deadline get PC006), or a
 * COMMIT in flight is resolved.
 */
static void batch_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct batch *b = w->data;

	if (!b->pc)
		return;
	b->deadline_hit = true;
	pgconn_abort(b->pc, "the batch was still running past its rows' deadline (--retry-timeout-ms): "
		     "connection dropped");
}

/* Put the batch at the tail of the queue for the next idle connection. */
static void batch_enqueue(struct batch *b)
{
	struct batch **pb = &b->env->waiting;

	assert(!b->in_queue && !b->pc);
	while (*pb)
		pb = &(*pb)->wait_next;
	b->wait_next = NULL;
	*pb = b;
	b->in_queue = true;
}

struct batch *batch_next_waiting(struct batch_env *env)
{
	struct batch *b = env->waiting;

	if (b) {
		env->waiting = b->wait_next;
		b->wait_next = NULL;
		b->in_queue = false;
	}
	return b;
}

static void row_set_failed(struct row *r, const struct errdata *e)
{
	errdata_copy(&r->error, e);
	r->outcome = ROW_FAILED;
}

/*
 * Count the batch and log it: a batch that failed as a whole (PC005/6/7, or
 * an error that is no row's) at warn with its SQLSTATE and message; the
 * others at debug, rows that failed on their own data included.
 */
static void batch_report(struct batch *b, size_t ok, size_t failed, const struct errdata *first)
{
	struct batch_env *env = b->env;
	double now = ev_now(env->loop);
	const char *code = first && first->code[0] ? first->code : "unknown";

	stats_batch_done(env->stats, b->n, ok, b->whole_failed, b->retries > 0, now - b->started_at);
	if (b->whole_failed)
		log_warn("batch failed", "table=%s rows=%zu sqlstate=%s error=%s retries=%u",
			 log_q(b->g->display), failed, code, log_q(first && first->message ? first->message : ""),
			 b->retries);
	else
		log_debug("batch done", "table=%s rows=%zu ok=%zu failed=%zu sqlstate=%s ms=%.3f retries=%u",
			  log_q(b->g->display), b->n, ok, failed, !failed ? "none" : code,
			  (now - b->started_at) * 1000.0, b->retries);
}

/*
 * Its COPY failed, yet every row went in one by one: COPY itself is what
 * fails on this table (something sqlbuild.h's list of differences misses),
 * so the table's batches use INSERT from now on.
 */
static void batch_copy_off(struct batch *b)
{
	if (b->g->copy_off)
		return;
	b->g->copy_off = true;
	log_warn("COPY failed where INSERT did not: table written with INSERT ... unnest from now on",
		 "table=%s code=%s error=%s", log_q(b->g->display), b->copy_error.code,
		 log_q(b->copy_error.message));
}

/*
 * The end of a batch: ack every row (ok if it was written and the
 * transaction committed, else its error), count, free.
 */
static void batch_finish(struct batch *b)
{
	struct batch_env *env = b->env;
	struct errdata first = { 0 };
	size_t i, ok = 0, failed = 0;

	batch_release_conn(b);
	batch_set_state(b, BATCH_DONE);
	for (i = 0; i < b->n; i++) {
		struct row *r = b->rows[i];
		if (r->outcome == ROW_WRITTEN && b->committed) {
			ok++;
		} else {
			if (!failed && errdata_is_set(&r->error))
				errdata_copy(&first, &r->error);
			failed++;
		}
		ledger_complete(env->ledger, r, b->g, b->committed);
	}
	/* a COPY that failed on a stale schema (its data built for an old column type) is not COPY's fault */
	if (b->copy_failed && b->committed && !failed && b->copy_schema_gen == b->g->schema_gen)
		batch_copy_off(b);
	batch_report(b, ok, failed, &first);
	errdata_clear(&first);
	batch_free(b);
}

/* Every row not yet failed fails with `e` (the transaction did not commit). */
static void batch_fail_all(struct batch *b, const struct errdata *e)
{
	size_t i;

	b->committed = false;
	b->whole_failed = true;
	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome != ROW_FAILED)
			row_set_failed(b->rows[i], e);
	batch_finish(b);
}

static void batch_fail_all_pc(struct batch *b, enum pc_code pc, const char *message)
{
	struct errdata e = { 0 };

	errdata_set_pc(&e, pc, "%s", message);
	batch_fail_all(b, &e);
	errdata_clear(&e);
}

struct batch *batch_new(struct batch_env *env, struct group *g)
{
	struct batch *b = pgc_calloc(1, sizeof(*b));

	/* in flight before the rows leave: what stays behind waits for this batch (group.h) */
	group_batch_started(env->groups, g);
	b->rows = group_take_rows(env->groups, g, &b->n);
	b->env = env;
	b->g = g;
	b->state = BATCH_QUEUED;
	b->backoff = RETRY_BACKOFF_MIN;
	b->iso_failed = NO_ROW;
	b->started_at = ev_now(env->loop);
	ev_init(&b->timer, NULL);
	b->timer.data = b;
	ev_init(&b->watchdog, batch_watchdog_cb);
	b->watchdog.data = b;
	b->next = env->batches;
	env->batches = b;
	env->count++;
	return b;
}

/* ---- validation against the cached schema ---- */

/* The first of `names` the table lacks, or NULL. */
static const char *first_missing(const struct table_schema *s, char *const *names, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (schema_find_column(s, names[k]) < 0)
			return names[k];
	return NULL;
}

/* The first column of the row's on_conflict the table lacks, or NULL; *in_target if a target's. */
static const char *conflict_missing(const struct table_schema *s, const struct conflict *c,
				    bool *in_target)
{
	const char *m;

	*in_target = false;
	if (!c)
		return NULL;
	if ((m = first_missing(s, c->target, c->ntarget))) {
		*in_target = true;
		return m;
	}
	if ((m = first_missing(s, c->set, c->nset)))
		return m;
	return first_missing(s, c->add, c->nadd);
}

/* Does the cache miss something a row of this batch names? */
static bool batch_schema_misses(const struct batch *b)
{
	const struct table_schema *s = b->g->tschema;
	size_t i;
	bool in_target;

	if (!s->exists)
		return true;
	for (i = 0; i < b->n; i++) {
		const struct row *r = b->rows[i];
		if (!group_colset_resolve(b->g, r->colset) ||
		    first_missing(s, r->returning, r->n_returning) ||
		    conflict_missing(s, r->conflict, &in_target))
			return true;
	}
	return false;
}

/* Refetch the schema before this attempt? */
static bool batch_needs_schema(const struct batch *b)
{
	const struct table_schema *s = b->g->tschema;
	size_t i;

	if (!s || b->g->schema_stale)
		return true;
	if (b->schema_fetched || !batch_schema_misses(b))
		return false;
	/* only if some row arrived after the cache was filled: no refetch storms */
	for (i = 0; i < b->n; i++)
		if (b->rows[i]->accepted_at > s->fetched_at)
			return true;
	return false;
}

/* Fail rows naming a table or columns the database does not have. */
static bool row_validate(struct batch *b, struct row *r)
{
	const struct table_schema *s = b->g->tschema;
	const char *m;
	bool in_target;

	/* PostgreSQL's own codes and messages for what a direct INSERT would name */
	if (!s->exists) {
		errdata_set(&r->error, "42P01", "relation \"%s\" does not exist", b->g->display);
	} else if (!group_colset_resolve(b->g, r->colset)) {
		errdata_set(&r->error, "42703", "column \"%s\" of relation \"%s\" does not exist",
			    r->colset->names[r->colset->missing], s->relname);
	} else if ((m = first_missing(s, r->returning, r->n_returning))) {
		errdata_set(&r->error, "42703", "column \"%s\" does not exist", m);
	} else if ((m = conflict_missing(s, r->conflict, &in_target))) {
		if (in_target)
			errdata_set(&r->error, "42703", "column \"%s\" does not exist", m);
		else
			errdata_set(&r->error, "42703", "column \"%s\" of relation \"%s\" does not exist",
				    m, s->relname);
	}
	if (errdata_is_set(&r->error))
		r->outcome = ROW_FAILED;
	return r->outcome != ROW_FAILED;
}

/* Validate rows; false if none is left to write (the batch is then finished). */
static bool batch_validate(struct batch *b)
{
	size_t i, left = 0;

	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome == ROW_PENDING && row_validate(b, b->rows[i]))
			left++;
	if (left)
		return true;
	b->committed = false;
	batch_finish(b);
	return false;
}

/* ---- building INSERTs ---- */

/*
 * Queue one INSERT for the rows of part `p`. Returns false if it could not
 * be queued (the connection is broken: on_lost follows).
 */
static bool batch_send_part(struct batch *b, int tag, size_t arg, const struct part *p)
{
	const struct table_schema *s = b->g->tschema;
	struct colset *cs = p->cs;
	struct sqlbuild_opts o = { .returning = p->returning, .conflict = p->conflict, .keyed = p->keyed };
	size_t ncol = cs->n ? cs->n : !p->keyed, np = ncol + (p->keyed ? 2 : 0), i;
	const int *col_index = cs->col_index;
	struct row **rows = pgc_malloc(p->n * sizeof(*rows));
	struct buf *params = pgc_calloc(np, sizeof(*params));
	const char **values = pgc_malloc(np * sizeof(*values));
	struct buf sql;
	bool ok;

	buf_init(&sql);
	for (i = 0; i < p->n; i++)
		rows[i] = b->rows[p->idx[i]];
	group_colset_resolve(b->g, cs); /* validated: every name resolves */
	ok = sqlbuild_insert(&sql, b->pc->pg, s, cs, col_index, &o);
	if (!ok) /* the caller stops sending: the loss it expects on false must come */
		pgconn_break(b->pc, "an identifier could not be quoted for the database connection");
	for (i = 0; ok && i < ncol; i++) {
		if (cs->n)
			sqlbuild_array_param(&params[i], rows, p->n, i, &s->columns[col_index[i]]);
		else
			sqlbuild_count_param(&params[i], p->n);
		values[i] = buf_cstr(&params[i]);
	}
	if (p->keyed) {
		sqlbuild_key_param(&params[ncol], rows, p->n);
		values[ncol] = buf_cstr(&params[ncol]);
		values[ncol + 1] = b->token;
	}
	ok = ok && pgconn_send_prepared(b->pc, tag, arg, buf_cstr(&sql), (int)np, values);
	for (i = 0; i < np; i++)
		buf_free(&params[i]);
	buf_free(&sql);
	free(params);
	free(values);
	free(rows);
	return ok;
}

/* One row as a part of its own (isolating). */
static struct part row_part(const struct batch *b, size_t *i)
{
	const struct row *r = b->rows[*i];
	struct part p = {
		.cs = r->colset, .returning = row_wants_returning(r), .conflict = r->conflict,
		.keyed = r->key != NULL, .idx = i, .n = 1,
	};
	return p;
}

/*
 * How often each conflict key was seen in the current run of upserts
 * (batch_partition): a row's round. Keys are the target columns' values
 * as the client wrote them; two rows whose keys are equal to PostgreSQL
 * but written differently (1 and 1.0) may share a round: their statement
 * then raises 21000 and the batch is isolated row by row, which runs them
 * in order.
 */
struct round_map {
	struct round_slot { size_t off, len, count; unsigned gen; } *slots;
	size_t     mask;
	unsigned   gen;     /* slots of older runs are empty */
	struct buf texts;   /* the keys' texts */
	struct buf key;     /* scratch */
};

static void round_map_init(struct round_map *m, size_t rows)
{
	size_t cap = 16;

	while (cap < 2 * rows)
		cap *= 2;
	m->slots = pgc_calloc(cap, sizeof(*m->slots));
	m->mask = cap - 1;
	m->gen = 0;
	buf_init(&m->texts);
	buf_init(&m->key);
}

static void round_map_free(struct round_map *m)
{
	free(m->slots);
	buf_free(&m->texts);
	buf_free(&m->key);
}

static void round_map_new_run(struct round_map *m)
{
	m->gen++;
	buf_reset(&m->texts);
}

/* The row's key text in m->key; false if a target column is NULL (such keys never conflict). */
static bool round_key(struct round_map *m, const struct row *r)
{
	const struct conflict *c = r->conflict;
	size_t t, vi;

	buf_reset(&m->key);
	for (t = 0; t < c->ntarget; t++) {
		for (vi = 0; vi < r->colset->n; vi++)
			if (strcmp(r->colset->names[vi], c->target[t]) == 0)
				break;
		/* request.c makes the target columns part of the row */
		assert(vi < r->colset->n);
		if (r->values[vi].kind == VALUE_NULL)
			return false;
		buf_printf(&m->key, "%zu:", r->values[vi].len);
		buf_append(&m->key, r->values[vi].text, r->values[vi].len);
	}
	return true;
}

/* The row's round: how many rows of the run had its key before it. */
static size_t round_of(struct round_map *m, const struct row *r)
{
	size_t h = 1469598103934665603ULL, i;
	struct round_slot *sl;

	if (!round_key(m, r))
		return 0;
	for (i = 0; i < m->key.len; i++)
		h = (h ^ (unsigned char)m->key.data[i]) * 1099511628211ULL;
	for (i = h & m->mask;; i = (i + 1) & m->mask) {
		sl = &m->slots[i];
		if (sl->gen != m->gen) {
			sl->gen = m->gen;
			sl->off = m->texts.len;
			sl->len = m->key.len;
			sl->count = 1;
			buf_append(&m->texts, m->key.data, m->key.len);
			return 0;
		}
		if (sl->len == m->key.len && memcmp(m->texts.data + sl->off, m->key.data, sl->len) == 0)
			return sl->count++;
	}
}

/* Does any pending row of the batch carry an on_conflict? */
static bool batch_has_conflicts(const struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome == ROW_PENDING && b->rows[i]->conflict)
			return true;
	return false;
}

/*
 * The part of pending row i. Plain inserts: one part per (columns,
 * RETURNING). With upserts in the batch, their order matters: parts are
 * runs of consecutive rows alike (columns, RETURNING, on_conflict), in
 * arrival order, and a run of upserts on columns is cut into rounds (the
 * first row of each key, then the second, ...), each key at most once per
 * statement: rows behave as if they ran one by one, and no statement
 * raises 21000 (cannot affect row a second time). DO NOTHING and
 * constraint targets go one row a statement (conflict_per_row).
 */
static size_t part_for(struct batch *b, size_t i, bool ordered, struct round_map *rm, size_t *run_first,
		       const struct row **run)
{
	const struct row *r = b->rows[i];
	bool ret = row_wants_returning(r);
	size_t k;

	if (!ordered) {
		for (k = 0; k < b->nparts; k++)
			if (b->parts[k].cs == r->colset && b->parts[k].returning == ret)
				return k;
		return k;
	}
	if (!*run || (*run)->colset != r->colset || row_wants_returning(*run) != ret ||
	    (*run)->conflict != r->conflict) {
		*run = r;
		*run_first = b->nparts;
		round_map_new_run(rm);
	}
	if (!r->conflict)
		return *run_first;
	if (conflict_per_row(r->conflict))
		return b->nparts;
	return *run_first + round_of(rm, r);
}

/* Group the batch's pending rows into parts (one INSERT each), in the order they run. */
static void batch_partition(struct batch *b)
{
	size_t *part_of = pgc_malloc((b->n ? b->n : 1) * sizeof(size_t));
	bool ordered = batch_has_conflicts(b);
	const struct row *run = NULL;
	size_t i, k, run_first = 0, off = 0;
	struct round_map rm = { 0 };

	batch_clear_parts(b);
	if (ordered)
		round_map_init(&rm, b->n);
	b->parts = pgc_calloc(b->n ? b->n : 1, sizeof(*b->parts));
	for (i = 0; i < b->n; i++) {
		struct row *r = b->rows[i];
		part_of[i] = NO_ROW;
		if (r->outcome != ROW_PENDING)
			continue;
		k = part_for(b, i, ordered, &rm, &run_first, &run);
		assert(k <= b->nparts);
		if (k == b->nparts) {
			b->parts[k].cs = r->colset;
			b->parts[k].returning = row_wants_returning(r);
			b->parts[k].conflict = r->conflict;
			b->nparts++;
		}
		b->parts[k].n++;
		b->parts[k].keyed |= r->key != NULL;
		part_of[i] = k;
	}
	b->part_rows = pgc_malloc((b->n ? b->n : 1) * sizeof(size_t));
	for (k = 0; k < b->nparts; k++) {
		b->parts[k].idx = b->part_rows + off;
		off += b->parts[k].n;
		b->parts[k].n = 0;
	}
	for (i = 0; i < b->n; i++)
		if (part_of[i] != NO_ROW) {
			struct part *p = &b->parts[part_of[i]];
			p->idx[p->n++] = i;
		}
	round_map_free(&rm);
	free(part_of);
}

/* An upsert returned a row count that does not say which row did what: isolate (row by row). */
static void batch_unmapped(struct batch *b, const struct part *p, int returned, size_t expected)
{
	if (b->err != ERR_NONE)
		return;
	errdata_set(&b->error, "XX000", "an INSERT ... ON CONFLICT on table \"%s\" returned %d rows for "
		    "%zu rows (a trigger skipped some?)", b->g->display, returned, expected);
	b->err = ERR_ROW;
}

/*
 * Mark the rows of part `p` written, with what their statement returned:
 * RETURNING data in row order, and for upserts whether each inserted or
 * updated. Rows whose key was already stored (duplicates) were not in it.
 */
static void batch_part_written(struct batch *b, const PGresult *res, const struct part *p)
{
	size_t i, expected = 0, t = 0;
	int nt = PQntuples(res);
	bool have;
	unsigned long dropped;

	for (i = 0; i < p->n; i++)
		expected += b->rows[p->idx[i]]->action != ACTION_DUPLICATE;
	/* one row and nothing returned: it did nothing (DO NOTHING, or a trigger said so) */
	if (p->conflict && (size_t)nt != expected && !(expected == 1 && nt == 0)) {
		batch_unmapped(b, p, nt, expected);
		return;
	}
	have = (size_t)nt == expected;
	for (i = 0; i < p->n; i++) {
		struct row *r = b->rows[p->idx[i]];
		buf_reset(&r->returned);
		r->outcome = ROW_WRITTEN;
		if (r->action == ACTION_DUPLICATE)
			continue;
		if (p->conflict && !have) {
			r->action = ACTION_NOTHING;
			continue;
		}
		if (p->conflict)
			r->action = PQgetvalue(res, (int)t, 0)[0] == 't' ? ACTION_INSERT : ACTION_UPDATE;
		if (have && row_wants_returning(r))
			ack_returning_object(&r->returned, res, (int)t, p->conflict ? 1 : 0, r);
		t++;
	}
	if (p->returning && !have && !p->conflict &&
	    log_limit_check(&b->g->warn_limit, ev_now(b->env->loop), WARN_EVERY, &dropped))
		log_warn("RETURNING row count differs from rows inserted (a trigger skipped rows?)",
			 "table=%s rows=%zu returned=%d suppressed=%lu", log_q(b->g->display), expected,
			 nt, dropped);
}

/* ---- idempotency keys (keys.h) ---- */

/* Does a pending row carry a key? */
static bool batch_has_keys(const struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome == ROW_PENDING && b->rows[i]->key)
			return true;
	return false;
}

/*
 * Store the keys of the pending rows rows[from..to) (EXEC: all of them;
 * ISOLATE: one) before their INSERTs, with this attempt's token.
 */
static bool batch_send_keys(struct batch *b, int tag, size_t from, size_t to)
{
	struct row **rows = pgc_malloc((to - from) * sizeof(*rows));
	const char *params[2];
	struct buf keys;
	size_t i, n = 0;
	bool ok = true;

	for (i = from; i < to; i++)
		if (b->rows[i]->outcome == ROW_PENDING && b->rows[i]->key)
			rows[n++] = b->rows[i];
	if (n) {
		buf_init(&keys);
		sqlbuild_key_param(&keys, rows, n);
		params[0] = buf_cstr(&keys);
		params[1] = b->token;
		ok = pgconn_send_prepared(b->pc, tag, from, keys_insert_query, 2, params);
		buf_free(&keys);
	}
	free(rows);
	return ok;
}

/*
 * The keys statement of rows[from..to) returned the keys it stored, in
 * order: the pending keyed rows whose key is not among them are
 * duplicates (stored before, by a committed transaction: ours waited for
 * any other writer of the key to end).
 */
static void batch_keys_result(struct batch *b, const PGresult *res, size_t from, size_t to)
{
	const char *code;
	int nt, t = 0;
	size_t i;

	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
		return;
	if (!result_ok(res)) {
		code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (code && (strcmp(code, "42P01") == 0 || strcmp(code, "3F000") == 0))
			b->env->keys_ready = false; /* the key table is gone: set it up again */
		batch_note_error(b, res);
		return;
	}
	nt = PQntuples(res);
	for (i = from; i < to; i++) {
		struct row *r = b->rows[i];
		if (r->outcome != ROW_PENDING || !r->key)
			continue;
		if (t < nt && (size_t)PQgetlength(res, t, 0) == r->key_len &&
		    memcmp(PQgetvalue(res, t, 0), r->key, r->key_len) == 0)
			t++;
		else
			r->action = ACTION_DUPLICATE;
	}
	if (t != nt && b->err == ERR_NONE) {
		errdata_set(&b->error, "XX000", "the idempotency keys stored do not match the rows' keys");
		b->err = ERR_ROW;
	}
}

/* The key table's setup (SCHEMA) answered: ready, or the keyed rows fail with why. */
static void batch_keys_setup_result(struct batch *b, const PGresult *res)
{
	/* another session creating the table at the same moment: try again */
	static const char *const race[] = { "23505", "42P06", "42P07" };
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	struct errdata e = { 0 };
	size_t i;

	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
		return;
	if (result_ok(res)) {
		b->env->keys_ready = true;
		return;
	}
	if (classify(b, res) == ERR_TRANSIENT || (code && code_in(code, race, 3))) {
		batch_note_error(b, res);
		b->err = ERR_TRANSIENT;
		return;
	}
	errdata_from_result(&e, res);
	free(e.hint);
	e.hint = pgc_strdup(keys_setup_hint);
	log_warn("idempotency key table unavailable: keyed rows fail", "table=%s sqlstate=%s error=%s",
		 log_q(b->g->display), e.code, log_q(e.message));
	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome == ROW_PENDING && b->rows[i]->key)
			row_set_failed(b->rows[i], &e);
	errdata_clear(&e);
}

/* A row of the batch whose key this attempt stored, and that was written: the in-doubt probe's. */
static const struct row *batch_probe_row(const struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		const struct row *r = b->rows[i];
		if (r->key && r->outcome == ROW_WRITTEN && r->action != ACTION_DUPLICATE)
			return r;
	}
	return NULL;
}

/* ---- attempts ---- */

static void batch_reset_attempt(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		b->rows[i]->outcome = ROW_PENDING;
		b->rows[i]->action = ACTION_NONE_YET;
		buf_reset(&b->rows[i]->returned);
		errdata_clear(&b->rows[i]->error);
	}
	b->err = ERR_NONE;
	errdata_clear(&b->error);
	b->committed = false;
	b->xact_aborted = false;
	b->xid[0] = '\0';
	b->lost_last = false;
	b->deadline_hit = false;
	b->own_timeout = false;
	b->schema_fetched = false;
	b->copying = false;
	b->iso_failed = NO_ROW;
}

/*
 * Ask pg_xact_status about the in-doubt transaction, and the key table
 * whether a key the attempt stored is there (for when pg_xact_status
 * cannot tell: batch_resolve_key_result).
 */
static void batch_resolve(struct batch *b)
{
	const char *params[1] = { b->xid };
	const struct row *probe = batch_probe_row(b);
	const char *kparams[2] = { probe ? probe->key : NULL, b->token };

	batch_set_state(b, BATCH_RESOLVE);
	b->err = ERR_NONE;
	errdata_clear(&b->error);
	if (pgconn_send(b->pc, T_RESOLVE, 0, resolve_query, 1, params) &&
	    (!probe || pgconn_send(b->pc, T_RESOLVE_KEY, 0, keys_probe_query, 2, kparams)))
		pgconn_sync(b->pc, T_SYNC, 0);
}

void batch_start(struct batch *b, struct pgconn *pc)
{
	double until;

	assert(b->state == BATCH_QUEUED || b->state == BATCH_IN_DOUBT);
	pgconn_acquire(pc, b);
	b->pc = pc;
	until = b->state == BATCH_IN_DOUBT ? b->resolve_deadline : batch_deadline(b) + DEADLINE_GRACE;
	ev_timer_set(&b->watchdog, fmax(until - ev_now(b->env->loop), 0.01), 0.);
	ev_timer_start(b->env->loop, &b->watchdog);
	if (b->state == BATCH_IN_DOUBT)
		batch_resolve(b);
	else
		batch_attempt(b);
}

/*
 * A new attempt on the connection the batch holds: first the schema if
 * stale, and the key table's setup if keyed rows come before it is known
 * to exist (the catalog query first: a failed setup must not abort it).
 */
static void batch_attempt(struct batch *b)
{
	const char *params[2];
	bool catalog, keys;

	batch_reset_attempt(b);
	catalog = batch_needs_schema(b);
	keys = !b->env->keys_ready && batch_has_keys(b);
	if (catalog || keys) {
		batch_set_state(b, BATCH_SCHEMA);
		params[0] = b->g->schema;
		params[1] = b->g->table;
		if ((!catalog || pgconn_send(b->pc, T_SCHEMA, 0, schema_catalog_query, 2, params)) &&
		    (!keys || pgconn_send(b->pc, T_KEYS_SETUP, 0, keys_setup_query, 0, NULL)))
			pgconn_sync(b->pc, T_SYNC, 0);
		return;
	}
	if (b->isolate)
		batch_isolate_start(b);
	else
		batch_exec(b);
}

/* Start over on the same connection (its pipeline is empty). */
static void batch_restart(struct batch *b)
{
	pgconn_reuse(b->pc, b);
	batch_attempt(b);
}

/* The oldest row's deadline: its acceptance plus --retry-timeout-ms. */
static double batch_deadline(const struct batch *b)
{
	double oldest = b->n ? b->rows[0]->accepted_at : ev_now(b->env->loop);
	size_t i;

	for (i = 1; i < b->n; i++)
		if (b->rows[i]->accepted_at < oldest)
			oldest = b->rows[i]->accepted_at;
	return oldest + b->env->cfg->retry_timeout;
}

/*
 * The attempt's statement_timeout, in ms: half of DEADLINE_GRACE past the
 * oldest row's deadline, unless the session's own statement_timeout is
 * shorter (then a 57014 is the statement's, not ours: b->own_timeout).
 */
static long batch_statement_timeout(struct batch *b)
{
	double left = batch_deadline(b) - ev_now(b->env->loop);
	long ms = (long)((left > 0 ? left : 0) * 1000.0 + DEADLINE_GRACE * 500.0);
	long session = b->pc->statement_timeout_ms;

	b->own_timeout = !session || ms < session;
	return b->own_timeout ? ms : session;
}

/* What an attempt's transaction is known by: its token and the server's crash epoch. */
static void batch_mark_attempt(struct batch *b)
{
	/* unique to this attempt: the keys it stores carry it (keys.h) */
	snprintf(b->token, sizeof(b->token), "%016llx.%llu", (unsigned long long)b->env->token_base,
		 (unsigned long long)++b->env->token_seq);
	b->epoch_id = b->pc->epoch_id;
}

/*
 * Open the transaction and learn its id before anything can commit. The
 * xid statement also sets the transaction's statement_timeout (the rows'
 * deadline), so a statement stuck behind a lock is canceled in time.
 */
static bool batch_begin(struct batch *b, bool immediate_constraints)
{
	struct pgconn *pc = b->pc;
	char timeout[32];
	const char *params[1] = { timeout };

	snprintf(timeout, sizeof(timeout), "%ld", batch_statement_timeout(b));
	batch_mark_attempt(b);
	return pgconn_send(pc, T_BEGIN, 0, "BEGIN", 0, NULL) &&
	       (!immediate_constraints ||
		pgconn_send(pc, T_SETCONS, 0, "SET CONSTRAINTS ALL IMMEDIATE", 0, NULL)) &&
	       pgconn_send_prepared(pc, T_XID, 0, xid_query, 1, params);
}

/*
 * Queue the schema check (schema.h): after the INSERTs, whose locks keep
 * the relation as it is, so what it sees is what they wrote into.
 */
static bool batch_send_check(struct batch *b)
{
	const char *params[2] = { b->g->schema, b->g->table };

	return pgconn_send_prepared(b->pc, T_CHECK, 0, schema_check_query, 2, params);
}

/*
 * Can every part go by COPY (sqlbuild.h)? Only plain rows of a table COPY
 * writes as INSERT does, and never while isolating: rows one by one are
 * always INSERTs, so a row's error is exactly a direct INSERT's.
 */
static bool batch_copy_ok(struct batch *b)
{
	const struct table_schema *s = b->g->tschema;
	size_t k, i;

	if (b->env->cfg->write_path != WRITE_COPY || b->isolate || b->g->copy_off || !s->copy_ok)
		return false;
	for (k = 0; k < b->nparts; k++) {
		const struct part *p = &b->parts[k];
		if (!p->cs->n || p->returning || p->conflict || p->keyed)
			return false;
		group_colset_resolve(b->g, p->cs);
		for (i = 0; i < p->cs->n; i++)
			if (s->columns[p->cs->col_index[i]].no_copy)
				return false;
	}
	return true;
}

/* Part p's COPY statement into `sql`, its data into `data`. */
static bool batch_copy_part(struct batch *b, const struct part *p, struct buf *sql, struct buf *data)
{
	struct row **rows = pgc_malloc(p->n * sizeof(*rows));
	size_t i;
	bool ok;

	for (i = 0; i < p->n; i++)
		rows[i] = b->rows[p->idx[i]];
	ok = sqlbuild_copy(sql, b->pc->pg, b->g->tschema, p->cs);
	sqlbuild_copy_data(data, rows, p->n, b->g->tschema, p->cs->col_index, p->cs->n);
	free(rows);
	return ok;
}

/*
 * batch_exec by COPY: the same steps in one script (pgconn.h: COPY cannot
 * run in a pipeline), each result tagged as its pipelined twin's, so the
 * rest of the machine cannot tell them apart: BEGIN; the xid and the
 * statement_timeout; a COPY per part; the schema check. The xid and check
 * statements are the pipeline's prepared ones: planning the check anew
 * would cost PostgreSQL more than a hundred-row COPY.
 */
static void batch_exec_copy(struct batch *b)
{
	struct pgconn_step *steps = pgc_calloc(b->nparts + 3, sizeof(*steps));
	struct buf *sql = pgc_calloc(b->nparts, sizeof(*sql)), *data = pgc_calloc(b->nparts, sizeof(*data));
	const char *check[2] = { b->g->schema, b->g->table };
	const char *timeout[1];
	char ms[32];
	size_t k, n = 0;
	bool ok = true;

	b->copying = true;
	batch_mark_attempt(b);
	snprintf(ms, sizeof(ms), "%ld", batch_statement_timeout(b));
	timeout[0] = ms;
	steps[n++] = (struct pgconn_step){ .tag = T_BEGIN, .sql = "BEGIN" };
	steps[n++] = (struct pgconn_step){ .tag = T_XID, .sql = xid_query, .prepare = true,
					   .nparams = 1, .values = timeout };
	for (k = 0; ok && k < b->nparts; k++) {
		ok = batch_copy_part(b, &b->parts[k], &sql[k], &data[k]);
		steps[n++] = (struct pgconn_step){ .tag = T_INSERT, .arg = k, .sql = buf_cstr(&sql[k]),
						   .copy = &data[k] };
	}
	steps[n++] = (struct pgconn_step){ .tag = T_CHECK, .sql = schema_check_query, .prepare = true,
					   .nparams = 2, .values = check };
	if (!ok) /* the caller stops sending: the loss it expects on false must come */
		pgconn_break(b->pc, "an identifier could not be quoted for the database connection");
	else
		pgconn_send_script(b->pc, steps, n, T_SYNC, 0);
	for (k = 0; k < b->nparts; k++) {
		buf_free(&sql[k]);
		buf_free(&data[k]);
	}
	free(sql);
	free(data);
	free(steps);
}

static void batch_exec(struct batch *b)
{
	size_t k;

	if (!batch_validate(b))
		return;
	batch_partition(b);
	batch_set_state(b, BATCH_EXEC);
	if (batch_copy_ok(b)) {
		batch_exec_copy(b);
		return;
	}
	if (!batch_begin(b, false) || !batch_send_keys(b, T_KEYS, 0, b->n))
		return;
	for (k = 0; k < b->nparts; k++)
		if (!batch_send_part(b, T_INSERT, k, &b->parts[k]))
			return;
	if (batch_send_check(b))
		pgconn_sync(b->pc, T_SYNC, 0);
}

static void batch_commit(struct batch *b)
{
	batch_set_state(b, BATCH_COMMIT);
	if (pgconn_send(b->pc, T_COMMIT, 0, "COMMIT", 0, NULL))
		pgconn_sync(b->pc, T_SYNC, 0);
}

/* The attempt failed with its transaction open: roll back, then `after`. */
static void batch_rollback(struct batch *b)
{
	switch (b->err) {
	case ERR_TRANSIENT:
		b->after = AFTER_RETRY;
		break;
	case ERR_SCHEMA:
		/* still failing after a fresh schema: maybe some row's doing after all */
		b->after = b->schema_retries < 2 ? AFTER_REFRESH : b->isolate ? AFTER_FAIL : AFTER_ISOLATE;
		break;
	case ERR_ROW:
		b->after = b->isolate ? AFTER_FAIL : AFTER_ISOLATE;
		break;
	default:
		b->after = AFTER_FAIL;
		break;
	}
	batch_set_state(b, BATCH_ROLLBACK);
	if (pgconn_send(b->pc, T_ROLLBACK, 0, "ROLLBACK", 0, NULL))
		pgconn_sync(b->pc, T_SYNC, 0);
}

/* The rollback is done: continue as decided in batch_rollback. */
static void batch_after_rollback(struct batch *b)
{
	switch (b->after) {
	case AFTER_RETRY:
		batch_retry_later(b);
		break;
	case AFTER_REFRESH:
		b->schema_retries++;
		b->g->schema_stale = true;
		pgconn_forget_statements(b->pc);
		batch_restart(b);
		break;
	case AFTER_ISOLATE:
		b->isolate = true;
		batch_restart(b);
		break;
	case AFTER_FAIL:
		batch_fail_all(b, &b->error);
		break;
	}
}

/* ---- isolating bad rows: a savepoint per row, one transaction ---- */

static void batch_isolate_window(struct batch *b)
{
	struct pgconn *pc = b->pc;
	size_t sent = 0, i;

	b->iso_end = NO_ROW;
	for (i = b->iso_pos; i < b->n && sent < ISOLATE_WINDOW; i++) {
		struct row *r = b->rows[i];
		struct part p = row_part(b, &i);
		if (r->outcome != ROW_PENDING || !row_validate(b, r))
			continue;
		if (!pgconn_send(pc, T_SAVEPOINT, i, "SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !batch_send_keys(b, T_ISO_KEYS, i, i + 1) ||
		    !batch_send_part(b, T_ISO_INSERT, i, &p) ||
		    !pgconn_send(pc, T_RELEASE, i, "RELEASE SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !pgconn_sync(pc, T_SYNC, i))
			return;
		b->iso_end = i;
		sent++;
	}
	if (!sent) {
		/* every row tried: check the table, then COMMIT (batch_isolate_sync) */
		b->iso_end = ISO_CHECK;
		if (batch_send_check(b))
			pgconn_sync(pc, T_SYNC, ISO_CHECK);
	}
}

static void batch_isolate_start(struct batch *b)
{
	batch_set_state(b, BATCH_ISOLATE);
	b->iso_pos = 0;
	b->iso_failed = NO_ROW;
	/* deferred constraints would only fail at COMMIT, for no row in particular */
	if (!batch_begin(b, true) || !pgconn_sync(b->pc, T_SYNC, NO_ROW))
		return;
	batch_isolate_window(b);
}

static void batch_isolate_insert_result(struct batch *b, size_t i, const PGresult *res)
{
	struct row *r = b->rows[i];
	struct part p = row_part(b, &i);
	enum err_class cls;

	if (b->iso_failed != NO_ROW || b->err != ERR_NONE)
		return; /* aborted along with an earlier row of the window */
	if (result_ok(res)) {
		batch_part_written(b, res, &p);
		return;
	}
	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
		return;
	/*
	 * A changed table is no row's doing, and a COPY may have hidden the
	 * change (it names no type: a renamed one still works): refetch the
	 * schema before blaming a row for what a stale one causes (42704).
	 */
	cls = classify(b, res);
	if (cls == ERR_TRANSIENT || (cls == ERR_SCHEMA && b->schema_retries < 2)) {
		batch_note_error(b, res);
		return;
	}
	errdata_from_result(&r->error, res);
	r->outcome = ROW_FAILED;
	b->iso_failed = i;
}

/*
 * Row i's key statement while isolating. Its error is the row's own (a
 * lock on its key held past statement_timeout, a privilege or a trigger on
 * the key table): the row fails alone, as its INSERT's error would. A
 * transient error, a changed table or the key table gone (batch_keys_result
 * sets it up again) still concern the whole batch.
 */
static void batch_isolate_keys_result(struct batch *b, size_t i, const PGresult *res)
{
	struct row *r = b->rows[i];
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (b->iso_failed != NO_ROW || b->err != ERR_NONE)
		return; /* aborted along with an earlier row of the window */
	if (result_ok(res) || PQresultStatus(res) == PGRES_PIPELINE_ABORTED || !code ||
	    strcmp(code, "3F000") == 0 || classify(b, res) != ERR_ROW) {
		batch_keys_result(b, res, i, i + 1);
		return;
	}
	errdata_from_result(&r->error, res);
	if (strcmp(code, "42501") == 0) {
		free(r->error.hint);
		r->error.hint = pgc_strdup(keys_setup_hint);
	}
	r->outcome = ROW_FAILED;
	b->iso_failed = i;
}

/*
 * A Sync while isolating: the header's (NO_ROW) only ends BEGIN/xid, its
 * errors surface with the window's last Sync; the window's last one
 * recovers from a failed row and sends the next window.
 */
static void batch_isolate_sync(struct batch *b, size_t arg)
{
	if (arg == NO_ROW || arg != b->iso_end)
		return;
	if (b->err != ERR_NONE) {
		batch_rollback(b);
		return;
	}
	if (arg == ISO_CHECK) {
		batch_commit(b);
		return;
	}
	if (b->iso_failed != NO_ROW) {
		b->iso_pos = b->iso_failed + 1;
		b->iso_failed = NO_ROW;
		if (!pgconn_send(b->pc, T_RECOVER, 0, "ROLLBACK TO SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !pgconn_send(b->pc, T_RECOVER, 0, "RELEASE SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !pgconn_sync(b->pc, T_SYNC_RECOVER, NO_ROW))
			return;
	} else {
		b->iso_pos = b->iso_end + 1;
	}
	batch_isolate_window(b);
}

/* ---- retries and in-doubt resolution ---- */

static void batch_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct batch *b = w->data;

	batch_set_state(b, BATCH_QUEUED);
	batch_enqueue(b);
}

static void batch_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	batch_enqueue(w->data); /* still IN_DOUBT: asks again on the next idle connection */
}

/* Rows of `g` failed for waiting past --retry-timeout-ms: warn, at most every WARN_EVERY. */
static void warn_expired(struct batch_env *env, struct group *g, size_t rows, const char *code)
{
	unsigned long dropped;

	if (rows && log_limit_check(&g->expire_limit, ev_now(env->loop), WARN_EVERY, &dropped))
		log_warn("rows failed: not written within --retry-timeout-ms", "table=%s rows=%zu sqlstate=%s "
			 "error=%s suppressed=%lu", log_q(g->display), rows, code, log_q(env->pool->last_error),
			 dropped);
}

/*
 * Fail rows past --retry-timeout-ms with PC006, naming the last failure (a
 * lost connection, or the transient error); returns the number left.
 */
static size_t batch_expire_rows(struct batch *b, double now)
{
	struct batch_env *env = b->env;
	bool lost = b->lost_last || b->err == ERR_NONE || !errdata_is_set(&b->error);
	struct errdata e = { 0 };
	size_t i, kept = 0;

	if (b->deadline_hit)
		errdata_set_pc(&e, PC_DATABASE_UNAVAILABLE,
			       "not written within --retry-timeout-ms (%.0f ms): the statement on table \"%s\" "
			       "was still running at the rows' deadline (waiting for a lock?) and was canceled: %s",
			       env->cfg->retry_timeout * 1000.0, b->g->display,
			       lost ? env->pool->last_error : b->error.message);
	else if (lost)
		errdata_set_pc(&e, PC_DATABASE_UNAVAILABLE,
			       "database unavailable for --retry-timeout-ms (%.0f ms): %s",
			       env->cfg->retry_timeout * 1000.0, env->pool->last_error);
	else
		errdata_set_pc(&e, PC_DATABASE_UNAVAILABLE,
			       "not written within --retry-timeout-ms (%.0f ms); last error: %s %s",
			       env->cfg->retry_timeout * 1000.0, b->error.code, b->error.message);
	for (i = 0; i < b->n; i++) {
		struct row *r = b->rows[i];
		if (now - r->accepted_at < env->cfg->retry_timeout)
			b->rows[kept++] = r;
		else
			ledger_fail(env->ledger, r, b->g, &e);
	}
	warn_expired(env, b->g, b->n - kept, lost || b->deadline_hit ? e.code : b->error.code);
	errdata_clear(&e);
	b->n = kept;
	return kept;
}

/* A transient failure, the connection released or lost: retry after a backoff. */
static void batch_retry_later(struct batch *b)
{
	struct batch_env *env = b->env;
	double delay;

	batch_release_conn(b);
	if (env->abandoned || env->no_retry) {
		batch_fail_all_pc(b, PC_SHUTTING_DOWN, env->abandoned ?
				  "shutdown timeout reached before the row was written" :
				  "stopped by a second signal before the row was written");
		return;
	}
	env->stats->retries++;
	b->retries++;
	batch_set_state(b, BATCH_BACKOFF);
	if (!batch_expire_rows(b, ev_now(env->loop))) {
		batch_set_state(b, BATCH_DONE);
		batch_free(b);
		return;
	}
	delay = b->backoff * (0.8 + 0.4 * ((double)rand() / RAND_MAX));
	ev_timer_stop(env->loop, &b->timer);
	ev_set_cb(&b->timer, batch_backoff_cb);
	ev_timer_set(&b->timer, delay, 0.);
	ev_timer_start(env->loop, &b->timer);
	b->backoff = fmin(b->backoff * 2, RETRY_BACKOFF_MAX);
	log_debug("batch retry scheduled", "table=%s rows=%zu in_s=%.3f", log_q(b->g->display),
		  b->n, delay);
}

/* The connection died while COMMIT was in flight. */
static void batch_in_doubt(struct batch *b)
{
	struct batch_env *env = b->env;

	if (b->committed) {
		batch_finish(b);
		return;
	}
	if (env->abandoned || !b->xid[0]) {
		batch_fail_all_pc(b, PC_COMMIT_UNKNOWN,
				  "connection lost during COMMIT; the row may or may not be committed");
		return;
	}
	log_warn("connection lost during COMMIT: checking the outcome", "table=%s rows=%zu xid=%s",
		 log_q(b->g->display), b->n, b->xid);
	/* the rows' answer is due at their deadline plus the grace, COMMIT's fate or not */
	b->resolve_deadline = fmax(ev_now(env->loop), batch_deadline(b)) + DEADLINE_GRACE;
	batch_set_state(b, BATCH_IN_DOUBT);
	batch_enqueue(b);
}

/*
 * What pg_xact_status says about the batch's transaction. Across a crash
 * (pgpool_xid_fate) the xid may belong to another transaction now: a lost
 * xid means ours did not commit; with the horizon unknown, "committed" can
 * no longer be told apart from someone else's commit (in doubt for good),
 * while "aborted" or "future" still mean ours did not commit.
 */
static void batch_resolve_result(struct batch *b, const PGresult *res)
{
	enum pgpool_xid_fate fate = pgpool_xid_fate(b->env->pool, b->epoch_id, strtoull(b->xid, NULL, 10));
	const char *status;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		batch_note_error(b, res);
		return;
	}
	if (fate == PGPOOL_XID_LOST) {
		b->xact_aborted = true; /* not durable when the server crashed: never committed */
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		b->err = ERR_UNKNOWABLE; /* too old to know: in doubt for good */
		return;
	}
	status = PQgetvalue(res, 0, 0);
	if (strcmp(status, "aborted") == 0 || strcmp(status, "future") == 0)
		b->xact_aborted = true;
	else if (strcmp(status, "committed") == 0 && fate == PGPOOL_XID_UNKNOWN)
		b->err = ERR_UNKNOWABLE;
	else if (strcmp(status, "committed") == 0)
		b->committed = true;
	/* else in progress: ask again */
}

/*
 * pg_xact_status could not tell (b->err is ERR_UNKNOWABLE: the server
 * crashed since, or the xid is too old): the key the attempt stored is
 * there iff its transaction committed, and that transaction has ended
 * (a crash ended it, or it is long past).
 */
static void batch_resolve_key_result(struct batch *b, const PGresult *res)
{
	bool there;

	if (b->err != ERR_UNKNOWABLE || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return;
	there = PQgetvalue(res, 0, 0)[0] == 't';
	b->err = ERR_NONE;
	b->committed = there;
	b->xact_aborted = !there;
	log_info("in-doubt commit settled by its idempotency keys", "table=%s xid=%s committed=%s",
		 log_q(b->g->display), b->xid, there ? "yes" : "no");
}

/* Wait a little, then ask again (still in doubt). */
static void batch_poll_later(struct batch *b)
{
	struct batch_env *env = b->env;

	batch_set_state(b, BATCH_IN_DOUBT);
	ev_timer_stop(env->loop, &b->timer);
	ev_set_cb(&b->timer, batch_poll_cb);
	ev_timer_set(&b->timer, RESOLVE_POLL, 0.);
	ev_timer_start(env->loop, &b->timer);
}

/* The resolve query's Sync arrived, or its connection was lost. */
static void batch_resolve_done(struct batch *b)
{
	struct batch_env *env = b->env;

	batch_release_conn(b);
	if (b->committed) {
		env->stats->in_doubt_resolved++;
		log_info("in-doubt commit resolved: committed", "table=%s xid=%s", log_q(b->g->display), b->xid);
		batch_finish(b);
	} else if (b->xact_aborted) {
		env->stats->in_doubt_resolved++;
		log_info("in-doubt commit resolved: aborted, retrying", "table=%s xid=%s",
			 log_q(b->g->display), b->xid);
		b->xid[0] = '\0';
		b->lost_last = true;
		batch_retry_later(b);
	} else if (b->err == ERR_UNKNOWABLE || ev_now(env->loop) > b->resolve_deadline) {
		batch_fail_all_pc(b, PC_COMMIT_UNKNOWN,
				  "connection lost during COMMIT and the outcome could not be determined");
	} else {
		batch_poll_later(b); /* still in progress on the old backend, or the check failed */
	}
}

/* ---- results ---- */

static void batch_schema_sync(struct batch *b)
{
	if (b->err == ERR_TRANSIENT) {
		batch_retry_later(b);
	} else if (b->err != ERR_NONE) {
		batch_fail_all(b, &b->error);
	} else {
		b->schema_fetched = true;
		if (b->isolate)
			batch_isolate_start(b);
		else
			batch_exec(b);
	}
}

static void batch_commit_sync(struct batch *b)
{
	if (b->committed) {
		batch_finish(b);
	} else if (b->err == ERR_TRANSIENT) {
		batch_retry_later(b);
	} else if (b->err == ERR_ROW && !b->isolate) {
		b->isolate = true; /* e.g. a deferred constraint */
		batch_restart(b);
	} else {
		batch_fail_all(b, &b->error);
	}
}

/* A Sync arrived: the state says which step it ends. */
static void batch_on_sync(struct batch *b, size_t arg)
{
	switch (b->state) {
	case BATCH_SCHEMA:
		batch_schema_sync(b);
		break;
	case BATCH_EXEC:
		if (b->err != ERR_NONE)
			batch_rollback(b);
		else
			batch_commit(b);
		break;
	case BATCH_ROLLBACK:
		batch_after_rollback(b);
		break;
	case BATCH_ISOLATE:
		batch_isolate_sync(b, arg);
		break;
	case BATCH_COMMIT:
		batch_commit_sync(b);
		break;
	case BATCH_RESOLVE:
		batch_resolve_done(b);
		break;
	default:
		assert(!"a Sync in a state without a connection");
	}
}

static void batch_schema_result(struct batch *b, const PGresult *res)
{
	struct table_schema *s;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		batch_note_error(b, res);
		return;
	}
	s = schema_from_result(res, ev_now(b->env->loop));
	if (s)
		group_set_schema(b->g, s);
}

static void batch_commit_result(struct batch *b, PGresult *res)
{
	/* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK */
	if (result_ok(res) && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
		b->committed = true;
	} else if (result_ok(res)) {
		errdata_set(&b->error, "40000", "the transaction was rolled back at COMMIT");
		b->err = ERR_TRANSIENT;
	} else {
		batch_note_error(b, res);
	}
}

/* The schema check: the table changed since its columns were cached? Refetch, retry. */
static void batch_check_result(struct batch *b, const PGresult *res)
{
	char why[200];

	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED || b->err != ERR_NONE)
		return;
	if (!result_ok(res)) {
		batch_note_error(b, res);
		return;
	}
	if (!schema_check_result(b->g->tschema, res, why, sizeof(why))) {
		errdata_set(&b->error, "55000", "table \"%s\" changed while the row was being written: %s",
			    b->g->display, why);
		b->err = ERR_SCHEMA;
	}
}

/* A part's INSERT, or its COPY if the attempt copies. */
static void batch_insert_result(struct batch *b, size_t k, const PGresult *res)
{
	if (result_ok(res)) {
		b->env->stats->copy_statements += b->copying;
		batch_part_written(b, res, &b->parts[k]);
	} else if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED) {
		batch_note_error(b, res);
		if (b->copying) { /* the attempt's first error: nothing before a COPY fails without aborting it */
			b->env->stats->copy_failed++;
			if (b->err != ERR_TRANSIENT && !b->copy_failed) {
				b->copy_failed = true;
				b->copy_schema_gen = b->g->schema_gen;
				errdata_copy(&b->copy_error, &b->error);
			}
		}
	}
}

void batch_on_result(struct pgconn *pc, void *job, int tag, size_t arg, PGresult *res)
{
	struct batch *b = job;

	assert(b && b->pc == pc && tag_fits_state(tag, b->state));
	if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
		assert(tag == T_SYNC || tag == T_SYNC_RECOVER);
		if (tag == T_SYNC)
			batch_on_sync(b, arg);
		return;
	}
	switch (tag) {
	case T_SCHEMA:
		batch_schema_result(b, res);
		break;
	case T_XID:
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			snprintf(b->xid, sizeof(b->xid), "%s", PQgetvalue(res, 0, 0));
		else
			batch_note_error(b, res);
		break;
	case T_KEYS_SETUP:
		batch_keys_setup_result(b, res);
		break;
	case T_KEYS:
		batch_keys_result(b, res, 0, b->n);
		break;
	case T_ISO_KEYS:
		batch_isolate_keys_result(b, arg, res);
		break;
	case T_INSERT:
		batch_insert_result(b, arg, res);
		break;
	case T_ISO_INSERT:
		batch_isolate_insert_result(b, arg, res);
		break;
	case T_SAVEPOINT: case T_RELEASE:
		/* after a failed row these fail too; only the window's first problem counts */
		if (!result_ok(res) && PQresultStatus(res) != PGRES_PIPELINE_ABORTED &&
		    b->iso_failed == NO_ROW)
			batch_note_error(b, res);
		break;
	case T_COMMIT:
		batch_commit_result(b, res);
		break;
	case T_RESOLVE:
		batch_resolve_result(b, res);
		break;
	case T_RESOLVE_KEY:
		batch_resolve_key_result(b, res);
		break;
	case T_CHECK:
		batch_check_result(b, res);
		break;
	default: /* BEGIN, SET CONSTRAINTS, ROLLBACK, savepoint recovery */
		if (!result_ok(res) && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
			batch_note_error(b, res);
		break;
	}
}

void batch_on_lost(struct pgconn *pc, void *job)
{
	struct batch *b = job;

	assert(b && b->pc == pc);
	b->pc = NULL;
	ev_timer_stop(b->env->loop, &b->watchdog);
	b->lost_last = true;
	switch (b->state) {
	case BATCH_COMMIT:
		batch_in_doubt(b);
		break;
	case BATCH_RESOLVE:
		if (b->env->abandoned)
			batch_fail_all_pc(b, PC_COMMIT_UNKNOWN, "connection lost during COMMIT; outcome unknown");
		else
			batch_resolve_done(b);
		break;
	default: /* COMMIT was never sent: nothing of this attempt is committed */
		batch_retry_later(b);
		break;
	}
}

/* ---- the waiting batches ---- */

void batch_expire_waiting(struct batch_env *env, double now)
{
	struct batch *b, *next;

	for (b = env->waiting; b; b = next) {
		next = b->wait_next;
		if (b->state == BATCH_IN_DOUBT) {
			if (now > b->resolve_deadline)
				batch_fail_all_pc(b, PC_COMMIT_UNKNOWN,
						  "connection lost during COMMIT and the database stayed unreachable");
		} else if (!batch_expire_rows(b, now)) {
			batch_set_state(b, BATCH_DONE);
			batch_free(b);
		}
	}
}

void batch_abandon_all(struct batch_env *env)
{
	struct batch *b;

	env->abandoned = true;
	/*
	 * Dropping a batch's connection ends it through batch_on_lost, which
	 * sees env->abandoned: PC005 if COMMIT was never sent, PC007 if it was.
	 */
	while ((b = env->batches)) {
		if (b->pc)
			pgconn_abort(b->pc, "shutdown timeout");
		if (env->batches != b)
			continue;
		if (b->state == BATCH_IN_DOUBT || b->state == BATCH_RESOLVE || b->state == BATCH_COMMIT)
			batch_fail_all_pc(b, PC_COMMIT_UNKNOWN, "shutdown before the COMMIT outcome was known");
		else
			batch_fail_all_pc(b, PC_SHUTTING_DOWN, "shutdown timeout reached before the row was written");
	}
}

void batch_stop_uncommitted(struct batch_env *env)
{
	struct batch *b;
	bool again = true;

	env->no_retry = true;
	while (again) {
		again = false;
		for (b = env->batches; b; b = b->next) {
			if (b->state == BATCH_COMMIT || b->state == BATCH_IN_DOUBT || b->state == BATCH_RESOLVE)
				continue;
			/* the list changes under us: start over after each */
			if (b->pc)
				pgconn_abort(b->pc, "stopping now"); /* batch_on_lost: no retry, PC005 */
			else
				batch_fail_all_pc(b, PC_SHUTTING_DOWN,
						  "stopped by a second signal before the row was written");
			again = true;
			break;
		}
	}
}

void batch_free_all(struct batch_env *env)
{
	while (env->batches)
		batch_free(env->batches);
}
