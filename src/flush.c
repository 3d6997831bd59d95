/*
 * flush.c — batches: from a ready group to COMMIT and acks (see flush.h).
 *
 * A batch owns its rows from the moment they leave the group until each is
 * completed. Its connection delivers results in order (pgconn.h); the batch
 * tags every command it queues so batch_on_result knows what each result
 * answers. Rows are acked only in batch_finish, after COMMIT returned.
 */
#include "flush.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "log.h"
#include "sidecar.h"
#include "sqlbuild.h"

#define ISOLATE_WINDOW    64     /* rows per round trip while isolating errors */
#define RETRY_BACKOFF_MIN 0.01   /* seconds */
#define RETRY_BACKOFF_MAX 1.0
#define RESOLVE_POLL      0.05   /* seconds between pg_xact_status polls */
#define SAVEPOINT_NAME    "pgcoalesce_row"
#define NO_ROW            ((size_t)-1)
#define WARN_EVERY        10.0   /* seconds between repeats of a per-batch warning */

enum batch_state {
	BATCH_WAITING = 0, /* in sc->waiting: needs a connection (first run, retry or resolve) */
	BATCH_BACKOFF,     /* retry timer armed after a transient failure */
	BATCH_SCHEMA,      /* catalog query for the table's column types in flight */
	BATCH_EXEC,        /* BEGIN; xid; one INSERT per colset; Sync in flight */
	BATCH_ABORT,       /* ROLLBACK; Sync after a failed attempt; `after` says what next */
	BATCH_ISOLATE,     /* one transaction, a savepoint per row, a window at a time */
	BATCH_COMMIT,      /* COMMIT; Sync in flight: a lost connection leaves it in doubt */
	BATCH_RESOLVE,     /* pg_xact_status(xid) in flight after a loss during COMMIT */
};

/* What a batch does once its ROLLBACK completed. */
enum batch_after {
	AFTER_RETRY = 0,   /* transient: back off, then run again */
	AFTER_REFRESH,     /* the table changed: refetch its schema, run again now */
	AFTER_ISOLATE,     /* a row's data failed: find it, row by row */
	AFTER_FAIL,        /* the whole batch fails with the error */
};

/* Tags of the commands a batch queues (pgconn_send/pgconn_sync). */
enum batch_tag {
	T_SCHEMA, T_SYNC_SCHEMA,
	T_BEGIN, T_LOCK, T_CHECK, T_SETCONS, T_XID, T_INSERT, T_SYNC_EXEC,
	T_ROLLBACK, T_SYNC_ROLLBACK,
	T_SAVEPOINT, T_ISO_INSERT, T_RELEASE, T_SYNC_ISO, T_RECOVER, T_SYNC_RECOVER,
	T_COMMIT, T_SYNC_COMMIT,
	T_RESOLVE, T_SYNC_RESOLVE,
};

enum err_class {
	ERR_NONE = 0,
	ERR_TRANSIENT,     /* retry the whole batch later */
	ERR_SCHEMA,        /* the table changed under us: refetch and retry */
	ERR_ROW,           /* caused by some row's data: isolate */
	ERR_BATCH,         /* affects every row (privileges, ...): fail them all */
};

/* Rows of a batch that go in one INSERT: same columns, same RETURNING need. */
struct part {
	struct colset *cs;
	bool           returning;
	size_t        *idx;   /* indexes into batch->rows */
	size_t         n;
};

struct batch {
	struct batch    *next;        /* sc->batches: every live batch */
	struct batch    *wait_next;   /* sc->waiting */
	struct sidecar  *sc;
	struct group    *g;
	struct row     **rows;
	size_t           n;
	enum batch_state state;
	enum batch_after after;
	struct pgconn   *pc;
	ev_timer         timer;
	double           backoff;
	double           resolve_deadline;
	bool             isolate;        /* go row by row (a row-attributable error was seen) */
	bool             schema_fetched; /* refetched during this attempt */
	int              schema_retries;
	bool             committed;      /* COMMIT (or pg_xact_status) said so */
	bool             xact_aborted;   /* pg_xact_status said aborted */
	bool             lost_last;      /* the last failure was a lost connection */
	char             xid[32];
	unsigned long    epoch_id;       /* the server's crash epoch when xid was assigned */
	enum err_class   err;            /* first error of the attempt */
	struct pg_error  error;
	struct part     *parts;
	size_t           nparts;
	size_t           iso_pos;        /* next row to try */
	size_t           iso_end;        /* last row of the window in flight */
	size_t           iso_failed;     /* first failed row of the window, or NO_ROW */
	double           started_at;     /* ev_now() when the batch took its rows */
	unsigned         retries;        /* attempts retried so far */
};

/* The fate of an xid; 'future' if no transaction has it yet (lost in a crash). */
static const char resolve_query[] =
	"SELECT CASE WHEN $1::xid8 >= pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) "
	"THEN 'future' ELSE pg_catalog.pg_xact_status($1::xid8) END";

