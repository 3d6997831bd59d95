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

bool sqlbuild_insert(struct buf *sql, PGconn *pg, const struct table_schema *s,
		     const struct colset *cs, const int *col_index, bool returning)
{
	size_t i;

	buf_puts(sql, "INSERT INTO ");
	if (!put_ident(sql, pg, s->nspname))
		return false;
	buf_putc(sql, '.');
	if (!put_ident(sql, pg, s->relname))
		return false;
	if (cs->n == 0) {
		buf_puts(sql, " SELECT FROM pg_catalog.generate_series(1, $1::int)");
	} else {
		buf_puts(sql, " (");
		for (i = 0; i < cs->n; i++) {
			if (i)
				buf_putc(sql, ',');
			if (!put_ident(sql, pg, cs->names[i]))
				return false;
		}
		buf_puts(sql, ") SELECT ");
		for (i = 0; i < cs->n; i++) {
			const struct schema_column *c = &s->columns[col_index[i]];
			buf_printf(sql, "%sc%zu", i ? "," : "", i + 1);
			if (c->via_text)
				buf_printf(sql, "::%s", c->type);
		}
		buf_puts(sql, " FROM unnest(");
		for (i = 0; i < cs->n; i++) {
			const struct schema_column *c = &s->columns[col_index[i]];
			buf_printf(sql, "%s$%zu::%s[]", i ? "," : "", i + 1,
				   c->via_text ? "text" : c->type);
		}
		buf_puts(sql, ") AS u(");
		for (i = 0; i < cs->n; i++)
			buf_printf(sql, "%sc%zu", i ? "," : "", i + 1);
		buf_putc(sql, ')');
	}
	if (returning)
		buf_puts(sql, " RETURNING *");
	return true;
}

void sqlbuild_array_param(struct buf *out, struct row *const *rows, size_t n,
			  size_t vi, const struct schema_column *col)
{
	struct buf tmp;
	size_t i;

	buf_init(&tmp);
	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		const struct value *v = &rows[i]->values[vi];
		if (i)
			buf_putc(out, ',');
		if (v->kind == VALUE_NULL) {
			buf_append(out, "NULL", 4);
		} else if (col->is_array && v->kind == VALUE_ARRAY) {
			buf_reset(&tmp);
			jsontext_to_pg_array(&tmp, v->text, v->len, col->elem_json, col->delim);
			jsontext_put_pg_quoted(out, tmp.data, tmp.len);
		} else {
			jsontext_put_pg_quoted(out, v->text, v->len);
		}
	}
	buf_putc(out, '}');
	buf_free(&tmp);
}

void sqlbuild_count_param(struct buf *out, size_t n)
{
	buf_printf(out, "%zu", n);
}
