/*
 * keys.c — the idempotency key table and its pruning (see keys.h).
 */
#include "keys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_EVERY_MIN 1.0    /* seconds between pruning steps when nothing is overdue */
#define PRUNE_EVERY_MAX 10.0
#define WARN_EVERY      60.0

/*
 * Whoever may write keyed rows may run this: it creates nothing (and needs
 * no CREATE privilege) once the table exists.
 */
const char keys_setup_query[] =
	"DO $pgcoalesce$ BEGIN "
	"IF pg_catalog.to_regclass('pgcoalesce.keys') IS NULL THEN "
	"CREATE SCHEMA IF NOT EXISTS pgcoalesce; "
	"CREATE TABLE IF NOT EXISTS pgcoalesce.keys ("
	"key pg_catalog.text COLLATE pg_catalog.\"C\" PRIMARY KEY, token pg_catalog.text NOT NULL, "
	"created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()); "
	"CREATE INDEX IF NOT EXISTS keys_created_at ON pgcoalesce.keys (created_at); "
	"COMMENT ON TABLE pgcoalesce.keys IS 'idempotency keys of pgcoalesce: one row per key written "
	"within --key-retention'; "
	"END IF; END $pgcoalesce$";

/* RETURNING gives the stored keys in insertion order, which follows the ordinality. */
const char keys_insert_query[] =
	"INSERT INTO pgcoalesce.keys (key, token) "
	"SELECT u.k, $2 FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS u(k, o) ORDER BY u.o "
	"ON CONFLICT (key) DO NOTHING RETURNING key";

const char keys_probe_query[] =
	"SELECT EXISTS (SELECT FROM pgcoalesce.keys "
	"WHERE key OPERATOR(pg_catalog.=) $1 AND token OPERATOR(pg_catalog.=) $2)";

const char keys_setup_hint[] =
	"Keyed rows need the table pgcoalesce.keys: run `pgcoalesce --init-db` as a role with CREATE "
	"on the database, then GRANT USAGE ON SCHEMA pgcoalesce and SELECT, INSERT, UPDATE, DELETE ON "
	"pgcoalesce.keys to the sidecar's role.";

/*
 * The oldest keys past the retention, KEYS_PRUNE_LIMIT at most, skipping
 * any a writer holds: a short statement however many are due. OPERATOR()
 * binds all alike, left to right: the parentheses keep now() - interval
 * together.
 */
static const char prune_query[] =
	"DELETE FROM pgcoalesce.keys WHERE key OPERATOR(pg_catalog.=) ANY ("
	"SELECT key FROM pgcoalesce.keys WHERE created_at OPERATOR(pg_catalog.<) (pg_catalog.now() "
	"OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1::pg_catalog.float8)) "
	"ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED)";

/* Exact while small, the statistics' estimate once counting would cost. */
static const char count_query[] =
	"SELECT CASE WHEN s.n OPERATOR(pg_catalog.<) 100000 THEN (SELECT pg_catalog.count(*) FROM pgcoalesce.keys) "
	"ELSE s.n END FROM (SELECT pg_catalog.pg_stat_get_live_tuples('pgcoalesce.keys'::pg_catalog.regclass) AS n) s";

_Static_assert(KEYS_PRUNE_LIMIT == 1000, "prune_query's LIMIT");

static double prune_every(const struct config *cfg)
{
	return fmin(fmax(cfg->key_retention / 10.0, PRUNE_EVERY_MIN), PRUNE_EVERY_MAX);
}

static void prune_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct keys_pruner *p = w->data;

	/*
	 * libev stopped this one-shot timer before calling us, taking one more
	 * reference off the loop: give back the one ev_unref took, or every
	 * period would cost the loop a reference until ev_run returned (the
	 * daemon exiting, silently, with --key-retention 1 after eight seconds).
	 */
	ev_ref(loop);
	p->due = true;
}

void keys_pruner_init(struct keys_pruner *p, struct ev_loop *loop, const struct config *cfg,
		      struct stats *stats)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->cfg = cfg;
	p->stats = stats;
	ev_timer_init(&p->timer, prune_timer_cb, PRUNE_EVERY_MIN, 0.);
	p->timer.data = p;
	ev_timer_start(loop, &p->timer);
	ev_unref(loop); /* pruning alone does not keep the loop alive */
}

void keys_pruner_free(struct keys_pruner *p)
{
	if (ev_is_active(&p->timer)) {
		ev_ref(p->loop);
		ev_timer_stop(p->loop, &p->timer);
	}
}

bool keys_pruner_due(const struct keys_pruner *p)
{
	return p->due && !p->pc;
}

