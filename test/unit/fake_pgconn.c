/*
 * fake_pgconn.c — a scripted stand-in for src/pgconn.c in bin/test-unit.
 *
 * The unit-test binary links this file instead of src/pgconn.c (Makefile:
 * UNIT_OBJ), so the batch machine (batch.c, flush.c) can be driven with
 * scripted results: every command a job queues is recorded
 * (fake_pgconn_next), and the test answers it with a PGresult it builds
 * (fake_result_*), delivered through the pool's ops exactly as pgconn.c
 * delivers real ones. Nothing here talks to a server; the integration tests
 * against a real PostgreSQL remain the proof.
 *
 * libpq offers no way to set a result's SQLSTATE or command tag, so this
 * file also defines PQresultErrorField and PQcmdStatus: the executable's
 * definitions take precedence over libpq's (ELF interposition); for a
 * result this file did not make they hand over to libpq's own.
 */
#include "fake_pgconn.h"

#include <assert.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_MAX_CMDS    4096
#define FAKE_MAX_RESULTS 256

struct fake_result {
	const PGresult *res;
	char            sqlstate[6];
	char           *message;
	char            cmd_status[32];
};

/* Test-only state: one scripted world at a time. */
static struct fake_cmd fake_cmds[FAKE_MAX_CMDS];
static size_t fake_head, fake_count;
static struct fake_result fake_results[FAKE_MAX_RESULTS];
static size_t fake_nresults;

/* ---- the interposed accessors ---- */

static struct fake_result *fake_find(const PGresult *res)
{
	size_t i;

	for (i = 0; i < fake_nresults; i++)
		if (fake_results[i].res == res)
			return &fake_results[i];
	return NULL;
}

char *PQresultErrorField(const PGresult *res, int fieldcode)
{
	static char *(*real)(const PGresult *, int);
	struct fake_result *f = fake_find(res);

	if (f) {
		if (fieldcode == PG_DIAG_SQLSTATE && f->sqlstate[0])
			return f->sqlstate;
		if (fieldcode == PG_DIAG_MESSAGE_PRIMARY && f->message)
			return f->message;
		return NULL;
	}
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "PQresultErrorField");
	return real(res, fieldcode);
}

char *PQcmdStatus(PGresult *res)
{
	static char *(*real)(PGresult *);
	struct fake_result *f = fake_find(res);

	if (f)
		return f->cmd_status;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "PQcmdStatus");
	return real(res);
}

static PGresult *fake_track(PGresult *res, const char *sqlstate, const char *message,
			    const char *cmd_status)
{
	struct fake_result *f;

	assert(fake_nresults < FAKE_MAX_RESULTS);
	f = &fake_results[fake_nresults++];
	memset(f, 0, sizeof(*f));
	f->res = res;
	snprintf(f->sqlstate, sizeof(f->sqlstate), "%s", sqlstate ? sqlstate : "");
	f->message = message ? strdup(message) : NULL;
	snprintf(f->cmd_status, sizeof(f->cmd_status), "%s", cmd_status ? cmd_status : "");
	return res;
}

/* A result is freed: its address may come back for the next one. */
static void fake_untrack(const PGresult *res)
{
	struct fake_result *f = fake_find(res);

	if (!f)
		return;
	free(f->message);
	*f = fake_results[--fake_nresults];
}

/* ---- results ---- */

PGresult *fake_result_ok(const char *cmd_status)
{
	return fake_track(PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK), NULL, NULL, cmd_status);
}

PGresult *fake_result_sync(void)
{
	return fake_track(PQmakeEmptyPGresult(NULL, PGRES_PIPELINE_SYNC), NULL, NULL, NULL);
}

PGresult *fake_result_aborted(void)
{
	return fake_track(PQmakeEmptyPGresult(NULL, PGRES_PIPELINE_ABORTED), NULL, NULL, NULL);
}

PGresult *fake_result_error(const char *sqlstate, const char *message)
{
	return fake_track(PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR), sqlstate, message, NULL);
}

