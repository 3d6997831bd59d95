/*
 * request.c — decode and validate one request line (see request.h).
 *
 * The line is tokenized once (jsontok.c); the fields are then read straight
 * from the token spans: numbers and the id as the exact text the client
 * wrote, strings unescaped only when they hold an escape, objects and arrays
 * as their JSON text. No tree is built and nothing is allocated per value:
 * a row's values go into one allocation with the row.
 */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Token indexes of the top-level fields (0: absent; the root is token 0). */
struct request_fields {
	size_t op, id, table, schema, row, returning, on_conflict, key;
};

/* One member of "row" while the row is built. */
struct row_member {
	const char     *name;     /* into d->names, NUL-terminated */
	size_t          name_off;
	size_t          tok;      /* value token */
	enum value_kind kind;
	size_t          off, len; /* value text in d->text */
};

void request_decoder_init(struct request_decoder *d, struct group_registry *groups,
			  const struct config *cfg)
{
	memset(d, 0, sizeof(*d));
	jsontok_init(&d->doc);
	buf_init(&d->text);
	buf_init(&d->names);
	buf_init(&d->schema);
	buf_init(&d->table);
	buf_init(&d->id);
	buf_init(&d->key);
	d->groups = groups;
	d->cfg = cfg;
}

void request_decoder_free(struct request_decoder *d)
{
	jsontok_free(&d->doc);
	buf_free(&d->text);
	buf_free(&d->names);
	buf_free(&d->schema);
	buf_free(&d->table);
	buf_free(&d->id);
	buf_free(&d->key);
	free(d->members);
	free(d->sorted);
	free(d->colnames);
}

static void req_fail(struct request *req, enum pc_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void req_fail(struct request *req, enum pc_code code, const char *fmt, ...)
{
	va_list ap;

	req->err = code;
	va_start(ap, fmt);
	vsnprintf(req->err_message, sizeof(req->err_message), fmt, ap);
	va_end(ap);
}

void request_clear(struct request *req)
{
	row_free(req->row);
	req->row = NULL;
}

/* Append the value of string token i (unescaped) to `out`. */
static void string_value(const struct jsontok_doc *doc, size_t i, struct buf *out)
{
	const struct jsontok *t = &doc->toks[i];

	if (t->escaped)
		jsontext_unescape(out, jsontok_text(doc, i), t->len);
	else
		buf_append(out, jsontok_text(doc, i) + 1, t->len - 2);
}

/*
 * Pick the known fields (the first of each name). Returns the name of a
 * field given twice, or NULL: the caller still reads the id (unless that is
 * the one given twice) so that the PC002 answer can echo it.
 */
static const char *request_fields(const struct jsontok_doc *doc, struct request_fields *f)
{
	static const struct { const char *name; size_t len; } names[] = {
		{ "op", 2 }, { "id", 2 }, { "table", 5 }, { "schema", 6 }, { "row", 3 }, { "returning", 9 },
		{ "on_conflict", 11 }, { "key", 3 },
	};
	size_t *slots[] = { &f->op, &f->id, &f->table, &f->schema, &f->row, &f->returning,
			    &f->on_conflict, &f->key };
	const char *dup = NULL;
	size_t key, k;

	memset(f, 0, sizeof(*f));
	for (key = 1; key < doc->n; key = doc->toks[key + 1].end) {
		size_t klen = doc->toks[key].len - 2;   /* without quotes; an escape only makes it longer */
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (names[k].len > klen || (!doc->toks[key].escaped && names[k].len != klen) ||
			    !jsontok_string_is(doc, key, names[k].name, names[k].len))
				continue;
			if (!*slots[k])
				*slots[k] = key + 1;
			else if (!dup || slots[k] == &f->id)
				dup = names[k].name;
			break;
		}
	}
	return dup;
}

/*
 * The id exactly as the client wrote it; false if it is not a scalar. A
 * string id holding invalid UTF-8 or a raw NUL (the line is answered PC002)
 * cannot be echoed in a valid response: the id stays null.
 */
static bool request_id(struct request_decoder *d, size_t id, enum jsontok_status st,
		       struct request *req)
{
	const struct jsontok *t = &d->doc.toks[id];

	if (!id || t->type == JSONTOK_NULL)
		return true; /* stays "null" */
	if (t->type == JSONTOK_OBJECT || t->type == JSONTOK_ARRAY)
		return false;
	if (st != JSONTOK_OK && t->type == JSONTOK_STRING && 
	    jsontext_utf8_prefix(jsontok_text(&d->doc, id), t->len) != t->len)
		return true;
	buf_append(&d->id, jsontok_text(&d->doc, id), t->len);
	req->id_json = d->id.data;
	return true;
}