static void batch_start(struct batch *b, struct pgconn *pc);
static void batch_exec(struct batch *b);
static void batch_isolate_start(struct batch *b);
static void batch_retry_later(struct batch *b);

/* ---- error classification ---- */

static enum err_class classify(const char *code)
{
	static const char *const transient[] = { "40001", "40P01", "55P03", "57P01", "57P02", "57P03" };
	static const char *const row_classes[] = { "22", "23", "27", "44", "P0", "2F", "38", "39", "54" };
	size_t i;

	if (!code || strncmp(code, "08", 2) == 0 || strncmp(code, "53", 2) == 0)
		return ERR_TRANSIENT;
	for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(code, transient[i]) == 0)
			return ERR_TRANSIENT;
	/* the table changed: undefined table/column, type mismatch, a prepared
	 * statement whose result type changed (0A000) or that is gone (26000) */
	if (strcmp(code, "42P01") == 0 || strcmp(code, "42703") == 0 || strcmp(code, "42804") == 0 ||
	    strcmp(code, "0A000") == 0 || strcmp(code, "26000") == 0)
		return ERR_SCHEMA;
	for (i = 0; i < sizeof(row_classes) / sizeof(row_classes[0]); i++)
		if (strncmp(code, row_classes[i], 2) == 0)
			return ERR_ROW;
	return ERR_BATCH;
}

/* Keep the attempt's first error. */
static void batch_note_error(struct batch *b, const PGresult *res)
{
	if (b->err != ERR_NONE)
		return;
	pg_error_from_result(&b->error, res);
	b->err = classify(PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* ---- batch lifetime ---- */

static void batch_clear_parts(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->nparts; i++)
		free(b->parts[i].idx);
	free(b->parts);
	b->parts = NULL;
	b->nparts = 0;
}

static void batch_unlink(struct batch *b)
{
	struct batch **pb;

	for (pb = &b->sc->batches; *pb; pb = &(*pb)->next)
		if (*pb == b) {
			*pb = b->next;
			break;
		}
	for (pb = &b->sc->waiting; *pb; pb = &(*pb)->wait_next)
		if (*pb == b) {
			*pb = b->wait_next;
			break;
		}
}

/* The batch is over (its rows are completed or were handed on): forget it. */
static void batch_free(struct batch *b)
{
	group_batch_ended(&b->sc->groups, b->g);
	batch_unlink(b);
	ev_timer_stop(b->sc->loop, &b->timer);
	batch_clear_parts(b);
	pg_error_clear(&b->error);
	free(b->rows);
	free(b);
}

static void batch_release_conn(struct batch *b)
{
	struct pgconn *pc = b->pc;

	b->pc = NULL;
	if (pc && pc->job == b)
		pgconn_release(pc);
}

/* Put the batch in the queue for the next idle connection. */
static void batch_enqueue(struct batch *b)
{
	struct batch **pb = &b->sc->waiting;

	b->state = b->state == BATCH_RESOLVE ? BATCH_RESOLVE : BATCH_WAITING;
	while (*pb)
		pb = &(*pb)->wait_next;
	b->wait_next = NULL;
	*pb = b;
}

static void row_set_failed(struct row *r, const struct pg_error *e)
{
	buf_reset(&r->result);
	ack_pg_error(&r->result, r->id_json, e);
	r->outcome = ROW_FAILED;
}

static void row_set_pc_error(struct row *r, const char *code, const char *message)
{
	buf_reset(&r->result);
	ack_error(&r->result, r->id_json, code, message);
	r->outcome = ROW_FAILED;
}

/*
 * Count the batch and log it: every failed batch at warn with its first
 * failed row's SQLSTATE and message, the others at debug.
 */
static void batch_report(struct batch *b, size_t ok, size_t failed, const char *code,
			 const char *message)
{
	struct sidecar *sc = b->sc;
	double now = ev_now(sc->loop);

	stats_batch_done(&sc->stats, b->n, ok, failed, b->retries > 0, now - b->started_at);
	if (failed && !ok)
		log_warn("batch failed", "table=%s rows=%zu sqlstate=%s error=%s retries=%u",
			 log_q(b->g->display), failed, code[0] ? code : "unknown", log_q(message), b->retries);
	else
		log_debug("batch done", "table=%s rows=%zu ok=%zu failed=%zu sqlstate=%s ms=%.3f retries=%u",
			  log_q(b->g->display), b->n, ok, failed, !failed ? "none" : code[0] ? code : "unknown",
			  (now - b->started_at) * 1000.0, b->retries);
}

/*
 * The end of a batch: ack every row (ok if it was written and the transaction
 * committed, else its error), count, free.
 */
static void batch_finish(struct batch *b)
{
	struct sidecar *sc = b->sc;
	size_t i, ok = 0, failed = 0;
	char code[6] = "";
	struct buf message;

	batch_release_conn(b);
	buf_init(&message);
	for (i = 0; i < b->n; i++) {
		struct row *r = b->rows[i];
		if (r->outcome == ROW_WRITTEN && b->committed) {
			row_complete(sc, r, b->g, true);
			ok++;
		} else {
			if (r->outcome != ROW_FAILED)
				row_set_pc_error(r, PC_COMMIT_UNKNOWN, "internal error: row outcome unknown");
			if (!failed && ack_error_code(r->result.data, r->result.len, code) && !ok)
				ack_error_message(r->result.data, r->result.len, &message);
			row_complete(sc, r, b->g, false);
			failed++;
		}
	}
	batch_report(b, ok, failed, code, buf_cstr(&message));
	buf_free(&message);
	batch_free(b);
}

/* Every row not yet failed fails with `e` (the transaction did not commit). */
static void batch_fail_all(struct batch *b, const struct pg_error *e)
{
	size_t i;

	b->committed = false;
	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome != ROW_FAILED)
			row_set_failed(b->rows[i], e);
	batch_finish(b);
}

