/*
 * cli_insert.c — one INSERT statement through the sidecar (see
 * cli_insert.h): each tuple is one request, all of them pipelined through
 * libpgcoalesce (at most its in-flight bound at a time), then the outcome
 * the way psql prints it.
 */
#include "cli_insert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_output.h"
#include "jsontext.h"

struct insert_run {
	struct cli_session          *s;
	const struct cli_sql_insert *ins;
	struct cli_answer           *ans;       /* per tuple */
	size_t                       sent;      /* tuples handed to the library */
	size_t                       answered;
	size_t                       ok;
	size_t                       written;   /* ok and inserted or updated: psql's INSERT 0 k */
	size_t                       duplicates;/* ok, their key written before: not written again */
	pgc_row                     *row;
	const char                 **returning; /* NULL-terminated, or NULL */
	struct pgc_on_conflict       oc;
	struct pgc_insert_opts       opts;
	bool                         refused;   /* not sent: the sidecar lacks an extension */
	char                         refusal[512]; /* ... and the error's message */
};

static void insert_on_ack(void *arg, const struct pgc_ack *a)
{
	struct insert_run *run = arg;
	size_t i = (size_t)(uintptr_t)a->user;
	struct cli_answer *ans = &run->ans[i];

	if (a->ok && !a->row) {
		ans->done = ans->ok = true; /* the common case: nothing to keep */
	} else {
		cli_answer_copy(ans, a);
	}
	run->answered++;
	run->ok += a->ok;
	/* as psql counts ON CONFLICT: a row that did nothing is not in the tag */
	if (a->ok && a->duplicate)
		run->duplicates++;
	else if (a->ok && a->action != PGC_ACTION_NONE)
		run->written++;
}

/* Tuple i's row: each value is already JSON text (cli_sql made it). */
static void tuple_row(struct insert_run *run, size_t i)
{
	const struct cli_sql_insert *ins = run->ins;
	const struct cli_sql_value *v = ins->values + i * ins->nvalues;
	size_t j;

	pgc_row_clear(run->row);
	for (j = 0; j < ins->ncolumns; j++)
		if (v[j].len) /* 0: DEFAULT, the column is left out */
			pgc_row_add_json(run->row, ins->columns[j], ins->json.data + v[j].off, v[j].len);
}

/* Hand every tuple to the library, waiting for room as it fills. Stops
 * early (the rest not sent, reported as such) if a key cannot be made. */
static enum cli_conn_status send_all(struct insert_run *run)
{
	struct cli_conn *conn = &run->s->conn;
	const struct cli_sql_insert *ins = run->ins;
	enum cli_conn_status st;
	char key[CLI_KEY_SIZE];
	int rc;

	while (run->sent < ins->ntuples) {
		tuple_row(run, run->sent);
		run->opts.key = NULL;
		if (run->s->keys.mode != CLI_KEY_OFF) {
			if (!cli_keys_make(&run->s->keys, run->sent, key)) {
				fprintf(stderr, "%sERROR:  no random bytes for an idempotency key\n",
					cli_session_where(run->s));
				break;
			}
			run->opts.key = key;
		}
		rc = pgc_send_insert_ex(conn->pgc, ins->table, run->row, &run->opts,
					(void *)(uintptr_t)run->sent, NULL);
		if (rc == PGC_OK) {
			run->sent++;
			continue;
		}
		if (rc != PGC_E_FULL)
			return CLI_CONN_LOST;
		if ((st = cli_conn_wait(conn)) != CLI_CONN_OK)
			return st;
	}
	while (run->answered < run->sent)
		if ((st = cli_conn_wait(conn)) != CLI_CONN_OK)
			return st;
	return CLI_CONN_OK;
}

