/*
 * request.c — decode and validate one request line (see request.h).
 */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"

/* The top-level fields of a request; unknown fields are ignored. */
struct request_fields {
	const cJSON *op, *id, *table, *schema, *row, *returning;
};

void request_decoder_init(struct request_decoder *d, struct group_registry *groups,
			  const struct config *cfg)
{
	jsontext_numbers_init(&d->nums);
	buf_init(&d->text);
	d->cols = NULL;
	d->offs = NULL;
	d->cap = 0;
	d->groups = groups;
	d->cfg = cfg;
}

void request_decoder_free(struct request_decoder *d)
{
	jsontext_numbers_free(&d->nums);
	buf_free(&d->text);
	free(d->cols);
	free(d->offs);
}

static void req_fail(struct request *req, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void req_fail(struct request *req, const char *code, const char *fmt, ...)
{
	va_list ap;

	req->err_code = code;
	va_start(ap, fmt);
	vsnprintf(req->err_message, sizeof(req->err_message), fmt, ap);
	va_end(ap);
}

void request_clear(struct request *req)
{
	free(req->id_json);
	req->id_json = NULL;
	row_free(req->row);
	req->row = NULL;
}

/* Pick the known fields; false (and PC002) on a duplicate field. */
static bool request_fields(const cJSON *root, struct request_fields *f, struct request *req)
{
	static const char *const names[] = { "op", "id", "table", "schema", "row", "returning" };
	const cJSON **slots[] = { &f->op, &f->id, &f->table, &f->schema, &f->row, &f->returning };
	const cJSON *c;
	size_t i;

	memset(f, 0, sizeof(*f));
	for (c = root->child; c; c = c->next) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strcmp(c->string, names[i]) != 0)
				continue;
			if (*slots[i]) {
				req_fail(req, PC_INVALID_REQUEST, "duplicate field \"%s\"", names[i]);
				return false;
			}
			*slots[i] = c;
		}
	}
	return true;
}

/* The id as JSON text; false if it is not a scalar. */
static bool request_id(const cJSON *id, const struct jsontext_numbers *nums, struct request *req)
{
	struct buf b;

	if (!id || cJSON_IsNull(id))
		return true; /* stays "null" */
	if (cJSON_IsArray(id) || cJSON_IsObject(id))
		return false;
	buf_init(&b);
	jsontext_put_value(&b, id, nums);
	free(req->id_json);
	req->id_json = pgc_strdup(buf_cstr(&b));
	buf_free(&b);
	return true;
}

static bool request_op(const cJSON *op, struct request *req)
{
	static const struct { const char *name; enum request_op op; } ops[] = {
		{ "insert", OP_INSERT }, { "ping", OP_PING }, { "flush", OP_FLUSH }, { "stats", OP_STATS },
	};
	size_t i;

	req->op = OP_INSERT;
	if (!op)
		return true;
	if (!cJSON_IsString(op)) {
		req_fail(req, PC_INVALID_REQUEST, "\"op\" must be a string");
		return false;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op->valuestring, ops[i].name) == 0) {
			req->op = ops[i].op;
			return true;
		}
	}
	req_fail(req, PC_UNKNOWN_OP, "unknown op \"%.200s\"", op->valuestring);
	return false;
}

static int colname_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static enum value_kind value_kind_of(const cJSON *v)
{
	if (cJSON_IsString(v))
		return VALUE_STRING;
	if (cJSON_IsNumber(v))
		return VALUE_NUMBER;
	if (cJSON_IsBool(v))
		return VALUE_BOOL;
	if (cJSON_IsObject(v))
		return VALUE_OBJECT;
	if (cJSON_IsArray(v))
		return VALUE_ARRAY;
	return VALUE_NULL;
}

/* Append the text form of v to `text`; false for JSON null. */
static bool value_text(const cJSON *v, const struct jsontext_numbers *nums, struct buf *text)
{
	size_t n;
	const char *t;

	switch (value_kind_of(v)) {
	case VALUE_NULL:
		return false;
	case VALUE_STRING:
		buf_append(text, v->valuestring, strlen(v->valuestring));
		return true;
	case VALUE_NUMBER:
		t = jsontext_number(nums, v, &n);
		buf_append(text, t, n);
		return true;
	case VALUE_BOOL:
		buf_puts(text, cJSON_IsTrue(v) ? "true" : "false");
		return true;
	case VALUE_OBJECT:
	case VALUE_ARRAY:
		jsontext_put_value(text, v, nums);
		return true;
	}
	return false;
}

/* The "returning" list into the row; false (PC002) if malformed. */
static bool request_returning(const cJSON *ret, struct row *r, struct request *req)
{
	const cJSON *c;
	size_t n = 0;

	if (!ret)
		return true;
	if (!cJSON_IsArray(ret)) {
		req_fail(req, PC_INVALID_REQUEST, "\"returning\" must be an array of column names");
		return false;
	}
	for (c = ret->child; c; c = c->next) {
		if (!cJSON_IsString(c) || !*c->valuestring) {
			req_fail(req, PC_INVALID_REQUEST, "\"returning\" must be an array of column names");
			return false;
		}
		if (strcmp(c->valuestring, "*") == 0)
			r->returning_all = true;
		n++;
	}
	if (r->returning_all || !n)
		return true;
	r->returning = pgc_calloc(n + 1, sizeof(char *));
	for (c = ret->child; c; c = c->next)
		r->returning[r->n_returning++] = pgc_strdup(c->valuestring);
	return true;
}

/*
 * Build the row from the "row" object: columns sorted by name (so rows that
 * name the same columns in any order share a colset), values as text.
 */
