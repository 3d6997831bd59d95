/*
 * cli_describe.c — tables described by the sidecar, and the INSERT checks
 * that need them (see cli_describe.h).
 */
#include "cli_describe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_session.h"
#include "jsontext.h"
#include "jsontok.h"

void cli_describe_init(struct cli_describe *d)
{
	memset(d, 0, sizeof(*d));
}

void cli_relation_free(struct cli_relation *rel)
{
	size_t i;

	for (i = 0; i < rel->ncols; i++)
		free(rel->cols[i].name);
	free(rel->cols);
	free(rel->schema);
	free(rel->table);
	memset(rel, 0, sizeof(*rel));
}

void cli_describe_free(struct cli_describe *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		cli_relation_free(&d->rels[i]);
	free(d->rels);
	cli_describe_init(d);
}

static bool same_name(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static long find(const struct cli_describe *d, const char *schema, const char *table)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (same_name(d->rels[i].schema, schema) && strcmp(d->rels[i].table, table) == 0)
			return (long)i;
	return -1;
}

void cli_describe_forget(struct cli_describe *d, const char *schema, const char *table)
{
	long i = find(d, schema, table);

	if (i < 0)
		return;
	cli_relation_free(&d->rels[i]);
	d->rels[i] = d->rels[--d->n];
}

/* ------------------------------------------------------------ the answer */

/* Token i's string value, unescaped and malloc'd. */
static char *tok_string(const struct jsontok_doc *doc, size_t i)
{
	struct buf b;

	buf_init(&b);
	jsontext_unescape(&b, jsontok_text(doc, i), doc->toks[i].len);
	return (char *)buf_cstr(&b);
}

/* The value token of member `name` of the object at token obj, or 0. */
static size_t member(const struct jsontok_doc *doc, size_t obj, const char *name)
{
	size_t i = obj + 1, k;

	for (k = 0; k < doc->toks[obj].count; k++) {
		if (jsontok_string_is(doc, i, name, strlen(name)))
			return i + 1;
		i = doc->toks[i + 1].end;
	}
	return 0;
}

/* One column object: its name, and whether it can be written. */
static bool parse_column(const struct jsontok_doc *doc, size_t obj, struct cli_column *col)
{
	size_t name = member(doc, obj, "name"), ins = member(doc, obj, "insertable");

	if (doc->toks[obj].type != JSONTOK_OBJECT || !name || doc->toks[name].type != JSONTOK_STRING)
		return false;
	col->name = tok_string(doc, name);
	/* absent: assume it can (the sidecar checks a written value anyway) */
	col->insertable = !ins || doc->toks[ins].type != JSONTOK_FALSE;
	return true;
}

bool cli_describe_parse(const char *line, size_t len, struct cli_relation *rel)
{
	struct jsontok_doc doc;
	size_t arr, i, k;
	bool ok = false;

	jsontok_init(&doc);
	if (jsontok_parse(&doc, line, len) == JSONTOK_OK && doc.toks[0].type == JSONTOK_OBJECT &&
	    (arr = member(&doc, 0, "columns")) && doc.toks[arr].type == JSONTOK_ARRAY) {
		rel->cols = pgc_calloc(doc.toks[arr].count + 1, sizeof(*rel->cols));
		ok = true;
		for (i = arr + 1, k = 0; ok && k < doc.toks[arr].count; k++, i = doc.toks[i].end) {
			ok = parse_column(&doc, i, &rel->cols[rel->ncols]);
			rel->ncols += ok;
		}
	}
	jsontok_free(&doc);
	return ok;
}

/* ------------------------------------------------------------ asking */

enum got {
	GOT_IT = 0,
	GOT_UNSUPPORTED,   /* the sidecar has no describe op */
	GOT_ERROR,         /* its error is in err */
	GOT_NOTHING,       /* no answer (reported) */
};

static int send_describe(pgc_client *pgc, void *user, const void *arg)
{
	return pgc_send_op(pgc, "describe", arg, user, NULL);
}

