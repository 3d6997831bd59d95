/*
 * pgc_row.c — libpgcoalesce's row builder (see pgcoalesce.h, "rows").
 *
 * A row is kept as the JSON object text the protocol sends, so sending it is
 * a copy. Every value is checked as it is added: names and text must be
 * UTF-8 without U+0000 (the sidecar would refuse them, PC002), numbers and
 * JSON values must be valid JSON, so a row never makes a request line the
 * sidecar cannot read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsontext.h"
#include "jsontok.h"
#include "pgc_wire.h"
#include "pgcoalesce.h"

struct pgc_row {
	struct buf         json;     /* "{...}", always a complete object */
	size_t             ncols;
	struct jsontok_doc doc;      /* for checking JSON values */
};

PGC_API pgc_row *pgc_row_new(void)
{
	pgc_row *r = pgc_calloc(1, sizeof(*r));

	buf_init(&r->json);
	jsontok_init(&r->doc);
	pgc_row_clear(r);
	return r;
}

PGC_API void pgc_row_free(pgc_row *r)
{
	if (!r)
		return;
	buf_free(&r->json);
	jsontok_free(&r->doc);
	free(r);
}

PGC_API void pgc_row_clear(pgc_row *r)
{
	buf_reset(&r->json);
	buf_puts(&r->json, "{}");
	r->ncols = 0;
}

PGC_API const char *pgc_row_json(const pgc_row *r, size_t *len)
{
	if (len)
		*len = r->json.len;
	return r->json.data;
}

/* Open a member for `col`: the closing brace comes off, "name": goes on. */
static int row_key(pgc_row *r, const char *col)
{
	size_t n = col ? strlen(col) : 0;

	if (!col || !pgc_valid_text(col, n))
		return PGC_E_INVALID;
	r->json.len--; /* the '}' */
	if (r->ncols++)
		buf_putc(&r->json, ',');
	jsontext_put_string(&r->json, col, n);
	buf_putc(&r->json, ':');
	return PGC_OK;
}

/* Add the value text (valid JSON) and close the object again. */
static int row_value(pgc_row *r, const char *json, size_t len)
{
	buf_append(&r->json, json, len);
	buf_putc(&r->json, '}');
	return PGC_OK;
}

PGC_API int pgc_row_add_textn(pgc_row *r, const char *col, const char *text, size_t len)
{
	if (!text || !pgc_valid_text(text, len) || row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	jsontext_put_string(&r->json, text, len);
	return row_value(r, "", 0);
}

PGC_API int pgc_row_add_text(pgc_row *r, const char *col, const char *text)
{
	return pgc_row_add_textn(r, col, text, text ? strlen(text) : 0);
}

PGC_API int pgc_row_add_int(pgc_row *r, const char *col, long long v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", v);

	if (row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	return row_value(r, num, (size_t)n);
}

PGC_API int pgc_row_add_double(pgc_row *r, const char *col, double v)
{
	char num[40];
	int n;

	if (isnan(v))
		return pgc_row_add_text(r, col, "NaN");
	if (isinf(v))
		return pgc_row_add_text(r, col, v > 0 ? "Infinity" : "-Infinity");
	n = snprintf(num, sizeof(num), "%.17g", v); /* round-trips every double */
	if (row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	return row_value(r, num, (size_t)n);
}

PGC_API int pgc_row_add_number(pgc_row *r, const char *col, const char *number)
{
	if (!number || !pgc_valid_number(number) || row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	return row_value(r, number, strlen(number));
}

PGC_API int pgc_row_add_bool(pgc_row *r, const char *col, bool v)
{
	if (row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	return v ? row_value(r, "true", 4) : row_value(r, "false", 5);
}

PGC_API int pgc_row_add_null(pgc_row *r, const char *col)
{
	if (row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	return row_value(r, "null", 4);
}

PGC_API int pgc_row_add_json(pgc_row *r, const char *col, const char *json, size_t len)
{
	size_t start, i;

	/* one valid value (no U+0000, which PostgreSQL text cannot hold) */
	if (!json || len > UINT32_MAX || jsontok_parse(&r->doc, json, len) != JSONTOK_OK ||
	    row_key(r, col) != PGC_OK)
		return PGC_E_INVALID;
	start = r->json.len;
	row_value(r, json, len);
	/* a line break in valid JSON is whitespace (strings escape theirs):
	 * a blank keeps the request on one line */
	for (i = start; i < start + len; i++)
		if (r->json.data[i] == '\n' || r->json.data[i] == '\r')
			r->json.data[i] = ' ';
	return PGC_OK;
}
