/*
 * jsontext.c — exact-number JSON scanning and writing (see jsontext.h).
 */
#include "jsontext.h"

#include <stdlib.h>
#include <string.h>

void jsontext_numbers_init(struct jsontext_numbers *nums)
{
	memset(nums, 0, sizeof(*nums));
}

void jsontext_numbers_free(struct jsontext_numbers *nums)
{
	free(nums->spans);
	jsontext_numbers_init(nums);
}

static void numbers_add(struct jsontext_numbers *nums, size_t off, size_t len)
{
	if (nums->count == nums->cap) {
		nums->cap = nums->cap ? nums->cap * 2 : 16;
		nums->spans = pgc_realloc(nums->spans, nums->cap * sizeof(*nums->spans));
	}
	nums->spans[nums->count].off = off;
	nums->spans[nums->count].len = len;
	nums->count++;
}

size_t jsontext_utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (n >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && p[1] >= 0xA0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && p[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && p[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

static bool is_number_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_is_valid(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return false;
	}
	if (i < n && s[i] == '.') {
		for (i++, d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (!d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (!d)
			return false;
	}
	return i == n;
}

/*
 * Scan a string body starting after its opening quote; *i ends after the
 * closing quote. On JSONTEXT_NUL or JSONTEXT_BAD_UTF8, *i is left just past
 * the offending bytes, so the caller may resume the same string.
 */
static enum jsontext_status scan_string(const unsigned char *s, size_t len, size_t *i)
{
	size_t k = *i;

	while (k < len) {
		unsigned char c = s[k];
		/* fast path: plain ASCII text */
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			k++;
			while (k < len && s[k] >= 0x20 && s[k] < 0x80 && s[k] != '"' && s[k] != '\\')
				k++;
			continue;
		}
		if (c == '"') {
			*i = k + 1;
			return JSONTEXT_OK;
		}
		if (c == 0) {
			*i = k + 1;
			return JSONTEXT_NUL;
		}
		if (c < 0x20)
			return JSONTEXT_SYNTAX;
		if (c == '\\') {
			if (k + 1 >= len)
				return JSONTEXT_SYNTAX;
			if (s[k + 1] == 'u' && k + 5 < len && memcmp(s + k + 2, "0000", 4) == 0) {
				*i = k + 6;
				return JSONTEXT_NUL;
			}
			k += 2;
			continue;
		}
		if (c >= 0x80) {
			size_t n = jsontext_utf8_seq_len(s + k, len - k);
			if (!n) {
				*i = k + 1;
				return JSONTEXT_BAD_UTF8;
			}
			k += n;
			continue;
		}
		k++;
	}
	return JSONTEXT_SYNTAX; /* unterminated */
}

enum jsontext_status jsontext_scan(struct jsontext_numbers *nums, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	enum jsontext_status found = JSONTEXT_OK;  /* first NUL or UTF-8 problem */
	size_t i = 0;

	nums->text = text;
	nums->count = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c == '"') {
			enum jsontext_status st;
			i++;
			/* a NUL or bad byte is remembered; the scan goes on so the
			 * numbers (and the request id) can still be read */
			while ((st = scan_string(s, len, &i)) == JSONTEXT_NUL || st == JSONTEXT_BAD_UTF8) {
				if (found == JSONTEXT_OK)
					found = st;
			}
			if (st != JSONTEXT_OK)
				return st;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t start = i;
			while (i < len && is_number_char(s[i]))
				i++;
			if (!number_is_valid(text + start, i - start))
				return JSONTEXT_SYNTAX;
			numbers_add(nums, start, i - start);
		} else if (c >= 0x80) {
			return jsontext_utf8_seq_len(s + i, len - i) ? JSONTEXT_SYNTAX : JSONTEXT_BAD_UTF8;
		} else if (c == 0) {
			return JSONTEXT_SYNTAX;
		} else {
			i++;
		}
	}
	return found;
}

/* Tag number nodes in document order with their token index. */
static bool tag_numbers(cJSON *v, const struct jsontext_numbers *nums, size_t *next)
{
	for (; v; v = v->next) {
		if (cJSON_IsNumber(v)) {
			if (*next >= nums->count)
				return false;
			v->valueint = (int)(*next)++;
		} else if (v->child && !tag_numbers(v->child, nums, next)) {
			return false;
		}
	}
	return true;
}

cJSON *jsontext_parse(struct jsontext_numbers *nums, const char *text, size_t len,
		      enum jsontext_status *status)
{
	const char *end = NULL;
	cJSON *root;
	size_t next = 0;
	enum jsontext_status scan;

	scan = jsontext_scan(nums, text, len);
	*status = scan;
	if (scan != JSONTEXT_OK && scan != JSONTEXT_NUL && scan != JSONTEXT_BAD_UTF8)
		return NULL;
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root) {
		/* cJSON stops after the first value: only whitespace may follow */
		const char *p = end;
		while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p != text + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root || !tag_numbers(root, nums, &next) || next != nums->count) {
		cJSON_Delete(root);
		*status = JSONTEXT_SYNTAX;
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*status = JSONTEXT_NOT_OBJECT;
		return NULL;
	}
	return root;
}

