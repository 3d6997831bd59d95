/*
 * pgconn.c — non-blocking libpq connections in pipeline mode (see pgconn.h).
 */
#include "pgconn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define PGCONN_CONNECT_TIMEOUT 10.0  /* seconds for one connection attempt */
#define PGCONN_BACKOFF_MIN     0.05
#define PGCONN_BACKOFF_MAX     2.0
#define PGCONN_WARN_EVERY      30.0  /* "unreachable", "down" and "up again" at most this often */
#define PGCONN_LOST_EVERY      10.0  /* "connection lost" and "restored" at most this often */
#define PGCONN_MAX_STMTS       128   /* prepared statements per connection */

static void pgconn_connect(struct pgconn *pc);
static void pgconn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void pgconn_mark_broken(struct pgconn *pc);
static bool pgconn_flush_queued(struct pgconn *pc);
static void pgconn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/*
 * The crash epoch's mark. A crash recovery resets every shared statistic
 * with one timestamp; a user's pg_stat_reset_shared() or
 * pg_stat_reset_slru() resets one kind at a time. So the mark is the
 * stats_reset that at least two of bgwriter, archiver and the Xact SLRU
 * share (all three since PostgreSQL 13): it changes with a crash and stays
 * when one kind is reset by hand. NULL while no two agree (a hand reset of
 * two kinds since the last crash): the epoch then stays. Also the session's
 * statement_timeout (ms), which a batch's own may not exceed.
 */
#define PGCONN_EPOCH_MARK                                                                    \
	"(SELECT CASE WHEN s.b OPERATOR(pg_catalog.=) s.x OR s.b OPERATOR(pg_catalog.=) s.a THEN s.b " \
	"WHEN s.x OPERATOR(pg_catalog.=) s.a THEN s.x END FROM ("                                 \
	" SELECT (SELECT stats_reset FROM pg_catalog.pg_stat_bgwriter) AS b,"                     \
	" (SELECT stats_reset FROM pg_catalog.pg_stat_slru WHERE name OPERATOR(pg_catalog.=) 'Xact') AS x," \
	" (SELECT stats_reset FROM pg_catalog.pg_stat_archiver) AS a) s)"
static const char pgconn_epoch_query[] =
	"SELECT " PGCONN_EPOCH_MARK "::pg_catalog.text, "
	"(SELECT setting FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'statement_timeout')";
/*
 * One 16 MiB allocation in the new backend, freed at once. glibc's malloc
 * gives memory above its trim threshold (128 KiB at first) back to the
 * kernel whenever the top of the heap is free, and raises that threshold
 * only when a chunk it had to mmap (one larger than the mmap threshold) is
 * freed. A batch makes the backend allocate a few MiB in chunks too small to
 * be mmapped and free them at COMMIT: without this, the heap shrank after
 * every batch and the next one faulted it all back in (minor faults under
 * palloc, brk() twenty times a batch): measured, PostgreSQL's CPU per row
 * went from 6.5 to 4.2 us, the bulk-load client's being 3.7 (README
 * "Performance"). After this free the thresholds are 16 and 32 MiB for the
 * backend's life: the backend keeps up to that much heap between batches
 * instead of returning it. Harmless with another allocator.
 */
static const char pgconn_malloc_warmup[] =
	"SELECT pg_catalog.length(pg_catalog.repeat('x', 16777216))";

/*
 * The xid horizon of the epoch: next_xid of the latest checkpoint, trusted
 * only if that checkpoint looks like the one that ended the recovery (a
 * shutdown-type checkpoint taken since the epoch's mark, on the current
 * timeline).
 */
static const char pgconn_horizon_query[] =
	"SELECT ((pg_catalog.split_part(c.next_xid, ':', 1)::bigint OPERATOR(pg_catalog.<<) 32) "
	"OPERATOR(pg_catalog.|) pg_catalog.split_part(c.next_xid, ':', 2)::bigint)::pg_catalog.text, "
	"c.checkpoint_lsn OPERATOR(pg_catalog.=) c.redo_lsn "
	"AND c.checkpoint_time OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('second', " PGCONN_EPOCH_MARK ") "
	"AND c.timeline_id OPERATOR(pg_catalog.=) ('x' OPERATOR(pg_catalog.||) pg_catalog.substr("
	"pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int "
	"FROM pg_catalog.pg_control_checkpoint() c";

static void pgconn_prepared(struct pgconn *pc, const struct pgconn_cmd *cmd, PGresult *res);
static void pgconn_setup_result(struct pgconn *pc, const struct pgconn_cmd *cmd, PGresult *res);