/* The sidecar's error as a statement error (a missing table points at its name). */
static void answer_error(const struct cli_answer *a, const struct cli_sql_insert *ins,
			 struct cli_sql_error *err)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->code, sizeof(err->code), "%s", a->code ? a->code : "");
	snprintf(err->message, sizeof(err->message), "%s", a->message ? a->message : "describe failed");
	snprintf(err->hint, sizeof(err->hint), "%s", a->hint ? a->hint : "");
	snprintf(err->detail, sizeof(err->detail), "%s", a->detail ? a->detail : "");
	err->position = a->code && strcmp(a->code, "42P01") == 0 ? (long)ins->table_pos : -1;
}

/* Ask the sidecar to describe the statement's table. */
static enum got ask(struct cli_session *s, const struct cli_sql_insert *ins, struct cli_sql_error *err,
		    struct cli_relation *rel)
{
	struct cli_answer a;
	struct buf members;
	enum cli_conn_status st;
	enum got got = GOT_NOTHING;

	memset(&a, 0, sizeof(a));
	buf_init(&members);
	buf_puts(&members, "\"table\":");
	jsontext_put_string(&members, ins->table, strlen(ins->table));
	if (ins->schema) {
		buf_puts(&members, ",\"schema\":");
		jsontext_put_string(&members, ins->schema, strlen(ins->schema));
	}
	st = cli_session_ready(s) ? cli_conn_request(&s->conn, &a, send_describe, buf_cstr(&members))
				  : CLI_CONN_LOST;
	if (st == CLI_CONN_INTERRUPTED)
		cli_session_interrupted(s);
	else if (st == CLI_CONN_LOST || a.cls == PGC_ERR_CONNECTION_LOST)
		cli_session_lost(s);
	else if (!a.ok && a.code && strcmp(a.code, "PC009") == 0)
		got = GOT_UNSUPPORTED;
	else if (!a.ok)
		got = GOT_ERROR;
	else if (cli_describe_parse(a.line, strlen(a.line), rel))
		got = GOT_IT;
	else
		got = GOT_ERROR; /* not a description we can read */
	if (got == GOT_ERROR && !a.ok)
		answer_error(&a, ins, err);
	else if (got == GOT_ERROR)
		snprintf(err->message, sizeof(err->message), "the sidecar's description of \"%s\" "
			 "has no columns", ins->table);
	cli_answer_free(&a);
	buf_free(&members);
	return got;
}

/* The statement's table, from the cache unless `fresh`, else from the sidecar. */
static enum got describe(struct cli_session *s, const struct cli_sql_insert *ins, bool fresh,
			 struct cli_sql_error *err, const struct cli_relation **out)
{
	struct cli_describe *d = &s->describe;
	struct cli_relation rel;
	enum got got;

	if (fresh)
		cli_describe_forget(d, ins->schema, ins->table);
	if (find(d, ins->schema, ins->table) >= 0) {
		*out = &d->rels[find(d, ins->schema, ins->table)];
		return GOT_IT;
	}
	if (d->unsupported)
		return GOT_UNSUPPORTED;
	memset(&rel, 0, sizeof(rel));
	got = ask(s, ins, err, &rel);
	d->unsupported = got == GOT_UNSUPPORTED;
	if (got != GOT_IT) {
		cli_relation_free(&rel);
		return got;
	}
	rel.schema = ins->schema ? pgc_strdup(ins->schema) : NULL;
	rel.table = pgc_strdup(ins->table);
	d->rels = pgc_realloc(d->rels, (d->n + 1) * sizeof(*d->rels));
	d->rels[d->n] = rel;
	*out = &d->rels[d->n++];
	return GOT_IT;
}

/* ------------------------------------------------------------ the checks */

static const struct cli_column *column(const struct cli_relation *rel, const char *name)
{
	size_t i;

	for (i = 0; i < rel->ncols; i++)
		if (strcmp(rel->cols[i].name, name) == 0)
			return &rel->cols[i];
	return NULL;
}

/* The first listed column the table does not have, or ncolumns. */
static size_t first_missing(const struct cli_sql_insert *ins, const struct cli_relation *rel)
{
	size_t i;

	for (i = 0; i < ins->ncolumns && column(rel, ins->columns[i]); i++)
		;
	return i;
}