/* The RETURNING rows of the committed tuples, in tuple order. */
static void print_returning(struct insert_run *run)
{
	const struct cli_sql_insert *ins = run->ins;
	bool star = strcmp(ins->returning[0], "*") == 0;
	struct cli_table t;
	struct buf key;
	size_t i, j;

	cli_table_init(&t, star ? 0 : ins->nreturning);
	for (j = 0; !star && j < ins->nreturning; j++)
		cli_table_set_header(&t, j, ins->returning[j]);
	buf_init(&key);
	for (i = 0; i < ins->ntuples; i++) {
		const char *row = run->ans[i].row, *val;
		size_t pos = 0, vlen, len = row ? strlen(row) : 0, r, col;

		if (!run->ans[i].ok || !row)
			continue;
		if (star && t.ncols == 0)
			while (jsontext_object_next(row, len, &pos, &key, &val, &vlen))
				cli_table_column(&t, buf_cstr(&key), true);
		r = cli_table_add_row(&t);
		for (pos = 0; jsontext_object_next(row, len, &pos, &key, &val, &vlen);)
			if ((col = cli_table_column(&t, buf_cstr(&key), false)) != CLI_TABLE_NO_COLUMN)
				cli_table_set_json(&t, r, col, val, vlen);
	}
	buf_free(&key);
	cli_session_print_table(run->s, &t);
	cli_table_free(&t);
}

/*
 * Each failed row as psql prints an error. An ERROR means the row is not in
 * the database, but for PC007, whose report says it may or may not be.
 * Rows the connection took with it are counted, not listed.
 */
static void report_rows(struct insert_run *run, size_t *in_doubt, size_t *unsent)
{
	size_t i, n = run->ins->ntuples;
	char context[96];

	for (i = 0; i < n; i++) {
		struct cli_answer *a = &run->ans[i];
		if (!a->done || a->cls == PGC_ERR_CONNECTION_LOST) {
			bool sent = i < run->sent && !(a->done && a->not_written);
			*(sent ? in_doubt : unsent) += 1;
			continue;
		}
		if (a->ok)
			continue;
		snprintf(context, sizeof(context), "row %zu of %zu of the INSERT", i + 1, n);
		cli_session_report(run->s, a, n > 1 ? context : NULL);
	}
}

/* psql's variables after a statement: ROW_COUNT, ERROR, SQLSTATE, LAST_ERROR_*. */
static void set_vars(struct insert_run *run)
{
	struct cli_session *s = run->s;
	const struct cli_answer *first = NULL;
	char count[32];
	size_t i;

	if (run->refused) {
		cli_session_set_var(s, "ROW_COUNT", "0");
		cli_session_set_var(s, "ERROR", "true");
		cli_session_set_var(s, "SQLSTATE", "0A000");
		cli_session_set_var(s, "LAST_ERROR_SQLSTATE", "0A000");
		cli_session_set_var(s, "LAST_ERROR_MESSAGE", run->refusal);
		return;
	}
	for (i = 0; i < run->ins->ntuples && !first; i++)
		if (!run->ans[i].ok)
			first = &run->ans[i];
	for (i = 0; i < run->ins->ntuples; i++) {
		const char *code = run->ans[i].code;
		/* the table changed: describe it again before the next DEFAULT */
		if (code && (strcmp(code, "42703") == 0 || strcmp(code, "42P01") == 0)) {
			cli_describe_forget(&s->describe, run->ins->schema, run->ins->table);
			break;
		}
	}
	snprintf(count, sizeof(count), "%zu", run->written); /* psql's: inserted or updated */
	cli_session_set_var(s, "ROW_COUNT", count);
	cli_session_set_var(s, "ERROR", first ? "true" : "false");
	if (!first) {
		cli_session_set_var(s, "SQLSTATE", "00000");
		return;
	}
	/* a row lost with the connection has no SQLSTATE: 08006 is libpq's */
	cli_session_set_var(s, "SQLSTATE", first->code && *first->code ? first->code : "08006");
	cli_session_set_var(s, "LAST_ERROR_SQLSTATE", first->code && *first->code ? first->code : "08006");
	cli_session_set_var(s, "LAST_ERROR_MESSAGE", first->message ? first->message
				 : "connection to the sidecar lost");
}

static void report_outcome(struct insert_run *run)
{
	struct cli_session *s = run->s;
	size_t n = run->ins->ntuples, in_doubt = 0, unsent = 0;

	set_vars(run);
	if (run->refused) {
		cli_session_failed(s);
		return; /* reported: nothing was sent */
	}
	report_rows(run, &in_doubt, &unsent);
	if (in_doubt)
		fprintf(stderr, "%sERROR:  %zu of %zu rows got no answer: they may or may not be in "
			"the database\n", cli_session_where(s), in_doubt, n);
	if (unsent)
		fprintf(stderr, "%sERROR:  %zu of %zu rows were not sent: they are not in the database\n",
			cli_session_where(s), unsent, n);
	if (run->duplicates)
		fprintf(stderr, "%sNOTICE:  %zu of %zu rows were written before (their keys are known): "
			"not written again\n", cli_session_where(s), run->duplicates, n);
	if (run->ins->nreturning && run->ok)
		print_returning(run);
	/* psql's tag counts rows inserted or updated; none when every row failed */
	if (run->ok)
		cli_session_print_tag(s, "INSERT 0 %zu", run->written);
	if (run->ok < n)
		cli_session_failed(s);
}

