/*
 * sqlbuild.c — the coalesced INSERT statement and its array parameters
 * (see sqlbuild.h).
 */
#include "sqlbuild.h"

#include <string.h>

#include "jsontext.h"

static bool put_ident(struct buf *sql, PGconn *pg, const char *name)
{
	char *q = PQescapeIdentifier(pg, name, strlen(name));

	if (!q)
		return false;
	buf_puts(sql, q);
	PQfreemem(q);
	return true;
}

static bool put_names(struct buf *sql, PGconn *pg, char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(sql, ',');
		if (!put_ident(sql, pg, names[i]))
			return false;
	}
	return true;
}

/* SELECT … FROM ROWS FROM (pg_catalog.unnest(…), …) AS u(…): the rows to insert, in order where that matters. */
static void put_source(struct buf *sql, const struct table_schema *s, const struct colset *cs,
		       const int *col_index, const struct sqlbuild_opts *o)
{
	bool ordered = o->conflict || o->keyed;
	size_t i;

	buf_puts(sql, " SELECT");
	for (i = 0; i < cs->n; i++) {
		const struct schema_column *c = &s->columns[col_index[i]];
		buf_printf(sql, "%sc%zu", i ? "," : " ", i + 1);
		if (c->via_text)
			buf_printf(sql, "::%s", c->type);
	}
	if (cs->n == 0 && !o->keyed) {
		buf_puts(sql, " FROM pg_catalog.generate_series(1, $1::int)");
		return;
	}
	/*
	 * ROWS FROM of qualified one-array unnests is what PostgreSQL turns
	 * unnest(a, b) into; written out, no function of the role's search_path
	 * can stand in for unnest (one with a single array argument could).
	 */
	buf_puts(sql, " FROM ROWS FROM (");
	for (i = 0; i < cs->n; i++) {
		const struct schema_column *c = &s->columns[col_index[i]];
		buf_printf(sql, "%spg_catalog.unnest($%zu::%s[])", i ? "," : "", i + 1,
			   c->via_text ? "pg_catalog.text" : c->type);
	}
	if (o->keyed)
		buf_printf(sql, "%spg_catalog.unnest($%zu::pg_catalog.text[])", cs->n ? "," : "", cs->n + 1);
	buf_puts(sql, ordered ? ") WITH ORDINALITY AS u(" : ") AS u(");
	for (i = 0; i < cs->n; i++)
		buf_printf(sql, "%sc%zu", i ? "," : "", i + 1);
	if (o->keyed)
		buf_puts(sql, cs->n ? ",pgcoalesce_key" : "pgcoalesce_key");
	if (ordered)
		buf_puts(sql, ",pgcoalesce_ord");
	buf_putc(sql, ')');
	/*
	 * A row goes in if its key was stored by this attempt (the token). A
	 * scalar subquery, not EXISTS: PostgreSQL may run an EXISTS under OR as
	 * a hashed subplan, reading the whole key table every batch (seen: 6 ms
	 * a batch with 100k keys); this one is a primary key probe per row.
	 */
	if (o->keyed)
		buf_printf(sql, " WHERE u.pgcoalesce_key IS NULL OR (SELECT k.token FROM pgcoalesce.keys k "
			   "WHERE k.key OPERATOR(pg_catalog.=) u.pgcoalesce_key) OPERATOR(pg_catalog.=) $%zu",
			   cs->n + 2);
	if (ordered)
		buf_puts(sql, " ORDER BY u.pgcoalesce_ord");
}

/* ON CONFLICT … DO …, and what the statement returns. */
static bool put_conflict(struct buf *sql, PGconn *pg, const struct conflict *c, bool returning)
{
	size_t i;

	buf_puts(sql, " ON CONFLICT");
	if (c->ntarget) {
		buf_puts(sql, " (");
		if (!put_names(sql, pg, c->target, c->ntarget))
			return false;
		buf_putc(sql, ')');
	} else if (c->constraint) {
		buf_puts(sql, " ON CONSTRAINT ");
		if (!put_ident(sql, pg, c->constraint))
			return false;
	}
	if (c->action == CONFLICT_NOTHING) {
		buf_puts(sql, " DO NOTHING");
	} else {
		buf_puts(sql, " DO UPDATE SET ");
		for (i = 0; i < c->nset + c->nadd; i++) {
			const char *col = i < c->nset ? c->set[i] : c->add[i - c->nset];
			if (i)
				buf_putc(sql, ',');
			if (!put_ident(sql, pg, col))
				return false;
			buf_puts(sql, i < c->nset ? " = EXCLUDED." : " = pgcoalesce_t.");
			if (!put_ident(sql, pg, col))
				return false;
			if (i >= c->nset) {
				/* unqualified on purpose: the column type's own +, as the user's statement would find it */
				buf_puts(sql, " + EXCLUDED.");
				if (!put_ident(sql, pg, col))
					return false;
			}
		}
	}
	/* an inserted row has no xmax; pg_catalog's =, as the role's search_path may hold another */
	buf_puts(sql, returning ? " RETURNING (pgcoalesce_t.xmax OPERATOR(pg_catalog.=) 0), pgcoalesce_t.*"
				: " RETURNING (pgcoalesce_t.xmax OPERATOR(pg_catalog.=) 0)");
	return true;
}