/* ---- command queue ---- */

static void cmd_push(struct pgconn *pc, int tag, size_t arg)
{
	if (pc->cmd_count == pc->cmd_cap) {
		size_t cap = pc->cmd_cap ? pc->cmd_cap * 2 : 64, i;
		struct pgconn_cmd *c = pgc_malloc(cap * sizeof(*c));
		for (i = 0; i < pc->cmd_count; i++)
			c[i] = pc->cmds[(pc->cmd_head + i) % pc->cmd_cap];
		free(pc->cmds);
		pc->cmds = c;
		pc->cmd_cap = cap;
		pc->cmd_head = 0;
	}
	pc->cmds[(pc->cmd_head + pc->cmd_count) % pc->cmd_cap] =
		(struct pgconn_cmd){ .tag = tag, .arg = arg, .stmt = -1 };
	pc->cmd_count++;
}

static struct pgconn_cmd *cmd_last(struct pgconn *pc)
{
	return &pc->cmds[(pc->cmd_head + pc->cmd_count - 1) % pc->cmd_cap];
}

static void cmd_pop(struct pgconn *pc)
{
	struct pgconn_cmd *c = &pc->cmds[pc->cmd_head];

	free(c->copy); /* a COPY the server never asked for (an earlier statement failed) */
	c->copy = NULL;
	pc->cmd_head = (pc->cmd_head + 1) % pc->cmd_cap;
	pc->cmd_count--;
}

static void cmd_clear(struct pgconn *pc)
{
	while (pc->cmd_count)
		cmd_pop(pc);
	pc->cmd_head = 0;
}

/* ---- watchers ---- */

static void pgconn_watch(struct pgconn *pc, bool rd, bool wr)
{
	struct ev_loop *loop = pc->pool->loop;

	ev_io_stop(loop, &pc->rio);
	ev_io_stop(loop, &pc->wio);
	if (pc->fd < 0)
		return;
	ev_io_set(&pc->rio, pc->fd, EV_READ);
	ev_io_set(&pc->wio, pc->fd, EV_WRITE);
	if (rd)
		ev_io_start(loop, &pc->rio);
	if (wr)
		ev_io_start(loop, &pc->wio);
}

/* ---- state changes ---- */

static void pgconn_set_up(struct pgconn *pc, bool up)
{
	struct pgpool *pool = pc->pool;

	double now = ev_now(pool->loop);
	unsigned long dropped;

	pool->up += up ? 1 : -1;
	if (up && pool->up == 1 && pool->down_since > 0) {
		if (log_limit_check(&pool->up_limit, now, PGCONN_WARN_EVERY, &dropped))
			log_info("database up", "connections_up=%d down_s=%.3f suppressed=%lu", pool->up,
				 now - pool->down_since, dropped);
		pool->down_since = 0;
	} else if (!up && pool->up == 0) {
		pool->down_since = now;
		if (log_limit_check(&pool->down_limit, now, PGCONN_WARN_EVERY, &dropped))
			log_warn("database down: rows wait up to --retry-timeout-ms", "suppressed=%lu", dropped);
	}
}

static void pgconn_schedule_reconnect(struct pgconn *pc)
{
	struct ev_loop *loop = pc->pool->loop;

	pc->state = PGCONN_DOWN;
	if (pc->pool->stopping)
		return;
	ev_timer_stop(loop, &pc->timer);
	ev_timer_set(&pc->timer, pc->backoff, 0.);
	ev_timer_start(loop, &pc->timer);
	pc->backoff = pc->backoff * 2 > PGCONN_BACKOFF_MAX ? PGCONN_BACKOFF_MAX : pc->backoff * 2;
}

static void pgconn_close_pg(struct pgconn *pc)
{
	pgconn_watch(pc, false, false);
	ev_timer_stop(pc->pool->loop, &pc->timer);
	if (pc->pg)
		PQfinish(pc->pg);
	pc->pg = NULL;
	pc->fd = -1;
	cmd_clear(pc);
	pc->in_script = false;
	pc->cur_has_result = false;
	pc->broken = false;
	pc->broken_why = NULL;
	pgconn_forget_statements(pc);
	pc->deallocate = false; /* a new session has none */
}

static void pgconn_copy_error(struct pgconn *pc, const char *why)
{
	size_t n;

	snprintf(pc->last_error, sizeof(pc->last_error), "%s", why ? why : "unknown error");
	n = strlen(pc->last_error);
	while (n && (pc->last_error[n - 1] == '\n' || pc->last_error[n - 1] == ' '))
		pc->last_error[--n] = '\0';
}

