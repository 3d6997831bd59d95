/*
 * pgc_wire.c — libpgcoalesce's protocol text (see pgc_wire.h).
 */
#include "pgc_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsontext.h"

void pgc_decoder_init(struct pgc_decoder *d)
{
	buf_init(&d->scratch);
}

void pgc_decoder_free(struct pgc_decoder *d)
{
	buf_free(&d->scratch);
}

/* ------------------------------------------------------------ checks */

bool pgc_valid_text(const char *s, size_t n)
{
	return jsontext_utf8_prefix(s, n) == n;
}

static const char *skip_digits(const char *s)
{
	while (*s >= '0' && *s <= '9')
		s++;
	return s;
}

bool pgc_valid_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = skip_digits(p);
	else
		return false;
	if (*p == '.') {
		const char *f = ++p;
		if ((p = skip_digits(p)) == f)
			return false;
	}
	if (*p == 'e' || *p == 'E') {
		const char *e;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		e = p;
		if ((p = skip_digits(p)) == e)
			return false;
	}
	return *p == '\0';
}

/* ------------------------------------------------------------ classes */

enum pgc_error_class pgc_classify(const char *code, bool *not_written)
{
	static const struct {
		const char          *code;
		enum pgc_error_class cls;
	} pc[] = {
		{ "PC001", PGC_ERR_INVALID_REQUEST }, { "PC002", PGC_ERR_INVALID_REQUEST },
		{ "PC003", PGC_ERR_INVALID_REQUEST }, { "PC004", PGC_ERR_OVERLOADED },
		{ "PC005", PGC_ERR_SHUTTING_DOWN },   { "PC006", PGC_ERR_UNAVAILABLE },
		{ "PC007", PGC_ERR_COMMIT_UNKNOWN },  { "PC008", PGC_ERR_TABLE_NOT_ALLOWED },
		{ "PC009", PGC_ERR_INVALID_REQUEST },
	};
	size_t i;

	*not_written = true;
	if (strncmp(code, "PC", 2) != 0)
		return PGC_ERR_ROW; /* a SQLSTATE: PostgreSQL rolled the row back */
	for (i = 0; i < sizeof(pc) / sizeof(pc[0]); i++)
		if (strcmp(code, pc[i].code) == 0) {
			*not_written = pc[i].cls != PGC_ERR_COMMIT_UNKNOWN;
			return pc[i].cls;
		}
	*not_written = false; /* a newer sidecar's code: assume the worst */
	return PGC_ERR_SIDECAR;
}

/* ------------------------------------------------------------ answers */

/* {"id":<digits>,"ok":true}, the common ack, without walking it. */
static bool decode_fast(const char *line, size_t len, struct pgc_ack *a, uint64_t *wire_id)
{
	static const char head[] = "{\"id\":", tail[] = ",\"ok\":true}";
	size_t i = sizeof(head) - 1, start;
	uint64_t id = 0;

	if (len < sizeof(head) + sizeof(tail) - 1 || memcmp(line, head, i) != 0)
		return false;
	for (start = i; i < len && line[i] >= '0' && line[i] <= '9' && i - start < 19; i++)
		id = id * 10 + (uint64_t)(line[i] - '0');
	if (i == start || (line[start] == '0' && i - start > 1) || len - i != sizeof(tail) - 1 ||
	    memcmp(line + i, tail, sizeof(tail) - 1) != 0)
		return false;
	a->ok = true;
	*wire_id = id;
	return true;
}

/* An answer's id: one of the library's (digits that fit), null, or other. */
static enum pgc_wire_id decode_id(const char *val, size_t len, uint64_t *id)
{
	size_t i;

	if (len == 4 && memcmp(val, "null", 4) == 0)
		return PGC_WIRE_ID_NULL;
	if (len == 0 || len > 19 || (val[0] == '0' && len > 1))
		return PGC_WIRE_ID_OTHER;
	*id = 0;
	for (i = 0; i < len; i++) {
		if (val[i] < '0' || val[i] > '9')
			return PGC_WIRE_ID_OTHER;
		*id = *id * 10 + (uint64_t)(val[i] - '0');
	}
	return PGC_WIRE_ID_NUMBER;
}

/* Offsets into d->scratch of the error's strings; (size_t)-1 when absent. */
enum { F_CODE, F_MESSAGE, F_DETAIL, F_HINT, F_COLUMN, F_CONSTRAINT, F_COUNT };

static void decode_error(struct pgc_decoder *d, struct buf *key, const char *obj, size_t len,
			 size_t *off)
{
	static const char *const names[F_COUNT] = { "code", "message", "detail", "hint", "column",
						    "constraint" };
	size_t pos = 0, vlen, f;
	const char *val;

	while (jsontext_object_next(obj, len, &pos, key, &val, &vlen)) {
		if (vlen == 0 || val[0] != '"')
			continue;
		for (f = 0; f < F_COUNT; f++)
			if (strcmp(buf_cstr(key), names[f]) == 0)
				break;
		if (f == F_COUNT)
			continue;
		off[f] = d->scratch.len;
		jsontext_unescape(&d->scratch, val, vlen);
		buf_putc(&d->scratch, '\0');
	}
}