static bool request_op(struct request_decoder *d, size_t op, struct request *req)
{
	static const struct { const char *name; enum request_op op; } ops[] = {
		{ "insert", OP_INSERT }, { "ping", OP_PING }, { "flush", OP_FLUSH }, { "stats", OP_STATS },
		{ "describe", OP_DESCRIBE },
	};
	size_t i;

	req->op = OP_INSERT;
	if (!op)
		return true;
	if (d->doc.toks[op].type != JSONTOK_STRING) {
		req_fail(req, PC_INVALID_REQUEST, "\"op\" must be a string");
		return false;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (jsontok_string_is(&d->doc, op, ops[i].name, strlen(ops[i].name))) {
			req->op = ops[i].op;
			return true;
		}
	}
	buf_reset(&d->names);
	string_value(&d->doc, op, &d->names);
	req_fail(req, PC_UNKNOWN_OP, "unknown op \"%.200s\"", buf_cstr(&d->names));
	return false;
}

/* The "returning" list into the row; false (PC002) if malformed. */
static bool request_returning(struct request_decoder *d, size_t ret, struct row *r,
			      struct request *req)
{
	const struct jsontok_doc *doc = &d->doc;
	size_t i, n = 0;

	if (!ret)
		return true;
	if (doc->toks[ret].type != JSONTOK_ARRAY)
		goto bad;
	for (i = ret + 1; i < doc->toks[ret].end; i = doc->toks[i].end) {
		if (doc->toks[i].type != JSONTOK_STRING || doc->toks[i].len == 2)
			goto bad;
		if (jsontok_string_is(doc, i, "*", 1))
			r->returning_all = true;
		n++;
	}
	if (r->returning_all || !n)
		return true;
	r->returning = pgc_calloc(n + 1, sizeof(char *));
	for (i = ret + 1; i < doc->toks[ret].end; i = doc->toks[i].end) {
		buf_reset(&d->names);
		string_value(doc, i, &d->names);
		r->returning[r->n_returning++] = pgc_strndup(d->names.data ? d->names.data : "", d->names.len);
	}
	return true;
bad:
	req_fail(req, PC_INVALID_REQUEST, "\"returning\" must be an array of column names");
	return false;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct row_member *const *)a)->name,
		      (*(const struct row_member *const *)b)->name);
}

/* Sort by name: insertion sort for the few columns a row usually has. */
static void members_sort(struct row_member **v, size_t n)
{
	size_t i, j;

	if (n > 16) {
		qsort(v, n, sizeof(*v), member_cmp);
		return;
	}
	for (i = 1; i < n; i++) {
		struct row_member *m = v[i];
		for (j = i; j > 0 && strcmp(v[j - 1]->name, m->name) > 0; j--)
			v[j] = v[j - 1];
		v[j] = m;
	}
}

/* Append member value token i to d->text; sets its kind. */
static void member_value(struct request_decoder *d, struct row_member *m)
{
	const struct jsontok *t = &d->doc.toks[m->tok];

	m->off = d->text.len;
	switch ((enum jsontok_type)t->type) {
	case JSONTOK_NULL:
		m->kind = VALUE_NULL;
		break;
	case JSONTOK_STRING:
		m->kind = VALUE_STRING;
		string_value(&d->doc, m->tok, &d->text);
		break;
	case JSONTOK_TRUE:
	case JSONTOK_FALSE:
		m->kind = VALUE_BOOL;
		buf_puts(&d->text, t->type == JSONTOK_TRUE ? "true" : "false");
		break;
	case JSONTOK_NUMBER:
	case JSONTOK_OBJECT:
	case JSONTOK_ARRAY:
		/* exactly as written: a number's digits, an object's or array's JSON text */
		m->kind = t->type == JSONTOK_NUMBER ? VALUE_NUMBER
			: t->type == JSONTOK_OBJECT ? VALUE_OBJECT : VALUE_ARRAY;
		buf_append(&d->text, jsontok_text(&d->doc, m->tok), t->len);
		break;
	}
	m->len = d->text.len - m->off;
}

/* Read the members of the "row" object into d->members, sorted by name. */
static bool row_members(struct request_decoder *d, size_t obj, struct request *req)
{
	const struct jsontok_doc *doc = &d->doc;
	size_t n = doc->toks[obj].count, key, i;

	if (n > d->cap) {
		d->cap = n;
		d->members = pgc_realloc(d->members, n * sizeof(*d->members));
		d->sorted = pgc_realloc(d->sorted, n * sizeof(*d->sorted));
		d->colnames = pgc_realloc(d->colnames, n * sizeof(*d->colnames));
	}
	buf_reset(&d->names);
	buf_reset(&d->text);
	for (i = 0, key = obj + 1; i < n; i++, key = doc->toks[key + 1].end) {
		struct row_member *m = &d->members[i];
		m->name_off = d->names.len;
		string_value(doc, key, &d->names);
		if (d->names.len == m->name_off) {
			req_fail(req, PC_INVALID_REQUEST, "empty column name in \"row\"");
			return false;
		}
		buf_putc(&d->names, '\0');
		m->tok = key + 1;
		member_value(d, m);
	}
	for (i = 0; i < n; i++) {
		d->members[i].name = d->names.data + d->members[i].name_off;
		d->sorted[i] = &d->members[i];
	}
	members_sort(d->sorted, n);
	for (i = 1; i < n; i++)
		if (strcmp(d->sorted[i]->name, d->sorted[i - 1]->name) == 0) {
			req_fail(req, PC_INVALID_REQUEST, "duplicate column \"%.200s\" in \"row\"",
				 d->sorted[i]->name);
			return false;
		}
	return true;
}