static void batch_fail_all_pc(struct batch *b, const char *code, const char *message)
{
	size_t i;

	b->committed = false;
	for (i = 0; i < b->n; i++)
		if (b->rows[i]->outcome != ROW_FAILED)
			row_set_pc_error(b->rows[i], code, message);
	batch_finish(b);
}

static struct batch *batch_new(struct sidecar *sc, struct group *g, struct row **rows, size_t n)
{
	struct batch *b = pgc_calloc(1, sizeof(*b));

	b->sc = sc;
	b->g = g;
	b->rows = rows;
	b->n = n;
	b->backoff = RETRY_BACKOFF_MIN;
	b->iso_failed = NO_ROW;
	b->started_at = ev_now(sc->loop);
	ev_init(&b->timer, NULL);
	b->timer.data = b;
	b->next = sc->batches;
	sc->batches = b;
	return b;
}

/* ---- validation against the cached schema ---- */

/* Does the cache miss something a row of this batch names? */
static bool batch_schema_misses(const struct batch *b)
{
	const struct table_schema *s = b->g->tschema;
	size_t i, k;

	if (!s->exists)
		return true;
	for (i = 0; i < b->n; i++) {
		const struct row *r = b->rows[i];
		if (!group_colset_resolve(b->g, r->colset))
			return true;
		for (k = 0; k < r->n_returning; k++)
			if (schema_find_column(s, r->returning[k]) < 0)
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
	struct pg_error e = { 0 };
	char msg[512];
	size_t k;

	if (!s->exists) {
		snprintf(msg, sizeof(msg), "relation \"%s\" does not exist", b->g->display);
		pg_error_set(&e, "42P01", msg);
	}
	if (!e.code && !group_colset_resolve(b->g, r->colset)) {
		snprintf(msg, sizeof(msg), "column \"%s\" of relation \"%s\" does not exist",
			 r->colset->names[r->colset->missing], s->relname);
		pg_error_set(&e, "42703", msg);
	}
	for (k = 0; !e.code && k < r->n_returning; k++)
		if (schema_find_column(s, r->returning[k]) < 0) {
			snprintf(msg, sizeof(msg), "column \"%s\" does not exist", r->returning[k]);
			pg_error_set(&e, "42703", msg);
		}
	if (e.code)
		row_set_failed(r, &e);
	pg_error_clear(&e);
	return r->outcome != ROW_FAILED;
}

/* ---- building INSERTs ---- */

/*
 * Queue one INSERT for rows[idx[0..n-1]] (same colset). Returns false if it
 * could not be queued (the connection is broken: on_lost follows).
 */
static bool batch_send_insert(struct batch *b, int tag, size_t arg, struct colset *cs,
			      bool returning, const size_t *idx, size_t n)
{
	const struct table_schema *s = b->g->tschema;
	size_t np = cs->n ? cs->n : 1, i;
	const int *col_index = cs->col_index;
	struct row **rows = pgc_malloc(n * sizeof(*rows));
	struct buf *params = pgc_calloc(np, sizeof(*params));
	const char **values = pgc_malloc(np * sizeof(*values));
	struct buf sql;
	bool ok;

	buf_init(&sql);
	for (i = 0; i < n; i++)
		rows[i] = b->rows[idx[i]];
	group_colset_resolve(b->g, cs); /* validated: every name resolves */
	ok = sqlbuild_insert(&sql, b->pc->pg, s, cs, col_index, returning);
	for (i = 0; ok && i < np; i++) {
		if (cs->n)
			sqlbuild_array_param(&params[i], rows, n, i, s->columns[col_index[i]].is_array);
		else
			sqlbuild_count_param(&params[i], n);
		values[i] = buf_cstr(&params[i]);
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

/* Group the batch's pending rows into parts (one INSERT each). */
static void batch_partition(struct batch *b)
{
	size_t i, k;

	batch_clear_parts(b);
	b->parts = pgc_calloc(b->n, sizeof(*b->parts));
	for (i = 0; i < b->n; i++) {
		struct row *r = b->rows[i];
		bool ret = row_wants_returning(r);
		if (r->outcome != ROW_PENDING)
			continue;
		for (k = 0; k < b->nparts; k++)
			if (b->parts[k].cs == r->colset && b->parts[k].returning == ret)
				break;
		if (k == b->nparts) {
			b->parts[k].cs = r->colset;
			b->parts[k].returning = ret;
			b->parts[k].idx = pgc_malloc(b->n * sizeof(size_t));
			b->nparts++;
		}
		b->parts[k].idx[b->parts[k].n++] = i;
	}
}

/* Store RETURNING data of an INSERT result for its rows; mark them written. */
static void batch_rows_written(struct batch *b, const PGresult *res, const size_t *idx, size_t n,
			       bool returning)
{
	size_t i;
	bool have = returning && (size_t)PQntuples(res) == n;
	unsigned long dropped;

	for (i = 0; i < n; i++) {
		struct row *r = b->rows[idx[i]];
		buf_reset(&r->result);
		if (have && row_wants_returning(r))
			ack_returning_object(&r->result, res, (int)i, r);
		r->outcome = ROW_WRITTEN;
	}
	if (returning && !have &&
	    log_limit_check(&b->g->warn_limit, ev_now(b->sc->loop), WARN_EVERY, &dropped))
		log_warn("RETURNING row count differs from rows inserted (a trigger skipped rows?)",
			 "table=%s rows=%zu returned=%d suppressed=%lu", log_q(b->g->display), n,
			 PQntuples(res), dropped);
}

/* ---- attempts ---- */

static void batch_reset_attempt(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		b->rows[i]->outcome = ROW_PENDING;
		buf_reset(&b->rows[i]->result);
	}
	b->err = ERR_NONE;
	pg_error_clear(&b->error);
	b->committed = false;
	b->xact_aborted = false;
	b->xid[0] = '\0';
	b->lost_last = false;
	b->schema_fetched = false;
	b->iso_failed = NO_ROW;
}

static void batch_start(struct batch *b, struct pgconn *pc)
{
	const char *params[2];

	pgconn_acquire(pc, b);
	b->pc = pc;
	if (b->state == BATCH_RESOLVE) {
		params[0] = b->xid;
		b->err = ERR_NONE;
		pg_error_clear(&b->error);
		if (pgconn_send(pc, T_RESOLVE, 0, resolve_query, 1, params))
			pgconn_sync(pc, T_SYNC_RESOLVE, 0);
		return;
	}
	batch_reset_attempt(b);
	if (batch_needs_schema(b)) {
		b->state = BATCH_SCHEMA;
		params[0] = b->g->schema;
		params[1] = b->g->table;
		if (pgconn_send(pc, T_SCHEMA, 0, schema_catalog_query, 2, params))
			pgconn_sync(pc, T_SYNC_SCHEMA, 0);
		return;
	}
	if (b->isolate)
		batch_isolate_start(b);
	else
		batch_exec(b);
}

/* Validate rows; false if none is left to write (the batch is finished). */
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

/*
 * Open the transaction: lock the table as the INSERT would, check that its
 * columns are still those cached (T_CHECK fails otherwise: refetch, retry),
 * and learn the transaction id before anything can commit.
 */
static bool batch_begin(struct batch *b, bool immediate_constraints)
{
	struct pgconn *pc = b->pc;
	const struct table_schema *s = b->g->tschema;
	char *nsp = PQescapeIdentifier(pc->pg, s->nspname, strlen(s->nspname));
	char *rel = PQescapeIdentifier(pc->pg, s->relname, strlen(s->relname));
	struct buf lock, name;
	const char *params[2];
	bool ok;

	buf_init(&lock);
	buf_init(&name);
	buf_printf(&name, "%s.%s", nsp ? nsp : "", rel ? rel : "");
	buf_printf(&lock, "LOCK TABLE %s IN ROW EXCLUSIVE MODE", buf_cstr(&name));
	params[0] = buf_cstr(&name);
	params[1] = s->fingerprint;
	b->epoch_id = pc->epoch_id;
	ok = nsp && rel &&
	     pgconn_send(pc, T_BEGIN, 0, "BEGIN", 0, NULL) &&
	     pgconn_send(pc, T_LOCK, 0, buf_cstr(&lock), 0, NULL) &&
	     pgconn_send_prepared(pc, T_CHECK, 0, schema_check_query, 2, params) &&
	     (!immediate_constraints ||
	      pgconn_send(pc, T_SETCONS, 0, "SET CONSTRAINTS ALL IMMEDIATE", 0, NULL)) &&
	     pgconn_send_prepared(pc, T_XID, 0, "SELECT pg_catalog.pg_current_xact_id()::text", 0, NULL);
	PQfreemem(nsp);
	PQfreemem(rel);
	buf_free(&lock);
	buf_free(&name);
	return ok;
}

static void batch_exec(struct batch *b)
{
	struct pgconn *pc = b->pc;
	size_t k;

	if (!batch_validate(b))
		return;
	batch_partition(b);
	b->state = BATCH_EXEC;
	if (!batch_begin(b, false))
		return;
	for (k = 0; k < b->nparts; k++)
		if (!batch_send_insert(b, T_INSERT, k, b->parts[k].cs, b->parts[k].returning,
				       b->parts[k].idx, b->parts[k].n))
			return;
	pgconn_sync(pc, T_SYNC_EXEC, 0);
}

static void batch_commit(struct batch *b)
{
	b->state = BATCH_COMMIT;
	if (pgconn_send(b->pc, T_COMMIT, 0, "COMMIT", 0, NULL))
		pgconn_sync(b->pc, T_SYNC_COMMIT, 0);
}

/* The attempt failed with its transaction open: roll back, then `after`. */
static void batch_abort(struct batch *b)
{
	switch (b->err) {
	case ERR_TRANSIENT:
		b->after = AFTER_RETRY;
		break;
	case ERR_SCHEMA:
		b->after = b->schema_retries < 2 ? AFTER_REFRESH : AFTER_FAIL;
		break;
	case ERR_ROW:
		b->after = b->isolate ? AFTER_FAIL : AFTER_ISOLATE;
		break;
	default:
		b->after = AFTER_FAIL;
		break;
	}
	b->state = BATCH_ABORT;
	if (pgconn_send(b->pc, T_ROLLBACK, 0, "ROLLBACK", 0, NULL))
		pgconn_sync(b->pc, T_SYNC_ROLLBACK, 0);
}

/* The rollback is done: continue as decided in batch_abort. */
static void batch_after_rollback(struct batch *b)
{
	struct pgconn *pc = b->pc;

	switch (b->after) {
	case AFTER_RETRY:
		batch_release_conn(b);
		batch_retry_later(b);
		break;
	case AFTER_REFRESH:
		b->schema_retries++;
		b->g->schema_stale = true;
		pgconn_forget_statements(pc);
		b->pc = NULL;
		pc->job = NULL;
		batch_start(b, pc);
		break;
	case AFTER_ISOLATE:
		b->isolate = true;
		b->pc = NULL;
		pc->job = NULL;
		batch_start(b, pc);
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
		if (r->outcome != ROW_PENDING || !row_validate(b, r))
			continue;
		if (!pgconn_send(pc, T_SAVEPOINT, i, "SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !batch_send_insert(b, T_ISO_INSERT, i, r->colset, row_wants_returning(r), &i, 1) ||
		    !pgconn_send(pc, T_RELEASE, i, "RELEASE SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !pgconn_sync(pc, T_SYNC_ISO, i))
			return;
		b->iso_end = i;
		sent++;
	}
	if (!sent)
		batch_commit(b);
}

static void batch_isolate_start(struct batch *b)
{
	struct pgconn *pc = b->pc;

	b->state = BATCH_ISOLATE;
	b->iso_pos = 0;
	b->iso_failed = NO_ROW;
	/* deferred constraints would only fail at COMMIT, for no row in particular */
	if (!batch_begin(b, true) || !pgconn_sync(pc, T_SYNC_ISO, NO_ROW))
		return;
	batch_isolate_window(b);
}

static void batch_isolate_insert_result(struct batch *b, size_t i, const PGresult *res)
{
	struct row *r = b->rows[i];

	if (b->iso_failed != NO_ROW || b->err != ERR_NONE)
		return; /* aborted along with an earlier row of the window */
	if (result_ok(res)) {
		batch_rows_written(b, res, &i, 1, row_wants_returning(r));
		return;
	}
	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
		return;
	if (classify(PQresultErrorField(res, PG_DIAG_SQLSTATE)) == ERR_TRANSIENT) {
		batch_note_error(b, res);
		return;
	}
	{
		struct pg_error e = { 0 };
		pg_error_from_result(&e, res);
		row_set_failed(r, &e);
		pg_error_clear(&e);
	}
	b->iso_failed = i;
}

/* A window's last Sync arrived: recover from a failed row, send the next. */
static void batch_isolate_window_done(struct batch *b)
{
	if (b->err != ERR_NONE) {
		batch_abort(b);
		return;
	}
	if (b->iso_failed != NO_ROW) {
		b->iso_pos = b->iso_failed + 1;
		b->iso_failed = NO_ROW;
		if (!pgconn_send(b->pc, T_RECOVER, 0, "ROLLBACK TO SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !pgconn_send(b->pc, T_RECOVER, 0, "RELEASE SAVEPOINT " SAVEPOINT_NAME, 0, NULL) ||
		    !pgconn_sync(b->pc, T_SYNC_RECOVER, 0))
			return;
	} else {
		b->iso_pos = b->iso_end + 1;
	}
	batch_isolate_window(b);
}

/* ---- retries and in-doubt resolution ---- */

static void batch_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	batch_enqueue(w->data);
}

/* Rows of `g` failed for waiting past --retry-timeout-ms: warn, at most every WARN_EVERY. */
static void warn_expired(struct sidecar *sc, struct group *g, size_t rows, const char *code)
{
	unsigned long dropped;

	if (rows && log_limit_check(&g->expire_limit, ev_now(sc->loop), WARN_EVERY, &dropped))
		log_warn("rows failed: not written within --retry-timeout-ms", "table=%s rows=%zu sqlstate=%s "
			 "error=%s suppressed=%lu", log_q(g->display), rows, code, log_q(sc->pool.last_error),
			 dropped);
}

/*
 * Fail rows past --retry-timeout-ms with PC006, naming the last failure (a
 * lost connection, or the transient error); returns the number left.
 */
static size_t batch_expire_rows(struct batch *b, double now)
{
	struct sidecar *sc = b->sc;
	double limit = (double)sc->cfg->retry_timeout_ms / 1000.0;
	size_t i, kept = 0;
	char msg[512];

	if (b->lost_last || b->err == ERR_NONE || !b->error.code)
		snprintf(msg, sizeof(msg), "database unavailable for --retry-timeout-ms (%ld ms): %s",
			 sc->cfg->retry_timeout_ms, sc->pool.last_error);
	else
		snprintf(msg, sizeof(msg), "not written within --retry-timeout-ms (%ld ms); last error: %s %s",
			 sc->cfg->retry_timeout_ms, b->error.code, b->error.message ? b->error.message : "");
	for (i = 0; i < b->n; i++) {
		struct row *r = b->rows[i];
		if (now - r->accepted_at < limit)
			b->rows[kept++] = r;
		else
			row_fail(sc, r, b->g, PC_DATABASE_UNAVAILABLE, msg);
	}
	warn_expired(sc, b->g, b->n - kept, b->lost_last || b->err == ERR_NONE || !b->error.code ?
		     PC_DATABASE_UNAVAILABLE : b->error.code);
	b->n = kept;
	return kept;
}

static void batch_retry_later(struct batch *b)
{
	struct sidecar *sc = b->sc;
	double jitter;

	if (sc->shutdown_expired) {
		batch_fail_all_pc(b, PC_SHUTTING_DOWN, "shutdown timeout reached before the row was written");
		return;
	}
	sc->stats.retries++;
	b->retries++;
	if (!batch_expire_rows(b, ev_now(sc->loop))) {
		batch_free(b);
		return;
	}
	b->state = BATCH_BACKOFF;
	jitter = 0.8 + 0.4 * ((double)rand() / RAND_MAX);
	ev_timer_stop(sc->loop, &b->timer);
	ev_set_cb(&b->timer, batch_timer_cb);
	ev_timer_set(&b->timer, b->backoff * jitter, 0.);
	ev_timer_start(sc->loop, &b->timer);
	b->backoff = fmin(b->backoff * 2, RETRY_BACKOFF_MAX);
	log_debug("batch retry scheduled", "table=%s rows=%zu in_s=%.3f", log_q(b->g->display),
		  b->n, b->backoff);
}

/* The connection died while COMMIT was in flight. */
static void batch_in_doubt(struct batch *b)
{
	struct sidecar *sc = b->sc;

	if (b->committed) {
		batch_finish(b);
		return;
	}
	if (sc->shutdown_expired || !b->xid[0]) {
		batch_fail_all_pc(b, PC_COMMIT_UNKNOWN,
				  "connection lost during COMMIT; the row may or may not be committed");
		return;
	}
	log_warn("connection lost during COMMIT: checking the outcome", "table=%s rows=%zu xid=%s",
		 log_q(b->g->display), b->n, b->xid);
	b->resolve_deadline = ev_now(sc->loop) + (double)sc->cfg->retry_timeout_ms / 1000.0;
	b->state = BATCH_RESOLVE;
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
	enum pgpool_xid_fate fate = pgpool_xid_fate(&b->sc->pool, b->epoch_id, strtoull(b->xid, NULL, 10));
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
		b->err = ERR_BATCH; /* too old to know: in doubt for good */
		return;
	}
	status = PQgetvalue(res, 0, 0);
	if (strcmp(status, "aborted") == 0 || strcmp(status, "future") == 0)
		b->xact_aborted = true;
	else if (strcmp(status, "committed") == 0 && fate == PGPOOL_XID_UNKNOWN)
		b->err = ERR_BATCH;
	else if (strcmp(status, "committed") == 0)
		b->committed = true;
	/* else in progress: ask again */
}

static void batch_resolve_done(struct batch *b)
{
	struct sidecar *sc = b->sc;

	batch_release_conn(b);
	if (b->committed) {
		sc->stats.in_doubt_resolved++;
		log_info("in-doubt commit resolved: committed", "table=%s xid=%s", log_q(b->g->display), b->xid);
		batch_finish(b);
	} else if (b->xact_aborted) {
		sc->stats.in_doubt_resolved++;
		log_info("in-doubt commit resolved: aborted, retrying", "table=%s xid=%s",
			 log_q(b->g->display), b->xid);
		b->state = BATCH_WAITING;
		b->xid[0] = '\0';
		b->lost_last = true;
		batch_retry_later(b);
	} else if (b->err == ERR_BATCH || ev_now(sc->loop) > b->resolve_deadline) {
		batch_fail_all_pc(b, PC_COMMIT_UNKNOWN,
				  "connection lost during COMMIT and the outcome could not be determined");
	} else {
		/* still in progress on the old backend, or the check failed: ask again */
		ev_timer_stop(sc->loop, &b->timer);
		ev_set_cb(&b->timer, batch_timer_cb);
		ev_timer_set(&b->timer, RESOLVE_POLL, 0.);
		ev_timer_start(sc->loop, &b->timer);
	}
}

/* ---- results ---- */

static void batch_on_sync(struct batch *b, int tag, size_t arg)
{
	switch (tag) {
	case T_SYNC_SCHEMA:
		if (b->err != ERR_NONE) {
			if (b->err == ERR_TRANSIENT) {
				batch_release_conn(b);
				batch_retry_later(b);
				return;
			}
			batch_fail_all(b, &b->error);
			return;
		}
		b->schema_fetched = true;
		if (b->isolate)
			batch_isolate_start(b);
		else
			batch_exec(b);
		return;
	case T_SYNC_EXEC:
		if (b->err != ERR_NONE)
			batch_abort(b);
		else
			batch_commit(b);
		return;
	case T_SYNC_ROLLBACK:
		batch_after_rollback(b);
		return;
	case T_SYNC_ISO:
		/* the header's Sync (NO_ROW) only ends BEGIN/xid; its errors
		 * surface with the window's last Sync */
		if (b->state == BATCH_ISOLATE && arg != NO_ROW && arg == b->iso_end)
			batch_isolate_window_done(b);
		return;
	case T_SYNC_RECOVER:
		return;
	case T_SYNC_COMMIT:
		if (b->committed) {
			batch_finish(b);
		} else if (b->err == ERR_TRANSIENT) {
			batch_release_conn(b);
			batch_retry_later(b);
		} else if (b->err == ERR_ROW && !b->isolate) {
			b->isolate = true; /* e.g. a deferred constraint */
			b->pc->job = NULL;
			batch_start(b, b->pc);
		} else {
			batch_fail_all(b, &b->error);
		}
		return;
	case T_SYNC_RESOLVE:
		batch_resolve_done(b);
		return;
	}
}

static void batch_on_result(struct pgconn *pc, void *job, int tag, size_t arg, PGresult *res)
{
	struct batch *b = job;

	if (!b)
		return;
	if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
		batch_on_sync(b, tag, arg);
		return;
	}
	switch (tag) {
	case T_SCHEMA:
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			struct table_schema *s = schema_from_result(res, ev_now(b->sc->loop));
			if (s)
				group_set_schema(b->g, s);
		} else {
			batch_note_error(b, res);
		}
		break;
	case T_XID:
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			snprintf(b->xid, sizeof(b->xid), "%s", PQgetvalue(res, 0, 0));
		else
			batch_note_error(b, res);
		break;
	case T_INSERT:
		if (result_ok(res))
			batch_rows_written(b, res, b->parts[arg].idx, b->parts[arg].n, b->parts[arg].returning);
		else if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
			batch_note_error(b, res);
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
		/* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK */
		if (result_ok(res) && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
			b->committed = true;
		} else if (result_ok(res)) {
			pg_error_set(&b->error, "40000", "the transaction was rolled back at COMMIT");
			b->err = ERR_TRANSIENT;
		} else {
			batch_note_error(b, res);
		}
		break;
	case T_RESOLVE:
		batch_resolve_result(b, res);
		break;
	case T_CHECK:
		/* the table changed since its columns were cached: refetch, retry */
		if (!result_ok(res) && PQresultStatus(res) != PGRES_PIPELINE_ABORTED && b->err == ERR_NONE) {
			char msg[400];
			snprintf(msg, sizeof(msg), "table \"%s\" changed while the row was being written",
				 b->g->display);
			pg_error_set(&b->error, "55000", msg);
			b->err = ERR_SCHEMA;
		}
		break;
	default: /* BEGIN, SET CONSTRAINTS, ROLLBACK, savepoint recovery */
		if (!result_ok(res) && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
			batch_note_error(b, res);
		break;
	}
}

static void batch_on_lost(struct pgconn *pc, void *job)
{
	struct batch *b = job;

	b->pc = NULL;
	b->lost_last = true;
	switch (b->state) {
	case BATCH_COMMIT:
		batch_in_doubt(b);
		break;
	case BATCH_RESOLVE:
		if (b->sc->shutdown_expired)
			batch_fail_all_pc(b, PC_COMMIT_UNKNOWN, "connection lost during COMMIT; outcome unknown");
		else
			batch_resolve_done(b);
		break;
	default: /* COMMIT was never sent: nothing of this attempt is committed */
		b->state = BATCH_WAITING;
		batch_retry_later(b);
		break;
	}
}

/* ---- scheduling ---- */

static void flush_on_idle(struct pgconn *pc)
{
	(void)pc; /* flush_schedule runs before the loop sleeps */
}

void flush_conn_idle(struct pgconn *pc)
{
	flush_on_idle(pc);
}

void flush_schedule(struct sidecar *sc)
{
	struct pgconn *pc;

	while ((pc = pgpool_idle(&sc->pool))) {
		struct batch *b = sc->waiting;
		struct group *g;
		struct row **rows;
		size_t n;

		if (b) {
			sc->waiting = b->wait_next;
			b->wait_next = NULL;
			batch_start(b, pc);
			continue;
		}
		g = group_pop_ready(&sc->groups);
		if (!g)
			break;
		group_batch_started(&sc->groups, g);
		rows = group_take_rows(&sc->groups, g, &n);
		b = batch_new(sc, g, rows, n);
		batch_start(b, pc);
	}
}

int flush_in_flight(const struct sidecar *sc)
{
	const struct batch *b;
	int n = 0;

	for (b = sc->batches; b; b = b->next)
		n++;
	return n;
}

struct expire_ctx {
	struct sidecar *sc;
	double          now;
	double          limit;
};

static void expire_group(struct group *g, void *arg)
{
	struct expire_ctx *x = arg;
	char msg[320];

	while (g->head && x->now - g->head->accepted_at >= x->limit) {
		size_t n;
		struct row **rows = group_take_rows(&x->sc->groups, g, &n), *r;
		size_t i;
		snprintf(msg, sizeof(msg), "database unavailable for --retry-timeout-ms (%ld ms): %s",
			 x->sc->cfg->retry_timeout_ms, x->sc->pool.last_error);
		for (i = 0; i < n; i++) {
			r = rows[i];
			if (x->now - r->accepted_at >= x->limit) {
				row_fail(x->sc, r, g, PC_DATABASE_UNAVAILABLE, msg);
			} else {
				group_return_rows(&x->sc->groups, g, rows + i, n - i);
				break;
			}
		}
		warn_expired(x->sc, g, i, PC_DATABASE_UNAVAILABLE);
		free(rows);
	}
}

void flush_expire_waiting(struct sidecar *sc)
{
	struct expire_ctx x = { sc, ev_now(sc->loop), (double)sc->cfg->retry_timeout_ms / 1000.0 };
	struct batch *b, *next;

	if (sc->pool.up > 0)
		return;
	group_foreach(&sc->groups, expire_group, &x);
	for (b = sc->waiting; b; b = next) {
		next = b->wait_next;
		if (b->state == BATCH_RESOLVE) {
			if (x.now > b->resolve_deadline)
				batch_fail_all_pc(b, PC_COMMIT_UNKNOWN,
						  "connection lost during COMMIT and the database stayed unreachable");
		} else if (!batch_expire_rows(b, x.now)) {
			batch_free(b);
		}
	}
}

static void abandon_group(struct group *g, void *arg)
{
	struct sidecar *sc = arg;
	struct row **rows;
	size_t n, i;

	while (g->nrows) {
		rows = group_take_rows(&sc->groups, g, &n);
		for (i = 0; i < n; i++)
			row_fail(sc, rows[i], g, PC_SHUTTING_DOWN,
				 "shutdown timeout reached before the row was written");
		free(rows);
	}
}

void flush_abandon_all(struct sidecar *sc)
{
	struct batch *b;

	group_foreach(&sc->groups, abandon_group, sc);
	/*
	 * Dropping a batch's connection ends it through batch_on_lost, which
	 * sees shutdown_expired: PC005 if COMMIT was never sent, PC007 if it was.
	 */
	while ((b = sc->batches)) {
		if (b->pc)
			pgconn_abort(b->pc, "shutdown timeout");
		if (sc->batches != b)
			continue;
		if (b->state == BATCH_RESOLVE || b->state == BATCH_COMMIT)
			batch_fail_all_pc(b, PC_COMMIT_UNKNOWN, "shutdown before the COMMIT outcome was known");
		else
			batch_fail_all_pc(b, PC_SHUTTING_DOWN, "shutdown timeout reached before the row was written");
	}
}

static void flush_on_count(void *arg, int up)
{
	struct sidecar *sc = arg;

	if (up == 0)
		log_warn("database down: rows wait up to --retry-timeout-ms", "pending_rows=%zu", sc->pending_rows);
}

void flush_init(struct sidecar *sc)
{
	struct pgconn_ops ops = {
		.on_result = batch_on_result,
		.on_lost = batch_on_lost,
		.on_idle = flush_conn_idle,
		.on_count = flush_on_count,
		.arg = sc,
	};

	pgpool_init(&sc->pool, sc->loop, sc->cfg->dsn, (size_t)sc->cfg->connections, &ops);
	pgpool_start(&sc->pool);
}

void flush_free(struct sidecar *sc)
{
	while (sc->batches)
		batch_free(sc->batches);
	pgpool_free(&sc->pool);
}