/*
 * The connection is gone (or never came up): tell the job, reconnect later.
 * If the server said why before closing it (a FATAL error: an idle-in-
 * transaction timeout, an administrator's terminate), that is the reason
 * given, not libpq's "server closed the connection unexpectedly".
 */
static void pgconn_lost(struct pgconn *pc, const char *why)
{
	bool was_up = pc->state == PGCONN_IDLE || pc->state == PGCONN_BUSY;
	void *job = pc->job;
	double now = ev_now(pc->pool->loop);
	unsigned long dropped;

	pgconn_copy_error(pc, pc->fatal_message[0] ? pc->fatal_message : why);
	pc->fatal_message[0] = '\0';
	memcpy(pc->pool->last_error, pc->last_error, sizeof(pc->last_error));
	pgconn_close_pg(pc);
	pc->job = NULL;
	if (was_up) {
		if (log_limit_check(&pc->pool->lost_limit, now, PGCONN_LOST_EVERY, &dropped))
			log_warn("database connection lost", "conn=%d error=%s suppressed=%lu", pc->index,
				 log_q(pc->last_error), dropped);
		pgconn_set_up(pc, false);
	} else if (log_limit_check(&pc->pool->unreachable_limit, now, PGCONN_WARN_EVERY, &dropped)) {
		log_warn("database unreachable", "conn=%d error=%s suppressed=%lu", pc->index,
			 log_q(pc->last_error), dropped);
	} else {
		log_debug("database connection attempt failed", "conn=%d error=%s retry_in_s=%.3f",
			  pc->index, log_q(pc->last_error), pc->backoff);
	}
	pgconn_schedule_reconnect(pc);
	if (job)
		pc->pool->ops.on_lost(pc, job);
}

/* Setup is done: the connection is up and idle. */
static void pgconn_setup_done(struct pgconn *pc)
{
	struct pgpool *pool = pc->pool;
	unsigned long dropped = 0;

	ev_timer_stop(pool->loop, &pc->timer);
	pc->state = PGCONN_IDLE;
	pc->backoff = PGCONN_BACKOFF_MIN;
	pgconn_set_up(pc, true); /* counted up before the line says so */
	if (!pc->ever_connected)
		log_info("database connected", "conn=%d server_version=%d epoch=%lu", pc->index,
			 PQserverVersion(pc->pg), pc->epoch_id);
	else if (log_limit_check(&pool->restored_limit, ev_now(pool->loop), PGCONN_LOST_EVERY, &dropped))
		log_info("database connection restored", "conn=%d server_version=%d epoch=%lu suppressed=%lu",
			 pc->index, PQserverVersion(pc->pg), pc->epoch_id, dropped);
	pc->ever_connected = true;
}

/*
 * Connected: enter pipeline mode and learn the crash epoch (and, for a new
 * epoch, its xid horizon) before taking work. The horizon query may fail
 * (pg_control_checkpoint() revoked): the horizon is then unknown.
 */