/*
 * Build the row from the "row" object: columns sorted by name (so rows that
 * name the same columns in any order share a colset), values as text, all
 * in one allocation with the row.
 */
static struct row *request_row(struct request_decoder *d, struct group *g, size_t obj,
			       struct request *req)
{
	size_t n = d->doc.toks[obj].count, i, total, idlen = strlen(req->id_json);
	const char **names;
	struct row *r;

	if (!row_members(d, obj, req))
		return NULL;
	total = sizeof(*r) + n * sizeof(struct value);
	r = pgc_calloc(1, total + d->text.len + 1 + idlen + 1 + d->key.len + 1);
	if (d->text.len)
		memcpy((char *)r + total, d->text.data, d->text.len);
	memcpy((char *)r + total + d->text.len + 1, req->id_json, idlen + 1);
	r->id_json = (char *)r + total + d->text.len + 1;
	if (d->key.len) {
		char *k = (char *)r + total + d->text.len + 1 + idlen + 1;
		memcpy(k, d->key.data, d->key.len);
		r->key = k;
		r->key_len = d->key.len;
	}
	names = d->colnames;
	for (i = 0; i < n; i++) {
		const struct row_member *m = d->sorted[i];
		r->values[i].kind = m->kind;
		r->values[i].text = m->kind == VALUE_NULL ? NULL : (char *)r + total + m->off;
		r->values[i].len = m->len;
		names[i] = m->name;
	}
	r->colset = group_colset(g, names, n);
	r->bytes = d->text.len + n * 8;
	buf_init(&r->returned);
	return r;
}

/* A non-empty string field into `out` (NUL-terminated); false if it is not one. */
static bool name_field(const struct jsontok_doc *doc, size_t tok, struct buf *out)
{
	buf_reset(out);
	if (!tok || doc->toks[tok].type != JSONTOK_STRING || doc->toks[tok].len == 2)
		return false;
	string_value(doc, tok, out);
	buf_cstr(out);
	return true;
}

/*
 * Split and check the table name into d->schema (len 0: none) and d->table;
 * false with PC002 or PC008.
 */
static bool request_table(struct request_decoder *d, const struct request_fields *f,
			  struct request *req)
{
	const struct jsontok_doc *doc = &d->doc;
	const char *dot;
	size_t k;

	if (!name_field(doc, f->table, &d->table)) {
		req_fail(req, PC_INVALID_REQUEST, "\"table\" must be a non-empty string");
		return false;
	}
	buf_reset(&d->schema);
	if (f->schema && !name_field(doc, f->schema, &d->schema)) {
		req_fail(req, PC_INVALID_REQUEST, "\"schema\" must be a non-empty string");
		return false;
	}
	if (!f->schema && (dot = strchr(d->table.data, '.'))) {
		k = (size_t)(dot - d->table.data);
		if (k == 0 || !dot[1]) {
			req_fail(req, PC_INVALID_REQUEST, "\"table\" \"%.200s\" has an empty schema or table name",
				 d->table.data);
			return false;
		}
		buf_append(&d->schema, d->table.data, k);
		buf_cstr(&d->schema);
		buf_consume(&d->table, k + 1);
	}
	if (!config_table_allowed(d->cfg, d->schema.len ? d->schema.data : NULL, d->table.data)) {
		if (f->schema || !d->schema.len)
			req_fail(req, PC_TABLE_NOT_ALLOWED, "table \"%.200s\" is not allowed", d->table.data);
		else
			req_fail(req, PC_TABLE_NOT_ALLOWED, "table \"%.100s.%.100s\" is not allowed",
				 d->schema.data, d->table.data);
		return false;
	}
	return true;
}

