/*
 * flush.c — the flusher: ready groups onto idle connections (see flush.h).
 */
#include "flush.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "errdata.h"
#include "log.h"

void flush_schedule(struct flusher *fl)
{
	struct pgconn *pc;

	while ((pc = pgpool_idle(&fl->pool))) {
		struct batch *b = batch_next_waiting(&fl->batches);
		struct describe *d;
		struct group *g;

		if (!b && (d = describe_next(&fl->describes))) {
			describe_start(&fl->describes, d, pc);
			continue;
		}
		if (!b && !fl->pool.stopping && keys_pruner_due(&fl->keys)) {
			keys_pruner_start(&fl->keys, pc);
			continue;
		}
		if (!b) {
			g = group_pop_ready(fl->groups);
			if (!g && !fl->pool.stopping && keys_pruner_more(&fl->keys)) {
				keys_pruner_start(&fl->keys, pc);
				continue;
			}
			if (!g)
				break;
			b = batch_new(&fl->batches, g);
		}
		batch_start(b, pc);
	}
}

size_t flush_in_flight(const struct flusher *fl)
{
	return fl->batches.count + fl->describes.count;
}

void flush_describe(struct flusher *fl, struct client *c, const char *id_json, const char *schema,
		    const char *table)
{
	describe_request(&fl->describes, c, id_json, schema, table);
}

/* pgconn_ops: a result for the connection's job, a batch or a describe (by tag). */
static void flush_on_result(struct pgconn *pc, void *job, int tag, size_t arg, PGresult *res)
{
	struct flusher *fl = pc->pool->ops.arg;

	if (tag >= KEYS_TAG_PRUNE)
		keys_pruner_on_result(&fl->keys, pc, tag, res);
	else if (tag >= DESCRIBE_TAG_QUERY)
		describe_on_result(&fl->describes, pc, job, tag, res);
	else
		batch_on_result(pc, job, tag, arg, res);
}

static void flush_on_lost(struct pgconn *pc, void *job)
{
	struct flusher *fl = pc->pool->ops.arg;

	if (keys_pruner_owns(&fl->keys, job))
		keys_pruner_on_lost(&fl->keys, pc);
	else if (describe_owns(&fl->describes, job))
		describe_on_lost(&fl->describes, pc, job);
	else
		batch_on_lost(pc, job);
}

int flush_db_up(const struct flusher *fl)
{
	return fl->pool.up;
}

struct expire_ctx {
	struct flusher *fl;
	double          now;
};

/* Why rows of `g` are still queued at their deadline, as their PC006. */
static void expire_reason(const struct expire_ctx *x, const struct group *g, struct errdata *e)
{
	double ms = x->fl->cfg->retry_timeout * 1000.0;

	if (!x->fl->pool.up)
		errdata_set_pc(e, PC_DATABASE_UNAVAILABLE, "database unavailable for --retry-timeout-ms "
			       "(%.0f ms): %s", ms, x->fl->pool.last_error);
	else if (g->executing)
		errdata_set_pc(e, PC_DATABASE_UNAVAILABLE, "not written within --retry-timeout-ms (%.0f ms): "
			       "queued behind a batch of table \"%s\" whose statement was still running "
			       "(waiting for a lock?)", ms, g->display);
	else if (g->commit_held)
		errdata_set_pc(e, PC_DATABASE_UNAVAILABLE, "not written within --retry-timeout-ms (%.0f ms): "
			       "queued behind a batch of table \"%s\" whose COMMIT was still running",
			       ms, g->display);
	else
		errdata_set_pc(e, PC_DATABASE_UNAVAILABLE, "not written within --retry-timeout-ms (%.0f ms): "
			       "no database connection was free in time for table \"%s\"", ms, g->display);
}

/* Fail the rows of `g` that are past --retry-timeout-ms (oldest first). */
static void expire_group(struct group *g, void *arg)
{
	struct expire_ctx *x = arg;
	double limit = x->fl->cfg->retry_timeout;
	struct errdata e = { 0 };
	unsigned long dropped;
	size_t n, i, failed = 0;

	if (!g->head || x->now - g->head->accepted_at < limit)
		return;
	expire_reason(x, g, &e);
	while (g->head && x->now - g->head->accepted_at >= limit) {
		struct row **rows = group_take_rows(x->fl->groups, g, &n);
		for (i = 0; i < n; i++) {
			if (x->now - rows[i]->accepted_at < limit) {
				group_return_rows(x->fl->groups, g, rows + i, n - i);
				break;
			}
			ledger_fail(x->fl->ledger, rows[i], g, &e);
			failed++;
		}
		free(rows);
	}
	if (failed && log_limit_check(&g->expire_limit, x->now, 10.0, &dropped))
		log_warn("rows failed: not written within --retry-timeout-ms", "table=%s rows=%zu sqlstate=%s "
			 "error=%s suppressed=%lu", log_q(g->display), failed, e.code, log_q(e.message), dropped);
	errdata_clear(&e);
}

