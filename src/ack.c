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

void ack_ok(struct buf *out, const char *id_json, const char *row_json, size_t row_len)
{
	ack_head(out, id_json, true);
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

void ack_error(struct buf *out, const char *id_json, const char *code, const char *message)
{
	ack_head(out, id_json, false);
	buf_puts(out, ",\"error\":{\"code\":");
	jsontext_put_string(out, code, strlen(code));
	put_field(out, "message", message);
	buf_puts(out, "}}");
}

/* Just past `,"ok":false,"error":{"code":"` in an error ack, or NULL. */
static const char *ack_error_start(const char *ack, size_t len)
{
	static const char mark[] = ",\"ok\":false,\"error\":{\"code\":\"";
	const char *p = ack ? memmem(ack, len, mark, sizeof(mark) - 1) : NULL;

	return p ? p + sizeof(mark) - 1 : NULL;
}

bool ack_error_code(const char *ack, size_t len, char code[6])
{
	const char *p = ack_error_start(ack, len);
	size_t i;

	code[0] = '\0';
	if (!p)
		return false;
	for (i = 0; i < 5; i++)
		if (p + i >= ack + len || !((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z')))
			return false;
	if (p + 5 >= ack + len || p[5] != '"')
		return false;
	memcpy(code, p, 5);
	code[5] = '\0';
	return true;
}

bool ack_error_message(const char *ack, size_t len, struct buf *out)
{
	static const char key[] = ",\"message\":";
	const char *p = ack_error_start(ack, len), *q, *end = ack + len;

	if (!p || (size_t)(end - p) < 6 + sizeof(key) - 1 || memcmp(p + 6, key, sizeof(key) - 1) != 0)
		return false;
	p += 6 + sizeof(key) - 1;           /* at the message's opening quote */
	if (p >= end || *p != '"')
		return false;
	for (q = p + 1; q < end && *q != '"'; q += *q == '\\' ? 2 : 1)
		;
	if (q >= end)
		return false;
	jsontext_unescape(out, p, (size_t)(q - p) + 1);
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? pgc_strdup(s) : NULL;
}

void pg_error_from_result(struct pg_error *e, const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	pg_error_clear(e);
	e->code = pgc_strdup(code ? code : "XX000");
	e->message = pgc_strdup(msg ? msg : PQresultErrorMessage(res));
	e->detail = dup_or_null(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	e->hint = dup_or_null(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	e->column = dup_or_null(PQresultErrorField(res, PG_DIAG_COLUMN_NAME));
	e->constraint = dup_or_null(PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME));
}

void pg_error_set(struct pg_error *e, const char *code, const char *message)
{
	pg_error_clear(e);
	e->code = pgc_strdup(code);
	e->message = pgc_strdup(message);
}

void pg_error_clear(struct pg_error *e)
{
	free(e->code);
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->column);
	free(e->constraint);
	memset(e, 0, sizeof(*e));
}

void ack_pg_error(struct buf *out, const char *id_json, const struct pg_error *e)
{
	ack_head(out, id_json, false);
	buf_puts(out, ",\"error\":{\"code\":");
	jsontext_put_string(out, e->code, strlen(e->code));
	put_field(out, "message", e->message);
	put_field(out, "detail", e->detail);
	put_field(out, "hint", e->hint);
	put_field(out, "column", e->column);
	put_field(out, "constraint", e->constraint);
	buf_puts(out, "}}");
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
	case OID_JSON: case OID_JSONB:
		buf_append(out, v, n);
		return;
	default:
		break;
	}
	jsontext_put_string(out, v, n);
}

void ack_returning_object(struct buf *out, const PGresult *res, int tup, const struct row *r)
{
	int ncols = PQnfields(res), col;
	size_t i;
	bool first = true;

	buf_putc(out, '{');
	if (r->returning_all) {
		for (col = 0; col < ncols; col++) {
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
			for (col = 0; col < ncols; col++)
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