/* The "key" field into d->key (empty when absent); false (PC002) if malformed. */
static bool request_key(struct request_decoder *d, size_t tok, struct request *req)
{
	buf_reset(&d->key);
	if (!tok)
		return true;
	if (d->doc.toks[tok].type != JSONTOK_STRING || d->doc.toks[tok].len == 2) {
		req_fail(req, PC_INVALID_REQUEST, "\"key\" must be a non-empty string");
		return false;
	}
	string_value(&d->doc, tok, &d->key);
	if (d->key.len > REQUEST_KEY_MAX) {
		req_fail(req, PC_INVALID_REQUEST, "\"key\" is longer than %d bytes", REQUEST_KEY_MAX);
		return false;
	}
	return true;
}

/* The "on_conflict" field into the row (interned in its group); false (PC002) if malformed. */
static bool request_on_conflict(struct request_decoder *d, size_t tok, struct row *r,
				struct group *g, struct request *req)
{
	struct conflict c;
	char err[200];
	size_t i;

	if (!tok)
		return true;
	if (!conflict_parse(&d->doc, tok, &c, err, sizeof(err))) {
		conflict_free(&c);
		req_fail(req, PC_INVALID_REQUEST, "%s", err);
		return false;
	}
	/* each row's key values tell which rows the statement inserted or updated */
	for (i = 0; i < c.ntarget; i++)
		if (!conflict_names_have(r->colset->names, r->colset->n, c.target[i])) {
			req_fail(req, PC_INVALID_REQUEST, "\"on_conflict.columns\": column \"%.100s\" is not in \"row\"",
				 c.target[i]);
			conflict_free(&c);
			return false;
		}
	r->conflict = group_conflict(g, &c);
	return true;
}

static void request_insert(struct request_decoder *d, const struct request_fields *f,
			   double now, struct request *req)
{
	if (!request_table(d, f, req) || !request_key(d, f->key, req))
		return;
	if (!f->row || d->doc.toks[f->row].type != JSONTOK_OBJECT) {
		req_fail(req, PC_INVALID_REQUEST, "\"row\" must be an object");
		return;
	}
	req->group = group_get(d->groups, d->schema.len ? d->schema.data : NULL, d->table.data);
	req->row = request_row(d, req->group, f->row, req);
	if (!req->row)
		return;
	if (!request_returning(d, f->returning, req->row, req) ||
	    !request_on_conflict(d, f->on_conflict, req->row, req->group, req)) {
		row_free(req->row);
		req->row = NULL;
		return;
	}
	req->row->accepted_at = now;
}

/* PC001 for a line that is not a JSON object, with the tokenizer's reason. */
static void request_not_json(enum jsontok_status st, struct request *req)
{
	if (st == JSONTOK_TOO_DEEP)
		req_fail(req, PC_INVALID_JSON, "invalid JSON: nested deeper than %d levels", JSONTOK_MAX_DEPTH);
	else if (st == JSONTOK_BAD_UTF8)
		req_fail(req, PC_INVALID_REQUEST, "invalid UTF-8");
	else
		req_fail(req, PC_INVALID_JSON, "invalid JSON");
}

void request_decode(struct request_decoder *d, const char *line, size_t len,
		    double now, struct request *req)
{
	struct jsontok_doc *doc = &d->doc;
	enum jsontok_status st;
	struct request_fields f;
	const char *dup;

	memset(req, 0, sizeof(*req));
	req->id_json = "null";
	buf_reset(&d->id);
	st = jsontok_parse(doc, line, len);
	if (!doc->n) {
		request_not_json(st, req);
		return;
	}
	if (doc->toks[0].type != JSONTOK_OBJECT) {
		req_fail(req, PC_INVALID_JSON, "request must be a JSON object");
		return;
	}
	dup = request_fields(doc, &f);
	if (dup && strcmp(dup, "id") == 0) {
		req_fail(req, PC_INVALID_REQUEST, "duplicate field \"id\"");
		return;
	}
	if (!request_id(d, f.id, st, req)) {
		req_fail(req, PC_INVALID_REQUEST, "\"id\" must be a JSON scalar");
		return;
	}
	if (dup) {
		req_fail(req, PC_INVALID_REQUEST, "duplicate field \"%s\"", dup);
		return;
	}
	if (st == JSONTOK_NUL) {
		req_fail(req, PC_INVALID_REQUEST, "%s contains U+0000, which PostgreSQL text cannot hold",
			 f.key && memmem(jsontok_text(doc, f.key), doc->toks[f.key].len, "\\u0000", 6) ?
			 "\"key\"" : "a string");
		return;
	}
	if (st == JSONTOK_BAD_UTF8) {
		req_fail(req, PC_INVALID_REQUEST, "invalid UTF-8 in a string");
		return;
	}
	if (!request_op(d, f.op, req))
		return;
	if (req->op == OP_INSERT)
		request_insert(d, &f, now, req);
	else if (req->op == OP_DESCRIBE && request_table(d, &f, req))
		req->group = group_get(d->groups, d->schema.len ? d->schema.data : NULL, d->table.data);
}