/*
 * Every row is answered within --retry-timeout-ms (plus batch.c's grace),
 * whatever the database does: rows still queued past it fail here, whether
 * the database is down, no connection was free in time, or their table's
 * batch in flight is stuck (a group starts no second one meanwhile).
 */
void flush_expire_waiting(struct flusher *fl)
{
	struct expire_ctx x = { fl, ev_now(fl->loop) };

	group_foreach(fl->groups, expire_group, &x);
	batch_expire_waiting(&fl->batches, x.now);
}

/* Fail every queued row of `g` with `e`. */
static void fail_group(struct flusher *fl, struct group *g, const struct errdata *e)
{
	struct row **rows;
	size_t n, i;

	while (g->nrows) {
		rows = group_take_rows(fl->groups, g, &n);
		for (i = 0; i < n; i++)
			ledger_fail(fl->ledger, rows[i], g, e);
		free(rows);
	}
}

static void stop_group(struct group *g, void *arg)
{
	struct flusher *fl = arg;
	struct errdata e = { 0 };

	errdata_set_pc(&e, PC_SHUTTING_DOWN, "stopped by a second signal before the row was written");
	fail_group(fl, g, &e);
	errdata_clear(&e);
}

void flush_stop_now(struct flusher *fl)
{
	struct errdata e = { 0 };

	group_foreach(fl->groups, stop_group, fl);
	batch_stop_uncommitted(&fl->batches);
	errdata_set_pc(&e, PC_SHUTTING_DOWN, "stopped by a second signal before the table was described");
	describe_queue_fail_all(&fl->describes, &e);
	errdata_clear(&e);
}

static void abandon_group(struct group *g, void *arg)
{
	struct flusher *fl = arg;
	struct errdata e = { 0 };

	errdata_set_pc(&e, PC_SHUTTING_DOWN, "shutdown timeout reached before the row was written");
	fail_group(fl, g, &e);
	errdata_clear(&e);
}

void flush_abandon_all(struct flusher *fl)
{
	struct errdata e = { 0 };

	group_foreach(fl->groups, abandon_group, fl);
	batch_abandon_all(&fl->batches);
	errdata_set_pc(&e, PC_SHUTTING_DOWN, "shutdown timeout reached before the table was described");
	describe_queue_fail_all(&fl->describes, &e);
	errdata_clear(&e);
}

void flush_init(struct flusher *fl, struct ev_loop *loop, const struct config *cfg,
		struct stats *stats, struct ledger *ledger, struct group_registry *groups)
{
	struct pgconn_ops ops = {
		.on_result = flush_on_result,
		.on_lost = flush_on_lost,
		.arg = fl,
	};

	memset(fl, 0, sizeof(*fl));
	fl->loop = loop;
	fl->cfg = cfg;
	fl->ledger = ledger;
	fl->groups = groups;
	fl->batches.loop = loop;
	fl->batches.cfg = cfg;
	fl->batches.stats = stats;
	fl->batches.ledger = ledger;
	fl->batches.groups = groups;
	fl->batches.pool = &fl->pool;
	/* the attempts' tokens must not repeat across restarts either (keys.h) */
	if (getrandom(&fl->batches.token_base, sizeof(fl->batches.token_base), 0) !=
	    (ssize_t)sizeof(fl->batches.token_base))
		fl->batches.token_base = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	describe_queue_init(&fl->describes);
	keys_pruner_init(&fl->keys, loop, cfg, stats);
	pgpool_init(&fl->pool, loop, cfg->dsn, cfg->connections, &ops);
	pgpool_start(&fl->pool);
}

void flush_free(struct flusher *fl)
{
	struct errdata e = { 0 };

	errdata_set_pc(&e, PC_SHUTTING_DOWN, "the sidecar is exiting");
	describe_queue_fail_all(&fl->describes, &e);
	errdata_clear(&e);
	describe_queue_free(&fl->describes);
	keys_pruner_free(&fl->keys);
	batch_free_all(&fl->batches);
	pgpool_free(&fl->pool);
}