static void pgconn_connected(struct pgconn *pc)
{
	if (PQsetnonblocking(pc->pg, 1) != 0 || PQenterPipelineMode(pc->pg) != 1) {
		pgconn_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	pc->state = PGCONN_SETUP;
	pc->fd = PQsocket(pc->pg);
	pc->sets_horizon = false;
	pc->epoch_read = false;
	if (!pgconn_send(pc, PGCONN_TAG_INTERNAL, 0, pgconn_malloc_warmup, 0, NULL) ||
	    !pgconn_sync(pc, PGCONN_TAG_INTERNAL, 0) ||
	    !pgconn_send(pc, PGCONN_TAG_EPOCH, 0, pgconn_epoch_query, 0, NULL) ||
	    !pgconn_sync(pc, PGCONN_TAG_INTERNAL, 0) ||
	    !pgconn_send(pc, PGCONN_TAG_HORIZON, 0, pgconn_horizon_query, 0, NULL) ||
	    !pgconn_sync(pc, PGCONN_TAG_SETUP, 0))
		return; /* reported from the loop */
}

/* A result of the setup queries (see pgpool in pgconn.h). */
static void pgconn_setup_result(struct pgconn *pc, const struct pgconn_cmd *cmd, PGresult *res)
{
	struct pgpool *pool = pc->pool;
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	switch (cmd->tag) {
	case PGCONN_TAG_EPOCH:
		/* not read (an error, the connection lost): no epoch; setup fails at its Sync */
		pc->epoch_read = ok && PQnfields(res) == 2;
		if (!pc->epoch_read) {
			pgconn_copy_error(pc, PQresultErrorMessage(res));
			break;
		}
		if (!pool->epoch_id ||
		    (!PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), pool->epoch) != 0)) {
			pool->epoch_id++; /* the first, or a crash since the last one */
			snprintf(pool->epoch, sizeof(pool->epoch), "%s",
				 PQgetisnull(res, 0, 0) ? "?" : PQgetvalue(res, 0, 0));
			pool->horizon_known = false;
			pc->sets_horizon = true;
		}
		pc->epoch_id = pool->epoch_id;
		pc->statement_timeout_ms = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		break;
	case PGCONN_TAG_HORIZON:
		/* any connection of the epoch may learn it: the one that saw the epoch
		 * first may finish its setup after another, which must not go without */
		if (pc->epoch_id == pool->epoch_id && !pool->horizon_known && ok &&
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
			pool->horizon = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
			pool->horizon_known = true;
		}
		if (pc->sets_horizon && pool->epoch_id > 1) {
			char h[24] = "unknown";
			if (pool->horizon_known)
				snprintf(h, sizeof(h), "%llu", pool->horizon);
			log_warn("database crash recovery seen: xids from before it are checked against its horizon",
				 "conn=%d stats_reset=%s horizon=%s", pc->index, log_q(pool->epoch), h);
		}
		break;
	case PGCONN_TAG_SETUP:
		if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			break;
		if (pc->epoch_read) {
			pgconn_setup_done(pc);
		} else {
			char why[sizeof(pc->last_error)];
			snprintf(why, sizeof(why), "%s", pc->last_error[0] ? pc->last_error
				 : "could not read the crash epoch");
			pgconn_lost(pc, why);
		}
		break;
	}
}

enum pgpool_xid_fate pgpool_xid_fate(const struct pgpool *pool, unsigned long epoch_id,
				     unsigned long long xid)
{
	if (epoch_id == pool->epoch_id)
		return PGPOOL_SAME_EPOCH;
	if (!pool->horizon_known)
		return PGPOOL_XID_UNKNOWN;
	return xid >= pool->horizon ? PGPOOL_XID_LOST : PGPOOL_XID_DURABLE;
}

/* Advance a connection attempt; the one place a CONNECTING conn changes state. */
static void pgconn_poll(struct pgconn *pc)
{
	switch (PQconnectPoll(pc->pg)) {
	case PGRES_POLLING_READING:
		pc->fd = PQsocket(pc->pg);
		pgconn_watch(pc, true, false);
		break;
	case PGRES_POLLING_WRITING:
		pc->fd = PQsocket(pc->pg);
		pgconn_watch(pc, false, true);
		break;
	case PGRES_POLLING_OK:
		pgconn_connected(pc);
		break;
	case PGRES_POLLING_FAILED:
	default:
		pgconn_lost(pc, PQerrorMessage(pc->pg));
		break;
	}
}

/* A FATAL error from the server: it is about to close the connection; keep why. */
static void pgconn_note_fatal(struct pgconn *pc, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (sev && msg && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		snprintf(pc->fatal_message, sizeof(pc->fatal_message), "%s", msg);
}

/*
 * Server notices go to the log (libpq would print them raw on stderr). An
 * error that arrives while no command waits (a FATAL between our commands)
 * comes this way too.
 */
static void pgconn_notice(void *arg, const PGresult *res)
{
	struct pgconn *pc = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	pgconn_note_fatal(pc, res);
	if (sev && strcmp(sev, "WARNING") == 0)
		log_warn("database warning", "conn=%d message=%s", pc->index, log_q(msg ? msg : ""));
	else
		log_debug("database notice", "conn=%d severity=%s message=%s", pc->index,
			  sev ? sev : "?", log_q(msg ? msg : ""));
}

static void pgconn_connect(struct pgconn *pc)
{
	/* after dbname, so client_encoding overrides the DSN and PGCLIENTENCODING:
	 * requests and responses are UTF-8 whatever the database's encoding */
	const char *keys[] = { "dbname", "fallback_application_name", "client_encoding", NULL };
	const char *vals[] = { pc->pool->dsn, "pgcoalesce", "UTF8", NULL };

	pc->fatal_message[0] = '\0';
	pc->pg = PQconnectStartParams(keys, vals, 1);
	if (!pc->pg || PQstatus(pc->pg) == CONNECTION_BAD) {
		pgconn_lost(pc, pc->pg ? PQerrorMessage(pc->pg) : "out of memory");
		return;
	}
	PQsetNoticeReceiver(pc->pg, pgconn_notice, pc);
	pc->state = PGCONN_CONNECTING;
	ev_timer_stop(pc->pool->loop, &pc->timer);
	ev_timer_set(&pc->timer, PGCONN_CONNECT_TIMEOUT, 0.);
	ev_timer_start(pc->pool->loop, &pc->timer);
	pc->fd = PQsocket(pc->pg);
	pgconn_watch(pc, false, true);
}

static void pgconn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgconn *pc = w->data;

	if (pc->state == PGCONN_CONNECTING || pc->state == PGCONN_SETUP)
		pgconn_lost(pc, "connection attempt timed out");
	else if (pc->state == PGCONN_DOWN)
		pgconn_connect(pc);
}