bool sqlbuild_insert(struct buf *sql, PGconn *pg, const struct table_schema *s,
		     const struct colset *cs, const int *col_index, const struct sqlbuild_opts *o)
{
	buf_puts(sql, "INSERT INTO ");
	if (!put_ident(sql, pg, s->nspname))
		return false;
	buf_putc(sql, '.');
	if (!put_ident(sql, pg, s->relname))
		return false;
	if (o->conflict)
		buf_puts(sql, " AS pgcoalesce_t");
	if (cs->n) {
		buf_puts(sql, " (");
		if (!put_names(sql, pg, cs->names, cs->n))
			return false;
		buf_putc(sql, ')');
	}
	put_source(sql, s, cs, col_index, o);
	if (o->conflict)
		return put_conflict(sql, pg, o->conflict, o->returning);
	if (o->returning)
		buf_puts(sql, " RETURNING *");
	return true;
}

/*
 * The text value v holds for column col: a JSON array of an array column
 * becomes a PostgreSQL array literal, built in `tmp`.
 */
static void value_text(struct buf *tmp, const struct value *v, const struct schema_column *col,
		       const char **text, size_t *len)
{
	if (col->is_array && v->kind == VALUE_ARRAY) {
		buf_reset(tmp);
		jsontext_to_pg_array(tmp, v->text, v->len, col->elem_json, col->delim);
		*text = tmp->data;
		*len = tmp->len;
	} else {
		*text = v->text;
		*len = v->len;
	}
}

void sqlbuild_array_param(struct buf *out, struct row *const *rows, size_t n,
			  size_t vi, const struct schema_column *col)
{
	struct buf tmp;
	const char *text;
	size_t i, len;

	buf_init(&tmp);
	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		const struct value *v = &rows[i]->values[vi];
		if (i)
			buf_putc(out, ',');
		if (v->kind == VALUE_NULL) {
			buf_append(out, "NULL", 4);
		} else {
			value_text(&tmp, v, col, &text, &len);
			jsontext_put_pg_quoted(out, text, len);
		}
	}
	buf_putc(out, '}');
	buf_free(&tmp);
}

bool sqlbuild_copy(struct buf *sql, PGconn *pg, const struct table_schema *s, const struct colset *cs)
{
	buf_puts(sql, "COPY ");
	if (!put_ident(sql, pg, s->nspname))
		return false;
	buf_putc(sql, '.');
	if (!put_ident(sql, pg, s->relname))
		return false;
	buf_puts(sql, " (");
	if (!put_names(sql, pg, cs->names, cs->n))
		return false;
	buf_puts(sql, ") FROM STDIN");
	return true;
}

/* Text-format COPY escaping: the backslash, and the characters that end a value or a line. */
static void put_copy_escaped(struct buf *out, const char *s, size_t n)
{
	size_t i, from = 0;
	char e;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\': e = '\\'; break;
		case '\t': e = 't'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		default: continue;
		}
		buf_append(out, s + from, i - from);
		buf_putc(out, '\\');
		buf_putc(out, e);
		from = i + 1;
	}
	buf_append(out, s + from, n - from);
}

void sqlbuild_copy_data(struct buf *out, struct row *const *rows, size_t n,
			const struct table_schema *s, const int *col_index, size_t ncol)
{
	struct buf tmp;
	const char *text;
	size_t i, k, len;

	buf_init(&tmp);
	for (i = 0; i < n; i++) {
		for (k = 0; k < ncol; k++) {
			const struct value *v = &rows[i]->values[k];
			if (k)
				buf_putc(out, '\t');
			if (v->kind == VALUE_NULL) {
				buf_append(out, "\\N", 2);
			} else {
				value_text(&tmp, v, &s->columns[col_index[k]], &text, &len);
				put_copy_escaped(out, text, len);
			}
		}
		buf_putc(out, '\n');
	}
	buf_free(&tmp);
}

void sqlbuild_key_param(struct buf *out, struct row *const *rows, size_t n)
{
	size_t i;

	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		if (rows[i]->key)
			jsontext_put_pg_quoted(out, rows[i]->key, rows[i]->key_len);
		else
			buf_append(out, "NULL", 4);
	}
	buf_putc(out, '}');
}

void sqlbuild_count_param(struct buf *out, size_t n)
{
	buf_printf(out, "%zu", n);
}