bool keys_pruner_more(const struct keys_pruner *p)
{
	return p->more && !p->pc;
}

bool keys_pruner_owns(const struct keys_pruner *p, const void *job)
{
	return job == p;
}

/*
 * How old a key must be before it is pruned: --key-retention, but never
 * less than the time within which a COMMIT in doubt may still be settled
 * by its key (the batch may run until its rows' deadline, and the lost
 * connection is retried for as long again): pruned sooner, the probe would
 * read "not committed" and the row be written a second time.
 */
double keys_prune_age(const struct config *cfg)
{
	double floor = 2 * cfg->retry_timeout + 10.0;

	return cfg->key_retention > floor ? cfg->key_retention : floor;
}

void keys_pruner_start(struct keys_pruner *p, struct pgconn *pc)
{
	char secs[32];
	const char *params[1] = { secs };

	snprintf(secs, sizeof(secs), "%.3f", keys_prune_age(p->cfg));
	pgconn_acquire(pc, p);
	p->pc = pc;
	p->due = false;
	p->more = false;
	p->deleted = -1;
	p->failed = false;
	if (pgconn_send(pc, KEYS_TAG_PRUNE, 0, prune_query, 1, params) &&
	    pgconn_send(pc, KEYS_TAG_COUNT, 0, count_query, 0, NULL))
		pgconn_sync(pc, KEYS_TAG_SYNC, 0);
}

/* The next step: at once if this one found a full page of old keys, else after a while. */
static void prune_schedule(struct keys_pruner *p, bool more)
{
	if (ev_is_active(&p->timer)) {
		ev_ref(p->loop);
		ev_timer_stop(p->loop, &p->timer);
	}
	if (more) {
		p->more = true;
		return;
	}
	ev_timer_set(&p->timer, prune_every(p->cfg), 0.);
	ev_timer_start(p->loop, &p->timer);
	ev_unref(p->loop);
}

static void prune_failed(struct keys_pruner *p, const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	unsigned long dropped;

	p->failed = true;
	if (code && (strcmp(code, "42P01") == 0 || strcmp(code, "3F000") == 0)) {
		p->stats->keys_stored = 0; /* no key table (yet): nothing to prune */
		return;
	}
	if (log_limit_check(&p->warn_limit, ev_now(p->loop), WARN_EVERY, &dropped))
		log_warn("pruning idempotency keys failed", "sqlstate=%s error=%s suppressed=%lu",
			 code ? code : "none", log_q(PQresultErrorMessage(res)), dropped);
}

void keys_pruner_on_result(struct keys_pruner *p, struct pgconn *pc, int tag, const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (tag == KEYS_TAG_SYNC) {
		p->pc = NULL;
		pgconn_release(pc, p);
		if (p->deleted > 0)
			log_debug("idempotency keys pruned", "keys=%lld", (long long)p->deleted);
		prune_schedule(p, !p->failed && p->deleted >= KEYS_PRUNE_LIMIT);
		return;
	}
	if (st == PGRES_PIPELINE_ABORTED)
		return;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		prune_failed(p, res);
	} else if (tag == KEYS_TAG_PRUNE) {
		p->deleted = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
		p->stats->keys_pruned += (uint64_t)p->deleted;
	} else if (tag == KEYS_TAG_COUNT && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		p->stats->keys_stored = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
}

void keys_pruner_on_lost(struct keys_pruner *p, struct pgconn *pc)
{
	p->pc = NULL;
	prune_schedule(p, false);
}

/* libpq's message on one line in out: newlines and tabs become spaces, the ends trimmed. */
static const char *one_line(char *out, size_t outsz, const char *msg)
{
	size_t n;
	char *p;

	snprintf(out, outsz, "%s", msg ? msg : "");
	for (p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	for (n = strlen(out); n && out[n - 1] == ' '; n--)
		out[n - 1] = '\0';
	return out;
}

int keys_init_db(const char *dsn)
{
	PGconn *pg = PQconnectdb(dsn ? dsn : "");
	PGresult *res;
	char line[1024];
	int rc = 0;

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "pgcoalesce: --init-db: cannot connect: %s\n", one_line(line, sizeof(line), PQerrorMessage(pg)));
		PQfinish(pg);
		return 1;
	}
	res = PQexec(pg, keys_setup_query);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pgcoalesce: --init-db: %s. %s\n", one_line(line, sizeof(line), PQresultErrorMessage(res)),
			keys_setup_hint);
		rc = 1;
	} else {
		printf("pgcoalesce: the idempotency key table pgcoalesce.keys is ready in database \"%s\"\n",
		       PQdb(pg));
	}
	PQclear(res);
	PQfinish(pg);
	return rc;
}