const char *jsontext_number(const struct jsontext_numbers *nums, const cJSON *num, size_t *len)
{
	const struct jsontext_span *sp = &nums->spans[num->valueint];

	*len = sp->len;
	return nums->text + sp->off;
}

void jsontext_put_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	buf_reserve(b, n + 2);
	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':  buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		case '\b': buf_append(b, "\\b", 2); break;
		case '\f': buf_append(b, "\\f", 2); break;
		default: {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			buf_append(b, esc, 6);
		}
		}
	}
	buf_append(b, s + run, n - run);
	buf_putc(b, '"');
}

void jsontext_put_value(struct buf *b, const cJSON *v, const struct jsontext_numbers *nums)
{
	const cJSON *c;
	size_t n;
	const char *t;

	if (cJSON_IsNull(v)) {
		buf_append(b, "null", 4);
	} else if (cJSON_IsTrue(v)) {
		buf_append(b, "true", 4);
	} else if (cJSON_IsFalse(v)) {
		buf_append(b, "false", 5);
	} else if (cJSON_IsNumber(v)) {
		t = jsontext_number(nums, v, &n);
		buf_append(b, t, n);
	} else if (cJSON_IsString(v)) {
		jsontext_put_string(b, v->valuestring, strlen(v->valuestring));
	} else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
		bool obj = cJSON_IsObject(v);
		buf_putc(b, obj ? '{' : '[');
		for (c = v->child; c; c = c->next) {
			if (c != v->child)
				buf_putc(b, ',');
			if (obj) {
				jsontext_put_string(b, c->string, strlen(c->string));
				buf_putc(b, ':');
			}
			jsontext_put_value(b, c, nums);
		}
		buf_putc(b, obj ? '}' : ']');
	}
}

void jsontext_put_pg_quoted(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	buf_reserve(b, n + 2);
	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		buf_append(b, s + run, i - run);
		buf_putc(b, '\\');
		run = i;
	}
	buf_append(b, s + run, n - run);
	buf_putc(b, '"');
}

/* ---- JSON array text -> PostgreSQL array literal ---- */

struct json_cursor {
	const char *s;
	size_t      len;
	size_t      i;
};

static void cur_ws(struct json_cursor *c)
{
	while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
				 c->s[c->i] == '\n' || c->s[c->i] == '\r'))
		c->i++;
}

/* Skip one JSON value (valid input assumed); returns its start. */
static size_t cur_skip_value(struct json_cursor *c)
{
	size_t start = c->i;
	int depth = 0;
	bool in_str = false;

	for (; c->i < c->len; c->i++) {
		char ch = c->s[c->i];
		if (in_str) {
			if (ch == '\\')
				c->i++;
			else if (ch == '"') {
				in_str = false;
				if (depth == 0) {
					c->i++;
					return start;
				}
			}
			continue;
		}
		if (ch == '"') {
			in_str = true;
		} else if (ch == '[' || ch == '{') {
			depth++;
		} else if (ch == ']' || ch == '}') {
			if (depth == 0)
				return start;
			if (--depth == 0) {
				c->i++;
				return start;
			}
		} else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\t' ||
					  ch == '\n' || ch == '\r')) {
			return start;
		}
	}
	return start;
}

/* Decode a JSON string token (at c->i) into `out` as raw UTF-8. */
static void cur_string(struct json_cursor *c, struct buf *out)
{
	size_t start = cur_skip_value(c);

	jsontext_unescape(out, c->s + start, c->i - start);
}

static bool cur_array(struct json_cursor *c, struct buf *b)
{
	struct buf tmp;
	bool first = true;

	if (c->i >= c->len || c->s[c->i] != '[')
		return false;
	c->i++;
	buf_putc(b, '{');
	buf_init(&tmp);
	for (;;) {
		cur_ws(c);
		if (c->i >= c->len)
			break;
		if (c->s[c->i] == ']') {
			c->i++;
			break;
		}
		if (c->s[c->i] == ',') {
			c->i++;
			continue;
		}
		if (!first)
			buf_putc(b, ',');
		first = false;
		if (c->s[c->i] == '[') {
			cur_array(c, b);
		} else if (c->s[c->i] == '"') {
			buf_reset(&tmp);
			cur_string(c, &tmp);
			jsontext_put_pg_quoted(b, tmp.data ? tmp.data : "", tmp.len);
		} else if (c->len - c->i >= 4 && memcmp(c->s + c->i, "null", 4) == 0) {
			buf_append(b, "NULL", 4);
			c->i += 4;
		} else {
			size_t start = cur_skip_value(c);
			jsontext_put_pg_quoted(b, c->s + start, c->i - start);
		}
	}
	buf_free(&tmp);
	buf_putc(b, '}');
	return true;
}

