/*
 * ack.c — response lines (see ack.h).
 */
#include "ack.h"

#include <stdlib.h>
#include <string.h>

#include "jsontext.h"

/* Type OIDs whose text output is a JSON number, boolean or JSON value. */
#define OID_BOOL    16
#define OID_INT8    20
#define OID_INT2    21
#define OID_INT4    23
#define OID_OID     26
#define OID_JSON    114
#define OID_FLOAT4  700
#define OID_FLOAT8  701
#define OID_NUMERIC 1700
#define OID_JSONB   3802

static void ack_head(struct buf *out, const char *id_json, bool ok)
{
	buf_puts(out, "{\"id\":");
	buf_puts(out, id_json);
	buf_puts(out, ok ? ",\"ok\":true" : ",\"ok\":false");
}

void ack_ok(struct buf *out, const char *id_json, const char *row_json, size_t row_len,
	    enum row_action action)
{
	static const char *const tails[] = {
		[ACTION_NONE_YET] = "", [ACTION_INSERT] = ",\"action\":\"insert\"",
		[ACTION_UPDATE] = ",\"action\":\"update\"", [ACTION_NOTHING] = ",\"action\":\"none\"",
		[ACTION_DUPLICATE] = ",\"duplicate\":true",
	};

	ack_head(out, id_json, true);
	buf_puts(out, tails[action]);
	if (row_json && row_len) {
		buf_puts(out, ",\"row\":");
		buf_append(out, row_json, row_len);
	}
	buf_putc(out, '}');
}

static void put_field(struct buf *out, const char *key, const char *val)
{
	if (!val)
		return;
	buf_printf(out, ",\"%s\":", key);
	jsontext_put_text(out, val, strlen(val));  /* a sidecar message may be cut mid-character */
}

void ack_error(struct buf *out, const char *id_json, const struct errdata *e)
{
	ack_head(out, id_json, false);
	buf_puts(out, ",\"error\":{\"code\":");
	jsontext_put_string(out, e->code, strlen(e->code));
	put_field(out, "message", e->message ? e->message : "");
	put_field(out, "detail", e->detail);
	put_field(out, "hint", e->hint);
	put_field(out, "column", e->column);
	put_field(out, "constraint", e->constraint);
	buf_puts(out, "}}");
}

void ack_describe(struct buf *out, const char *id_json, const PGresult *res)
{
	int i, n = PQntuples(res);

	ack_head(out, id_json, true);
	buf_puts(out, ",\"relation\":");
	jsontext_put_string(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	buf_puts(out, ",\"columns\":[");
	for (i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 1))
			continue; /* a relation without columns */
		buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		jsontext_put_string(out, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
		buf_puts(out, ",\"type\":");
		jsontext_put_string(out, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2));
		buf_puts(out, PQgetvalue(res, i, 3)[0] == 't' ? ",\"insertable\":true" : ",\"insertable\":false");
		buf_puts(out, ",\"generated\":");
		if (PQgetisnull(res, i, 4))
			buf_puts(out, "null");
		else
			jsontext_put_string(out, PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4));
		buf_putc(out, '}');
	}
	buf_puts(out, "]}");
}

/* Is s a JSON number as PostgreSQL printed it (not NaN/Infinity)? */
static bool is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	return *s >= '0' && *s <= '9';
}

static void put_typed_value(struct buf *out, const PGresult *res, int tup, int col)
{
	const char *v;
	size_t n;

	if (PQgetisnull(res, tup, col)) {
		buf_append(out, "null", 4);
		return;
	}
	v = PQgetvalue(res, tup, col);
	n = (size_t)PQgetlength(res, tup, col);
	switch (PQftype(res, col)) {
	case OID_BOOL:
		buf_puts(out, v[0] == 't' ? "true" : "false");
		return;
	case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
	case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC:
		if (is_json_number(v)) {
			buf_append(out, v, n);
			return;
		}
		break; /* NaN, Infinity: strings */
	case OID_JSON:
		/* json keeps its input's spacing, newlines included: the ack is one line */
		jsontext_put_compact(out, v, n);
		return;
	case OID_JSONB:
		buf_append(out, v, n); /* PostgreSQL's own single-line text */
		return;
	default:
		break;
	}
	jsontext_put_string(out, v, n);
}

void ack_returning_object(struct buf *out, const PGresult *res, int tup, int first_col,
			  const struct row *r)
{
	int ncols = PQnfields(res), col;
	size_t i;
	bool first = true;

	buf_putc(out, '{');
	if (r->returning_all) {
		for (col = first_col; col < ncols; col++) {
			const char *name = PQfname(res, col);
			if (!first)
				buf_putc(out, ',');
			first = false;
			jsontext_put_string(out, name, strlen(name));
			buf_putc(out, ':');
			put_typed_value(out, res, tup, col);
		}
	} else {
		for (i = 0; i < r->n_returning; i++) {
			/* PQfnumber folds case unless quoted: match names exactly */
			for (col = first_col; col < ncols; col++)
				if (strcmp(PQfname(res, col), r->returning[i]) == 0)
					break;
			if (!first)
				buf_putc(out, ',');
			first = false;
			jsontext_put_string(out, r->returning[i], strlen(r->returning[i]));
			buf_putc(out, ':');
			if (col < ncols)
				put_typed_value(out, res, tup, col);
			else
				buf_append(out, "null", 4);
		}
	}
	buf_putc(out, '}');
}