/* ---- pipeline I/O ---- */

/* Push queued output; arm EV_WRITE only while libpq has more to send. */
static bool pgconn_flush(struct pgconn *pc)
{
	int r = PQflush(pc->pg);

	if (r < 0) {
		pgconn_lost(pc, PQerrorMessage(pc->pg));
		return false;
	}
	pgconn_watch(pc, true, r == 1);
	return true;
}

static void pgconn_script_result(struct pgconn *pc, PGresult *res);

/* Deliver every result that is complete; see pgconn.h for the contract. */
static void pgconn_drain(struct pgconn *pc)
{
	struct pgpool *pool = pc->pool;

	while (pc->pg && pc->cmd_count && !pc->broken && !PQisBusy(pc->pg)) {
		PGresult *res = PQgetResult(pc->pg);
		struct pgconn_cmd cmd;

		if (pc->in_script) {
			pgconn_script_result(pc, res);
			continue;
		}
		if (!res) {
			if (!pc->cur_has_result)
				break;
			cmd_pop(pc); /* end of the head command's results */
			pc->cur_has_result = false;
			continue;
		}
		cmd = pc->cmds[pc->cmd_head];
		if (PQresultStatus(res) == PGRES_FATAL_ERROR)
			pgconn_note_fatal(pc, res);
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			cmd_pop(pc);
			pc->cur_has_result = false;
		} else {
			pc->cur_has_result = true;
		}
		if (cmd.tag >= 0)
			pool->ops.on_result(pc, pc->job, cmd.tag, cmd.arg, res);
		else if (cmd.tag == PGCONN_TAG_PREPARE)
			pgconn_prepared(pc, &cmd, res);
		else if (cmd.tag != PGCONN_TAG_INTERNAL)
			pgconn_setup_result(pc, &cmd, res);
		PQclear(res);
	}
}

/* ---- scripts (pgconn_send_script) ---- */

#define PGCONN_COPY_CHUNK (1 << 20) /* bytes per CopyData message */

/* Give the head command of a script `res` (NULL: a made-up one of `status`), and pop it. */
static void pgconn_script_deliver(struct pgconn *pc, PGresult *res, ExecStatusType status)
{
	struct pgconn_cmd cmd = pc->cmds[pc->cmd_head];

	if (!res && !(res = PQmakeEmptyPGresult(pc->pg, status))) {
		pgconn_break(pc, "out of memory");
		return;
	}
	cmd_pop(pc);
	if (cmd.tag >= 0)
		pc->pool->ops.on_result(pc, pc->job, cmd.tag, cmd.arg, res);
	else if (cmd.tag == PGCONN_TAG_PREPARE)
		pgconn_prepared(pc, &cmd, res);
	PQclear(res);
}

/* The server asks for the head command's COPY data: all of it, then the end. */
static void pgconn_script_copy(struct pgconn *pc)
{
	struct pgconn_cmd *cmd = &pc->cmds[pc->cmd_head];
	size_t off, n;
	bool ok = true;

	if (cmd->script_end || !cmd->copy) {
		/* a COPY the job gave no data for is our bug: fail it, never hang */
		ok = PQputCopyEnd(pc->pg, "pgcoalesce: no data for this COPY") == 1;
	} else {
		for (off = 0; ok && off < cmd->copy_len; off += n) {
			n = cmd->copy_len - off < PGCONN_COPY_CHUNK ? cmd->copy_len - off : PGCONN_COPY_CHUNK;
			ok = PQputCopyData(pc->pg, cmd->copy + off, (int)n) == 1;
		}
		ok = ok && PQputCopyEnd(pc->pg, NULL) == 1;
		free(cmd->copy);
		cmd->copy = NULL;
	}
	if (!ok)
		pgconn_mark_broken(pc);
	else
		pgconn_flush_queued(pc);
}