bool jsontext_to_pg_array(struct buf *b, const char *json, size_t len)
{
	struct json_cursor c = { json, len, 0 };

	cur_ws(&c);
	return cur_array(&c, b);
}

bool jsontext_object_next(const char *json, size_t len, size_t *pos, struct buf *key,
			  const char **val, size_t *val_len)
{
	struct json_cursor c = { json, len, *pos };
	size_t start;

	cur_ws(&c);
	if (c.i < c.len && (c.s[c.i] == '{' || c.s[c.i] == ','))
		c.i++;
	cur_ws(&c);
	if (c.i >= c.len || c.s[c.i] != '"')
		return false;
	buf_reset(key);
	cur_string(&c, key);
	cur_ws(&c);
	if (c.i >= c.len || c.s[c.i] != ':')
		return false;
	c.i++;
	cur_ws(&c);
	start = cur_skip_value(&c);
	*val = json + start;
	*val_len = c.i - start;
	*pos = c.i;
	return true;
}

/* ---- string unescaping ---- */

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char ch = p[i];
		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v |= (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v |= (unsigned)(ch - 'A' + 10);
	}
	return v;
}

void jsontext_put_utf8(struct buf *out, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		buf_putc(out, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		buf_append(out, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		buf_append(out, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		buf_append(out, u, 4);
	}
}

void jsontext_unescape(struct buf *out, const char *s, size_t n)
{
	size_t i = 1, end = n ? n - 1 : 0, run = 1;

	buf_reserve(out, n);
	while (i < end) {
		unsigned cp;
		if (s[i] != '\\') {
			i++;
			continue;
		}
		buf_append(out, s + run, i - run);
		if (i + 1 >= end)
			break;
		switch (s[i + 1]) {
		case 'b': buf_putc(out, '\b'); break;
		case 'f': buf_putc(out, '\f'); break;
		case 'n': buf_putc(out, '\n'); break;
		case 'r': buf_putc(out, '\r'); break;
		case 't': buf_putc(out, '\t'); break;
		case 'u':
			if (i + 6 > end)
				break;
			cp = hex4(s + i + 2);
			if (cp >= 0xD800 && cp < 0xDC00 && i + 12 <= end && s[i + 6] == '\\' && s[i + 7] == 'u') {
				unsigned lo = hex4(s + i + 8);
				if (lo >= 0xDC00 && lo < 0xE000) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
			}
			jsontext_put_utf8(out, cp);
			i += 4;
			break;
		default: buf_putc(out, s[i + 1]); break; /* \" \\ \/ */
		}
		i += 2;
		run = i;
	}
	if (end > run)
		buf_append(out, s + run, end - run);
}

/* ---- a bump arena for per-line cJSON trees ---- */

#define ARENA_CHUNK 65536

struct arena_chunk {
	struct arena_chunk *next;
	size_t              used, cap;
	max_align_t         data[];
};

static struct arena_chunk *arena_head;

static void *arena_alloc(size_t n)
{
	struct arena_chunk *c = arena_head;
	size_t need = (n + 15) & ~(size_t)15;

	if (!c || c->cap - c->used < need) {
		size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
		c = pgc_malloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		c->next = arena_head;
		arena_head = c;
	}
	c->used += need;
	return (char *)c->data + c->used - need;
}

static void arena_release(void *p)
{
	(void)p; /* everything goes at the next reset */
}

void jsontext_arena_install(void)
{
	cJSON_Hooks hooks = { arena_alloc, arena_release };

	cJSON_InitHooks(&hooks);
}

void jsontext_arena_reset(void)
{
	struct arena_chunk *c = arena_head, *next;

	if (!c)
		return;
	/* keep one standard chunk, drop the rest */
	for (next = c->next, c->next = NULL; next; next = c) {
		c = next->next;
		free(next);
	}
	c = arena_head;
	if (c->cap > ARENA_CHUNK) {
		arena_head = NULL;
		free(c);
		return;
	}
	c->used = 0;
}

void jsontext_arena_free(void)
{
	jsontext_arena_reset();
	free(arena_head);
	arena_head = NULL;
	cJSON_InitHooks(NULL);
}