PGresult *fake_result_rows(int nfields, int ntuples, const char *const *values)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc *attrs = calloc((size_t)nfields, sizeof(*attrs));
	int i, k;

	for (i = 0; i < nfields; i++) {
		attrs[i].name = (char *)"f";
		attrs[i].typid = 25; /* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	PQsetResultAttrs(res, nfields, attrs);
	free(attrs);
	for (k = 0; k < ntuples; k++)
		for (i = 0; i < nfields; i++) {
			const char *v = values[k * nfields + i];
			PQsetvalue(res, k, i, (char *)v, v ? (int)strlen(v) : -1);
		}
	return fake_track(res, NULL, NULL, "SELECT");
}

void fake_pgconn_reset(void)
{
	size_t i;

	for (i = 0; i < fake_count; i++) {
		free(fake_cmds[(fake_head + i) % FAKE_MAX_CMDS].sql);
		free(fake_cmds[(fake_head + i) % FAKE_MAX_CMDS].param1);
	}
	fake_head = fake_count = 0;
	for (i = 0; i < fake_nresults; i++)
		free(fake_results[i].message);
	fake_nresults = 0;
}

/* ---- the command log ---- */

static void fake_record(struct pgconn *pc, int tag, size_t arg, const char *sql, const char *param1)
{
	struct fake_cmd *c;

	assert(fake_count < FAKE_MAX_CMDS);
	c = &fake_cmds[(fake_head + fake_count++) % FAKE_MAX_CMDS];
	c->pc = pc;
	c->tag = tag;
	c->arg = arg;
	c->sql = strdup(sql);
	c->param1 = param1 ? strdup(param1) : NULL;
	c->script = false;
	pc->cmd_count++;
}

size_t fake_pgconn_pending(void)
{
	return fake_count;
}

const struct fake_cmd *fake_pgconn_peek(void)
{
	return fake_count ? &fake_cmds[fake_head] : NULL;
}

bool fake_pgconn_answer(PGresult *res)
{
	struct fake_cmd c;
	struct pgconn *pc;

	if (!fake_count)
		return false;
	c = fake_cmds[fake_head];
	fake_head = (fake_head + 1) % FAKE_MAX_CMDS;
	fake_count--;
	pc = c.pc;
	pc->cmd_count--;
	pc->pool->ops.on_result(pc, pc->job, c.tag, c.arg, res);
	fake_untrack(res);
	PQclear(res);
	free(c.sql);
	free(c.param1);
	return true;
}

/* ---- pgconn.h ---- */

void pgpool_init(struct pgpool *pool, struct ev_loop *loop, const char *dsn, size_t n,
		 const struct pgconn_ops *ops)
{
	size_t i;

	memset(pool, 0, sizeof(*pool));
	pool->loop = loop;
	pool->ops = *ops;
	pool->n = n;
	pool->conns = calloc(n, sizeof(*pool->conns));
	pool->epoch_id = 1;
	for (i = 0; i < n; i++) {
		pool->conns[i].pool = pool;
		pool->conns[i].index = (int)i;
		pool->conns[i].fd = -1;
		pool->conns[i].epoch_id = 1;
		/* never connects: enough for PQescapeIdentifier */
		pool->conns[i].pg = PQconnectStart("host=/nonexistent-pgcoalesce-test dbname=x");
	}
	(void)dsn;
}

void pgpool_start(struct pgpool *pool)
{
	size_t i;

	for (i = 0; i < pool->n; i++)
		pool->conns[i].state = PGCONN_IDLE;
	pool->up = (int)pool->n;
}

void pgpool_free(struct pgpool *pool)
{
	size_t i;

	for (i = 0; i < pool->n; i++)
		PQfinish(pool->conns[i].pg);
	free(pool->conns);
	memset(pool, 0, sizeof(*pool));
}

enum pgpool_xid_fate pgpool_xid_fate(const struct pgpool *pool, unsigned long epoch_id,
				     unsigned long long xid)
{
	(void)xid;
	return epoch_id == pool->epoch_id ? PGPOOL_SAME_EPOCH : PGPOOL_XID_UNKNOWN;
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

bool pgconn_send(struct pgconn *pc, int tag, size_t arg, const char *sql,
		 int nparams, const char *const *values)
{
	fake_record(pc, tag, arg, sql, nparams > 0 ? values[0] : NULL);
	return true;
}

bool pgconn_send_prepared(struct pgconn *pc, int tag, size_t arg, const char *sql,
			  int nparams, const char *const *values)
{
	return pgconn_send(pc, tag, arg, sql, nparams, values);
}

/* Each step of a script is recorded as a command of its own; a COPY's data as its param1. */
bool pgconn_send_script(struct pgconn *pc, const struct pgconn_step *steps, size_t n,
			int sync_tag, size_t sync_arg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *param1 = steps[i].copy ? buf_cstr(steps[i].copy)
				     : steps[i].nparams ? steps[i].values[0] : NULL;
		fake_record(pc, steps[i].tag, steps[i].arg, steps[i].sql, param1);
		fake_cmds[(fake_head + fake_count - 1) % FAKE_MAX_CMDS].script = true;
		if (steps[i].copy)
			buf_reset(steps[i].copy);
	}
	fake_record(pc, sync_tag, sync_arg, "SYNC", NULL);
	return true;
}

void pgconn_forget_statements(struct pgconn *pc)
{
	(void)pc;
}

bool pgconn_sync(struct pgconn *pc, int tag, size_t arg)
{
	fake_record(pc, tag, arg, "SYNC", NULL);
	return true;
}

void pgconn_break(struct pgconn *pc, const char *why)
{
	pgconn_abort(pc, why);
}

/* The connection is lost: its queue is gone, the job is told (as pgconn_lost does). */
void pgconn_abort(struct pgconn *pc, const char *why)
{
	void *job = pc->job;
	size_t i, kept = 0;

	for (i = 0; i < fake_count; i++) {
		struct fake_cmd *c = &fake_cmds[(fake_head + i) % FAKE_MAX_CMDS];
		if (c->pc == pc) {
			free(c->sql);
			free(c->param1);
		} else
			fake_cmds[(fake_head + kept++) % FAKE_MAX_CMDS] = *c;
	}
	fake_count = kept;
	snprintf(pc->last_error, sizeof(pc->last_error), "%s", why);
	snprintf(pc->pool->last_error, sizeof(pc->pool->last_error), "%s", why);
	pc->cmd_count = 0;
	pc->job = NULL;
	pc->state = PGCONN_DOWN;
	pc->pool->up--;
	if (job)
		pc->pool->ops.on_lost(pc, job);
}

void fake_pgconn_up(struct pgconn *pc)
{
	pc->state = PGCONN_IDLE;
	pc->pool->up++;
}