/*
 * A result while a script runs. NULL ends it: statements an error skipped
 * get PGRES_PIPELINE_ABORTED, the connection goes back to pipeline mode,
 * and the script's Sync is delivered.
 */
static void pgconn_script_result(struct pgconn *pc, PGresult *res)
{
	if (res && PQresultStatus(res) == PGRES_COPY_IN) {
		PQclear(res);
		pgconn_script_copy(pc);
		return;
	}
	if (res && pc->cmds[pc->cmd_head].script_end) {
		PQclear(res);
		pgconn_break(pc, "a script returned more results than it has statements");
		return;
	}
	if (res) {
		if (PQresultStatus(res) == PGRES_FATAL_ERROR)
			pgconn_note_fatal(pc, res);
		pgconn_script_deliver(pc, res, PQresultStatus(res));
		return;
	}
	while (pc->pg && !pc->broken && pc->cmd_count && !pc->cmds[pc->cmd_head].script_end)
		pgconn_script_deliver(pc, NULL, PGRES_PIPELINE_ABORTED);
	if (!pc->pg || pc->broken)
		return;
	pc->in_script = false;
	if (PQenterPipelineMode(pc->pg) != 1) {
		pgconn_lost(pc, PQerrorMessage(pc->pg));
		return;
	}
	pgconn_script_deliver(pc, NULL, PGRES_PIPELINE_SYNC);
}

static void pgconn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pgconn *pc = w->data;

	if (pc->state == PGCONN_CONNECTING) {
		pgconn_poll(pc);
		return;
	}
	if (!pc->pg)
		return;
	if (pc->broken) {
		pc->broken = false;
		pgconn_lost(pc, pc->broken_why ? pc->broken_why : PQerrorMessage(pc->pg));
		return;
	}
	if ((revents & EV_WRITE) && !pgconn_flush(pc))
		return;
	if (revents & EV_READ) {
		if (!PQconsumeInput(pc->pg)) {
			pgconn_lost(pc, PQerrorMessage(pc->pg));
			return;
		}
		pgconn_drain(pc);
		if (pc->pg && PQstatus(pc->pg) == CONNECTION_BAD)
			pgconn_lost(pc, PQerrorMessage(pc->pg));
	}
}

/* ---- prepared statements ---- */

static unsigned stmt_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void stmt_clear(struct pgconn_stmt *st)
{
	free(st->sql);
	st->sql = NULL;
}

void pgconn_forget_statements(struct pgconn *pc)
{
	size_t i;

	for (i = 0; i < pc->nstmts; i++)
		stmt_clear(&pc->stmts[i]);
	pc->nstmts = 0;
	pc->deallocate = pc->pg != NULL;
}

/* The result of our PREPARE: keep the statement, or forget it and tell the job. */
static void pgconn_prepared(struct pgconn *pc, const struct pgconn_cmd *cmd, PGresult *res)
{
	struct pgconn_stmt *st = NULL;
	ExecStatusType s = PQresultStatus(res);

	if (cmd->stmt >= 0 && (size_t)cmd->stmt < pc->nstmts && pc->stmts[cmd->stmt].id == cmd->stmt_id)
		st = &pc->stmts[cmd->stmt]; /* else forgotten meanwhile: nothing to keep */
	if (s == PGRES_COMMAND_OK)
		return;
	if (st && st->sql) {
		if (s != PGRES_PIPELINE_ABORTED)
			pc->pool->ops.on_result(pc, pc->job, st->job_tag, st->job_arg, res);
		stmt_clear(st);
	}
}

/* Slot of the statement prepared (or being prepared) as `sql`, or -1. */
static int stmt_find(const struct pgconn *pc, const char *sql, unsigned h)
{
	size_t i;

	for (i = 0; i < pc->nstmts; i++)
		if (pc->stmts[i].sql && pc->stmts[i].hash == h && strcmp(pc->stmts[i].sql, sql) == 0)
			return (int)i;
	return -1;
}

/*
 * A new slot for `sql`, whose PREPARE the caller queues next, the command
 * queued last (the table full: every statement is forgotten first, and
 * pc->deallocate asks the caller to send DEALLOCATE ALL before it).
 */
static int stmt_add(struct pgconn *pc, int tag, size_t arg, const char *sql, unsigned h)
{
	struct pgconn_stmt *st;

	if (pc->nstmts == PGCONN_MAX_STMTS)
		pgconn_forget_statements(pc);
	if (!pc->stmts)
		pc->stmts = pgc_calloc(PGCONN_MAX_STMTS, sizeof(*pc->stmts));
	st = &pc->stmts[pc->nstmts];
	st->id = ++pc->stmt_counter;
	snprintf(st->name, sizeof(st->name), "pgc_%lu", st->id);
	st->sql = pgc_strdup(sql);
	st->hash = h;
	st->job_tag = tag;
	st->job_arg = arg;
	return (int)pc->nstmts++;
}