static const char *field(const struct pgc_decoder *d, const size_t *off, int f)
{
	return off[f] == (size_t)-1 ? NULL : d->scratch.data + off[f];
}

/* The error's pointers, once the scratch buffer stopped moving. */
static void set_error(const struct pgc_decoder *d, const size_t *off, struct pgc_ack *a)
{
	struct pgc_error *e = &a->error;

	e->code = field(d, off, F_CODE);
	e->message = field(d, off, F_MESSAGE);
	e->detail = field(d, off, F_DETAIL);
	e->hint = field(d, off, F_HINT);
	e->column = field(d, off, F_COLUMN);
	e->constraint = field(d, off, F_CONSTRAINT);
	if (!e->code)
		e->code = "";
	if (!e->message)
		e->message = e->code[0] ? e->code : "the sidecar answered ok:false without an error";
	/* an error without a code tells nothing about the row: in doubt */
	e->cls = e->code[0] ? pgc_classify(e->code, &e->not_written) : PGC_ERR_SIDECAR;
	if (!e->code[0])
		e->not_written = false;
}

/* The members of an answer that v1 sidecars do not send: upserts, keys, features. */
static void decode_extension(const char *k, const char *val, size_t vlen, struct pgc_ack *a)
{
	static const struct { const char *text; enum pgc_action action; } actions[] = {
		{ "\"insert\"", PGC_ACTION_INSERT }, { "\"update\"", PGC_ACTION_UPDATE },
		{ "\"none\"", PGC_ACTION_NONE },
	};
	size_t i;

	if (strcmp(k, "action") == 0) {
		for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
			if (vlen == strlen(actions[i].text) && memcmp(val, actions[i].text, vlen) == 0)
				a->action = actions[i].action;
	} else if (strcmp(k, "duplicate") == 0) {
		a->duplicate = vlen == 4 && memcmp(val, "true", 4) == 0;
	} else if (strcmp(k, "features") == 0 && vlen && val[0] == '[') {
		a->features = val;
		a->features_len = vlen;
	}
}

bool pgc_decode(struct pgc_decoder *d, const char *line, size_t len, struct pgc_ack *a,
		enum pgc_wire_id *kind, uint64_t *wire_id)
{
	size_t off[F_COUNT], pos = 0, vlen, i;
	const char *val;
	struct buf key;