/* Is column j DEFAULT in some tuple? */
static bool column_defaulted(const struct cli_sql_insert *ins, size_t j)
{
	size_t t;

	for (t = 0; t < ins->ntuples; t++)
		if (ins->values[t * ins->nvalues + j].len == 0)
			return true;
	return false;
}

static void set_err(struct cli_sql_error *err, const char *code, long pos, const char *detail)
{
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->detail, sizeof(err->detail), "%s", detail ? detail : "");
	err->hint[0] = '\0';
	err->position = pos;
}

/* The listed columns exist (asking again once: the cache may be stale). */
static enum cli_check check_columns(struct cli_session *s, struct cli_sql_insert *ins,
				    struct cli_sql_error *err, const struct cli_relation **rel)
{
	size_t i = first_missing(ins, *rel);
	enum got got;

	if (i == ins->ncolumns)
		return CLI_CHECK_OK;
	got = describe(s, ins, true, err, rel);
	if (got != GOT_IT)
		return got == GOT_ERROR ? CLI_CHECK_ERROR : got == GOT_NOTHING ? CLI_CHECK_FAILED : CLI_CHECK_OK;
	if ((i = first_missing(ins, *rel)) == ins->ncolumns)
		return CLI_CHECK_OK;
	snprintf(err->message, sizeof(err->message), "column \"%s\" of relation \"%s\" does not exist",
		 ins->columns[i], ins->table);
	set_err(err, "42703", (long)ins->column_pos[i], NULL);
	return CLI_CHECK_ERROR;
}

/* A positional INSERT's columns: the table's, in order. */
static enum cli_check map_columns(struct cli_sql_insert *ins, const struct cli_relation *rel,
				  struct cli_sql_error *err)
{
	const char **names = pgc_calloc(rel->ncols + 1, sizeof(char *));
	size_t i;
	bool ok;

	for (i = 0; i < rel->ncols; i++)
		names[i] = rel->cols[i].name;
	ok = cli_sql_set_columns(ins, names, rel->ncols, err);
	free(names);
	return ok ? CLI_CHECK_OK : CLI_CHECK_ERROR;
}

/* DEFAULT for a column the relation cannot take: psql's error for a view. */
static enum cli_check check_defaults(const struct cli_sql_insert *ins, const struct cli_relation *rel,
				     struct cli_sql_error *err)
{
	size_t j;

	for (j = 0; j < ins->ncolumns; j++) {
		const struct cli_column *c = column(rel, ins->columns[j]);
		if (!c || c->insertable || !column_defaulted(ins, j))
			continue;
		snprintf(err->message, sizeof(err->message), "cannot insert into column \"%s\" of view \"%s\"",
			 ins->columns[j], ins->table);
		set_err(err, "0A000", -1,
			"View columns that are not columns of their base relation are not updatable.");
		return CLI_CHECK_ERROR;
	}
	return CLI_CHECK_OK;
}

enum cli_check cli_describe_check(struct cli_session *s, struct cli_sql_insert *ins,
				  struct cli_sql_error *err)
{
	const struct cli_relation *rel = NULL;
	enum cli_check r;

	memset(err, 0, sizeof(*err));
	err->position = -1;
	if (!ins->positional && !cli_sql_has_default(ins))
		return CLI_CHECK_OK;
	switch (describe(s, ins, false, err, &rel)) {
	case GOT_IT:
		break;
	case GOT_ERROR:
		return CLI_CHECK_ERROR;
	case GOT_NOTHING:
		return CLI_CHECK_FAILED;
	case GOT_UNSUPPORTED:
		if (!ins->positional)
			return CLI_CHECK_OK; /* an older sidecar: DEFAULT columns unchecked */
		snprintf(err->message, sizeof(err->message),
			 "INSERT without a column list is not supported by this sidecar");
		snprintf(err->hint, sizeof(err->hint), "It cannot describe tables (PC009); name the "
			 "columns, as in INSERT INTO t (a, b) VALUES (1, 2).");
		snprintf(err->code, sizeof(err->code), "0A000");
		return CLI_CHECK_ERROR;
	}
	r = ins->positional ? map_columns(ins, rel, err) : check_columns(s, ins, err, &rel);
	return r == CLI_CHECK_OK ? check_defaults(ins, rel, err) : r;
}