/* Queue the command that answers the PREPARE of slot idx. */
static void stmt_push_prepare(struct pgconn *pc, int idx)
{
	cmd_push(pc, PGCONN_TAG_PREPARE, 0);
	cmd_last(pc)->stmt = idx;
	cmd_last(pc)->stmt_id = pc->stmts[idx].id;
}

/* Slot of `sql`, preparing it first if needed; -1 if libpq refused. */
static int pgconn_statement(struct pgconn *pc, int tag, size_t arg, const char *sql, int nparams)
{
	unsigned h = stmt_hash(sql);
	int idx = stmt_find(pc, sql, h);

	if (idx >= 0)
		return idx;
	idx = stmt_add(pc, tag, arg, sql, h);
	if (pc->deallocate) {
		if (!PQsendQueryParams(pc->pg, "DEALLOCATE ALL", 0, NULL, NULL, NULL, NULL, 0))
			return -1;
		cmd_push(pc, PGCONN_TAG_INTERNAL, 0);
		pc->deallocate = false;
	}
	if (!PQsendPrepare(pc->pg, pc->stmts[idx].name, sql, nparams, NULL))
		return -1;
	stmt_push_prepare(pc, idx);
	return idx;
}

static void pgconn_mark_broken(struct pgconn *pc)
{
	pc->broken = true;
	ev_feed_event(pc->pool->loop, &pc->rio, EV_READ);
}

void pgconn_break(struct pgconn *pc, const char *why)
{
	pc->broken_why = why;
	pgconn_mark_broken(pc);
}

bool pgconn_send(struct pgconn *pc, int tag, size_t arg, const char *sql,
		 int nparams, const char *const *values)
{
	if (!pc->pg || !PQsendQueryParams(pc->pg, sql, nparams, NULL, values, NULL, NULL, 0)) {
		/* reported from the loop, never from inside the caller's send sequence */
		pgconn_mark_broken(pc);
		return false;
	}
	cmd_push(pc, tag, arg);
	return true;
}

bool pgconn_send_prepared(struct pgconn *pc, int tag, size_t arg, const char *sql,
			  int nparams, const char *const *values)
{
	int idx;

	if (!pc->pg || (idx = pgconn_statement(pc, tag, arg, sql, nparams)) < 0 ||
	    !PQsendQueryPrepared(pc->pg, pc->stmts[idx].name, nparams, values, NULL, NULL, 0)) {
		pgconn_mark_broken(pc);
		return false;
	}
	cmd_push(pc, tag, arg);
	return true;
}

/* Send what is queued; the rest goes when the socket is writable. */
static bool pgconn_flush_queued(struct pgconn *pc)
{
	int r = PQflush(pc->pg);

	if (r < 0) {
		pgconn_mark_broken(pc);
		return false;
	}
	pgconn_watch(pc, true, r == 1);
	return true;
}

bool pgconn_sync(struct pgconn *pc, int tag, size_t arg)
{
	if (!pc->pg || !PQpipelineSync(pc->pg)) {
		pgconn_mark_broken(pc);
		return false;
	}
	cmd_push(pc, tag, arg);
	return pgconn_flush_queued(pc);
}

/* Append value `v` as an SQL literal (NULL as NULL); false if libpq could not quote it. */
static bool put_literal(struct buf *out, PGconn *pg, const char *v)
{
	char *lit;

	if (!v) {
		buf_puts(out, "NULL");
		return true;
	}
	if (!(lit = PQescapeLiteral(pg, v, strlen(v))))
		return false;
	buf_puts(out, lit);
	PQfreemem(lit);
	return true;
}

/*
 * Append step `st` to the script, and queue the commands its results
 * answer. A prepared step is "EXECUTE name(literals)", after the PREPARE
 * (SQL's, the same statements as the protocol's) the first time.
 */