static struct row *request_row(struct request_decoder *d, struct group *g, const cJSON *obj,
			       struct request *req)
{
	size_t n = (size_t)cJSON_GetArraySize(obj), i, total;
	const cJSON **cols;
	const char **names;
	size_t *offs;
	struct buf *text = &d->text;
	const cJSON *c;
	struct row *r = NULL;

	if (n > d->cap) {
		d->cap = n;
		d->cols = pgc_realloc(d->cols, n * 2 * sizeof(*d->cols)); /* members, then names */
		d->offs = pgc_realloc(d->offs, n * 2 * sizeof(*d->offs));
	}
	cols = d->cols;
	names = (const char **)(d->cols + n);
	offs = d->offs;
	buf_reset(text);
	for (i = 0, c = obj->child; c; c = c->next)
		cols[i++] = c;
	if (n > 1)
		qsort(cols, n, sizeof(*cols), colname_cmp);
	for (i = 0; i < n; i++) {
		names[i] = cols[i]->string;
		if (!*names[i]) {
			req_fail(req, PC_INVALID_REQUEST, "empty column name in \"row\"");
			goto out;
		}
		if (i && strcmp(names[i], names[i - 1]) == 0) {
			req_fail(req, PC_INVALID_REQUEST, "duplicate column \"%.200s\" in \"row\"", names[i]);
			goto out;
		}
		offs[2 * i] = text->len;
		if (!value_text(cols[i], &d->nums, text))
			offs[2 * i] = (size_t)-1;
		offs[2 * i + 1] = text->len - (offs[2 * i] == (size_t)-1 ? text->len : offs[2 * i]);
	}
	total = sizeof(*r) + n * sizeof(struct value);
	r = pgc_calloc(1, total + text->len + 1);
	if (text->len)
		memcpy((char *)r + total, text->data, text->len);
	r->colset = group_colset(g, names, n);
	r->bytes = text->len + n * 8;
	for (i = 0; i < n; i++) {
		r->values[i].kind = offs[2 * i] == (size_t)-1 ? VALUE_NULL : value_kind_of(cols[i]);
		r->values[i].text = r->values[i].kind == VALUE_NULL ? NULL : (char *)r + total + offs[2 * i];
		r->values[i].len = offs[2 * i + 1];
	}
	buf_init(&r->result);
out:
	return r;
}

/* Split and check the table name; false with PC002 or PC008. */
static bool request_table(const struct request_fields *f, const struct config *cfg,
			  char **schema, char **table, struct request *req)
{
	const char *t, *dot;

	*schema = *table = NULL;
	if (!f->table || !cJSON_IsString(f->table) || !*f->table->valuestring) {
		req_fail(req, PC_INVALID_REQUEST, "\"table\" must be a non-empty string");
		return false;
	}
	if (f->schema && (!cJSON_IsString(f->schema) || !*f->schema->valuestring)) {
		req_fail(req, PC_INVALID_REQUEST, "\"schema\" must be a non-empty string");
		return false;
	}
	t = f->table->valuestring;
	if (f->schema) {
		*schema = pgc_strdup(f->schema->valuestring);
		*table = pgc_strdup(t);
	} else if ((dot = strchr(t, '.'))) {
		if (dot == t || !dot[1]) {
			req_fail(req, PC_INVALID_REQUEST, "\"table\" \"%.200s\" has an empty schema or table name", t);
			return false;
		}
		*schema = pgc_strndup(t, (size_t)(dot - t));
		*table = pgc_strdup(dot + 1);
	} else {
		*table = pgc_strdup(t);
	}
	if (!config_table_allowed(cfg, *schema, *table)) {
		req_fail(req, PC_TABLE_NOT_ALLOWED, "table \"%.200s\" is not allowed", t);
		return false;
	}
	return true;
}

static void request_insert(struct request_decoder *d, const struct request_fields *f,
			   double now, struct request *req)
{
	char *schema, *table;

	if (!request_table(f, d->cfg, &schema, &table, req))
		goto out;
	if (!f->row || !cJSON_IsObject(f->row)) {
		req_fail(req, PC_INVALID_REQUEST, "\"row\" must be an object");
		goto out;
	}
	req->group = group_get(d->groups, schema, table);
	req->row = request_row(d, req->group, f->row, req);
	if (!req->row)
		goto out;
	if (!request_returning(f->returning, req->row, req)) {
		row_free(req->row);
		req->row = NULL;
		goto out;
	}
	req->row->accepted_at = now;
out:
	free(schema);
	free(table);
}

void request_decode(struct request_decoder *d, const char *line, size_t len,
		    double now, struct request *req)
{
	enum jsontext_status st;
	struct request_fields f;
	cJSON *root;

	memset(req, 0, sizeof(*req));
	req->id_json = pgc_strdup("null");
	jsontext_arena_reset(); /* the previous line's tree is gone: reuse its memory */
	root = jsontext_parse(&d->nums, line, len, &st);
	if (!root) {
		req_fail(req, PC_INVALID_JSON, "%s", st == JSONTEXT_NOT_OBJECT
			 ? "request must be a JSON object" : "invalid JSON");
		return;
	}
	if (!request_fields(root, &f, req))
		goto out;
	if (!request_id(f.id, &d->nums, req)) {
		req_fail(req, PC_INVALID_REQUEST, "\"id\" must be a JSON scalar");
		goto out;
	}
	if (st == JSONTEXT_NUL) {
		req_fail(req, PC_INVALID_REQUEST, "a string contains U+0000, which PostgreSQL text cannot hold");
		goto out;
	}
	if (st == JSONTEXT_BAD_UTF8) {
		req_fail(req, PC_INVALID_REQUEST, "invalid UTF-8 in a string");
		goto out;
	}
	if (!request_op(f.op, req))
		goto out;
	if (req->op == OP_INSERT)
		request_insert(d, &f, now, req);
out:
	cJSON_Delete(root);
}