/* The statement needs an extension the sidecar lacks: psql's error, nothing sent. */
static void refuse(struct insert_run *run, const char *what, const char *feature)
{
	char hint[256];
	struct cli_answer a;

	memset(&a, 0, sizeof(a));
	snprintf(run->refusal, sizeof(run->refusal), "the sidecar at %s does not support %s",
		 cli_session_address(run->s), what);
	snprintf(hint, sizeof(hint), "Its ping lists no \"%s\" among its features: it is older than "
		 "this pgcoalesce-cli. Nothing was sent.", feature);
	a.done = true;
	a.not_written = true;
	a.code = (char *)"0A000";
	a.message = run->refusal;
	a.hint = hint;
	cli_session_report(run->s, &a, NULL);
	run->refused = true;
}

/*
 * ON CONFLICT and keys need a sidecar that has them: one that ignored them
 * would write plain inserts (a resent row twice). Ask it first (a ping).
 * False when the statement must not be sent (refused, or the connection
 * is gone: then its rows count as not sent).
 */
static bool sidecar_can(struct insert_run *run)
{
	struct cli_session *s = run->s;
	bool keys = s->keys.mode != CLI_KEY_OFF, upsert = run->ins->conflict.present;
	enum cli_conn_status st;
	unsigned have;

	if (!keys && !upsert)
		return true;
	st = cli_conn_features(&s->conn, &have);
	if (st == CLI_CONN_LOST)
		cli_session_lost(s);
	else if (st == CLI_CONN_INTERRUPTED)
		cli_session_interrupted(s);
	if (st != CLI_CONN_OK)
		return false;
	if (upsert && !(have & CLI_FEATURE_ON_CONFLICT))
		refuse(run, "INSERT ... ON CONFLICT", "on_conflict");
	else if (keys && !(have & CLI_FEATURE_KEY))
		refuse(run, "idempotency keys (\\key)", "key");
	return !run->refused;
}

/* The statement's on_conflict and RETURNING as libpgcoalesce takes them. */
static void set_options(struct insert_run *run)
{
	const struct cli_sql_insert *ins = run->ins;
	const struct cli_sql_conflict *cf = &ins->conflict;
	size_t i;

	run->opts.schema = ins->schema;
	if (ins->nreturning) {
		run->returning = pgc_calloc(ins->nreturning + 1, sizeof(char *));
		for (i = 0; i < ins->nreturning; i++)
			run->returning[i] = ins->returning[i];
		run->opts.returning = run->returning;
	}
	if (!cf->present)
		return;
	run->oc.action = cf->update ? PGC_DO_UPDATE : PGC_DO_NOTHING;
	run->oc.columns = (const char *const *)cf->columns;
	run->oc.constraint = cf->constraint;
	run->oc.set = (const char *const *)cf->set;
	run->oc.add = (const char *const *)cf->add;
	run->opts.on_conflict = &run->oc;
}

void cli_insert_run(struct cli_session *s, const struct cli_sql_insert *ins)
{
	struct insert_run run;
	enum cli_conn_status st;
	size_t i;

	memset(&run, 0, sizeof(run));
	run.s = s;
	run.ins = ins;
	run.ans = pgc_calloc(ins->ntuples, sizeof(*run.ans));
	run.row = pgc_row_new();
	set_options(&run);
	cli_keys_next_statement(&s->keys); /* counted even if not sent: a rerun sends the same keys */
	if (cli_session_ready(s) && sidecar_can(&run)) {
		s->conn.handler = insert_on_ack;
		s->conn.handler_arg = &run;
		st = send_all(&run);
		s->conn.handler = NULL;
		if (st == CLI_CONN_LOST)
			cli_session_lost(s);
		else if (st == CLI_CONN_INTERRUPTED)
			cli_session_interrupted(s);
	}
	report_outcome(&run);
	for (i = 0; i < ins->ntuples; i++)
		cli_answer_free(&run.ans[i]);
	free(run.ans);
	free(run.returning);
	pgc_row_free(run.row);
}