static bool script_add(struct pgconn *pc, struct buf *sql, const struct pgconn_step *st)
{
	unsigned h;
	int idx, i;

	if (!st->prepare) {
		buf_puts(sql, st->sql);
	} else {
		h = stmt_hash(st->sql);
		if ((idx = stmt_find(pc, st->sql, h)) < 0) {
			idx = stmt_add(pc, st->tag, st->arg, st->sql, h);
			if (pc->deallocate) {
				buf_puts(sql, "DEALLOCATE ALL;");
				cmd_push(pc, PGCONN_TAG_INTERNAL, 0);
				pc->deallocate = false;
			}
			buf_printf(sql, "PREPARE %s AS %s;", pc->stmts[idx].name, st->sql);
			stmt_push_prepare(pc, idx);
		}
		buf_printf(sql, "EXECUTE %s", pc->stmts[idx].name);
		for (i = 0; i < st->nparams; i++) {
			buf_puts(sql, i ? "," : "(");
			if (!put_literal(sql, pc->pg, st->values[i]))
				return false;
		}
		buf_puts(sql, st->nparams ? ")" : "");
	}
	buf_putc(sql, ';');
	cmd_push(pc, st->tag, st->arg);
	if (st->copy) { /* taken over: the data waits for the server's CopyInResponse */
		cmd_last(pc)->copy_len = st->copy->len;
		cmd_last(pc)->copy = st->copy->data;
		buf_init(st->copy);
	}
	return true;
}

bool pgconn_send_script(struct pgconn *pc, const struct pgconn_step *steps, size_t n,
			int sync_tag, size_t sync_arg)
{
	struct buf sql;
	size_t i;
	bool ok;

	assert(pc->cmd_count == 0);
	buf_init(&sql);
	ok = pc->pg != NULL;
	for (i = 0; ok && i < n; i++)
		ok = script_add(pc, &sql, &steps[i]);
	cmd_push(pc, sync_tag, sync_arg);
	cmd_last(pc)->script_end = true;
	ok = ok && PQexitPipelineMode(pc->pg) == 1;
	pc->in_script = ok;
	ok = ok && PQsendQuery(pc->pg, buf_cstr(&sql));
	buf_free(&sql);
	if (!ok) { /* a connection left half out of pipeline mode is dropped */
		pgconn_mark_broken(pc);
		return false;
	}
	return pgconn_flush_queued(pc);
}

void pgconn_abort(struct pgconn *pc, const char *why)
{
	if (pc->state == PGCONN_IDLE || pc->state == PGCONN_BUSY)
		pgconn_lost(pc, why);
}

/* ---- pool ---- */

void pgpool_init(struct pgpool *pool, struct ev_loop *loop, const char *dsn, size_t n,
		 const struct pgconn_ops *ops)
{
	size_t i;

	memset(pool, 0, sizeof(*pool));
	pool->loop = loop;
	pool->dsn = pgc_strdup(dsn);
	pool->ops = *ops;
	pool->n = n;
	pool->conns = pgc_calloc(n, sizeof(*pool->conns));
	for (i = 0; i < n; i++) {
		struct pgconn *pc = &pool->conns[i];
		pc->pool = pool;
		pc->index = (int)i;
		pc->fd = -1;
		pc->backoff = PGCONN_BACKOFF_MIN;
		ev_init(&pc->rio, pgconn_io_cb);
		ev_init(&pc->wio, pgconn_io_cb);
		ev_init(&pc->timer, pgconn_timer_cb);
		pc->rio.data = pc->wio.data = pc->timer.data = pc;
	}
}

void pgpool_start(struct pgpool *pool)
{
	size_t i;

	for (i = 0; i < pool->n; i++)
		pgconn_connect(&pool->conns[i]);
}

void pgpool_free(struct pgpool *pool)
{
	size_t i;

	pool->stopping = true;
	for (i = 0; i < pool->n; i++) {
		pgconn_close_pg(&pool->conns[i]);
		free(pool->conns[i].cmds);
		free(pool->conns[i].stmts);
	}
	free(pool->conns);
	free(pool->dsn);
	memset(pool, 0, sizeof(*pool));
}

struct pgconn *pgpool_idle(struct pgpool *pool)
{
	size_t i;

	for (i = 0; i < pool->n; i++)
		if (pool->conns[i].state == PGCONN_IDLE)
			return &pool->conns[i];
	return NULL;
}

void pgconn_acquire(struct pgconn *pc, void *job)
{
	assert(pc->state == PGCONN_IDLE && !pc->job && !pc->cmd_count && job);
	pc->state = PGCONN_BUSY;
	pc->job = job;
}

void pgconn_release(struct pgconn *pc, void *job)
{
	assert(pc->state == PGCONN_BUSY && pc->job == job && !pc->cmd_count);
	pc->job = NULL;
	pc->state = PGCONN_IDLE;
}

void pgconn_reuse(struct pgconn *pc, void *job)
{
	assert(pc->state == PGCONN_BUSY && pc->job == job && !pc->cmd_count);
}