	memset(a, 0, sizeof(*a));
	a->line = line;
	a->line_len = len;
	if (decode_fast(line, len, a, wire_id)) {
		*kind = PGC_WIRE_ID_NUMBER;
		return true;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (len < 2 || line[0] != '{' || line[len - 1] != '}')
		return false;
	*kind = PGC_WIRE_ID_NULL;
	for (i = 0; i < F_COUNT; i++)
		off[i] = (size_t)-1;
	buf_reset(&d->scratch);
	buf_init(&key);
	while (jsontext_object_next(line, len, &pos, &key, &val, &vlen)) {
		const char *k = buf_cstr(&key);
		if (strcmp(k, "id") == 0)
			*kind = decode_id(val, vlen, wire_id);
		else if (strcmp(k, "ok") == 0)
			a->ok = vlen == 4 && memcmp(val, "true", 4) == 0;
		else if (strcmp(k, "error") == 0 && vlen && val[0] == '{')
			decode_error(d, &key, val, vlen, off);
		else if (strcmp(k, "row") == 0 && vlen && val[0] == '{') {
			a->row = val;
			a->row_len = vlen;
		} else if (strcmp(k, "stats") == 0 && vlen && val[0] == '{') {
			a->stats = val;
			a->stats_len = vlen;
		} else if (strcmp(k, "db") == 0)
			a->db_up = vlen == 4 && memcmp(val, "\"up\"", 4) == 0;
		else
			decode_extension(k, val, vlen, a);
	}
	buf_free(&key);
	if (!a->ok)
		set_error(d, off, a);
	return true;
}

/* ------------------------------------------------------------ requests */

static void put_cstring(struct buf *out, const char *s)
{
	jsontext_put_string(out, s, strlen(s));
}

/* ,"name":["a","b"] (nothing for a NULL list). */
static void put_names(struct buf *out, const char *member, const char *const *names)
{
	size_t i;

	if (!names)
		return;
	buf_printf(out, ",\"%s\":[", member);
	for (i = 0; names[i]; i++) {
		if (i)
			buf_putc(out, ',');
		put_cstring(out, names[i]);
	}
	buf_putc(out, ']');
}

static void put_on_conflict(struct buf *out, const struct pgc_on_conflict *oc)
{
	size_t mark;

	buf_puts(out, ",\"on_conflict\":{");
	mark = out->len;
	put_names(out, "columns", oc->columns);
	if (oc->constraint) {
		buf_puts(out, ",\"constraint\":");
		put_cstring(out, oc->constraint);
	}
	buf_puts(out, oc->action == PGC_DO_NOTHING ? ",\"do\":\"nothing\"" : ",\"do\":\"update\"");
	put_names(out, "set", oc->set);
	put_names(out, "add", oc->add);
	memmove(out->data + mark, out->data + mark + 1, out->len - mark - 1); /* the first comma */
	out->len--;
	buf_putc(out, '}');
}

void pgc_wire_insert(struct buf *out, uint64_t id, const char *table, const char *row,
		     size_t row_len, const struct pgc_insert_opts *opts)
{
	buf_printf(out, "{\"id\":%llu,\"table\":", (unsigned long long)id);
	put_cstring(out, table);
	if (opts && opts->schema) {
		buf_puts(out, ",\"schema\":");
		put_cstring(out, opts->schema);
	}
	buf_puts(out, ",\"row\":");
	buf_append(out, row, row_len);
	if (opts) {
		put_names(out, "returning", opts->returning);
		if (opts->on_conflict)
			put_on_conflict(out, opts->on_conflict);
		if (opts->key) {
			buf_puts(out, ",\"key\":");
			put_cstring(out, opts->key);
		}
	}
	buf_puts(out, "}\n");
}

/* ------------------------------------------------------------ checking options */

static bool fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Say why in err; false. */
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

static bool text_ok(const char *s)
{
	return pgc_valid_text(s, strlen(s));
}

/* A NULL-terminated list of names: each UTF-8 text (and not empty). */
static bool names_ok(const char *const *names, bool nonempty, const char *what, char *err,
		     size_t errlen)
{
	size_t i;

	for (i = 0; names && names[i]; i++)
		if ((nonempty && !*names[i]) || !text_ok(names[i]))
			return fail(err, errlen, "%s[%zu] must be a%s UTF-8 name", what, i,
				    nonempty ? " non-empty" : "");
	return true;
}

static bool in_names(const char *const *names, const char *name)
{
	size_t i;

	for (i = 0; names && names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static bool on_conflict_ok(const struct pgc_on_conflict *oc, char *err, size_t errlen)
{
	bool has_cols = oc->columns && oc->columns[0], updates = (oc->set && oc->set[0]) ||
								 (oc->add && oc->add[0]);
	size_t i;

	if (oc->action != PGC_DO_NOTHING && oc->action != PGC_DO_UPDATE)
		return fail(err, errlen, "on_conflict.do must be nothing or update");
	if (oc->columns && !oc->columns[0])
		return fail(err, errlen, "on_conflict.columns must name at least one column");
	if (oc->constraint && (!*oc->constraint || !text_ok(oc->constraint)))
		return fail(err, errlen, "on_conflict.constraint must be a non-empty UTF-8 name");
	if (has_cols && oc->constraint)
		return fail(err, errlen, "on_conflict takes columns or a constraint, not both");
	if (!names_ok(oc->columns, true, "on_conflict.columns", err, errlen) ||
	    !names_ok(oc->set, true, "on_conflict.set", err, errlen) ||
	    !names_ok(oc->add, true, "on_conflict.add", err, errlen))
		return false;
	if (oc->action == PGC_DO_NOTHING)
		return !updates || fail(err, errlen, "on_conflict.set and add need do: update");
	if (!has_cols && !oc->constraint)
		return fail(err, errlen, "on_conflict do update needs columns or a constraint");
	if (!updates)
		return fail(err, errlen, "on_conflict do update needs a column in set or add");
	for (i = 0; oc->set && oc->set[i]; i++)
		if (in_names(oc->add, oc->set[i]))
			return fail(err, errlen, "on_conflict: column \"%.100s\" is in set and add",
					oc->set[i]);
	return true;
}

bool pgc_wire_opts_ok(const struct pgc_insert_opts *opts, char *err, size_t errlen)
{
	size_t n;

	if (!opts)
		return true;
	if (opts->schema && !text_ok(opts->schema))
		return fail(err, errlen, "the schema must be UTF-8 text");
	if (!names_ok(opts->returning, false, "returning", err, errlen))
		return false;
	if (opts->key) {
		n = strlen(opts->key);
		if (n == 0 || n > PGC_KEY_MAX || !pgc_valid_text(opts->key, n))
			return fail(err, errlen, "the key must be 1 to %d bytes of UTF-8 text",
					PGC_KEY_MAX);
	}
	return !opts->on_conflict || on_conflict_ok(opts->on_conflict, err, errlen);
}

void pgc_wire_op(struct buf *out, const char *op, uint64_t id, const char *members)
{
	buf_puts(out, "{\"op\":");
	put_cstring(out, op);
	buf_printf(out, ",\"id\":%llu", (unsigned long long)id);
	if (members && *members) {
		buf_putc(out, ',');
		buf_puts(out, members);
	}
	buf_puts(out, "}\n");
}
