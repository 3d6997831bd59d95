/*
 * jsontext.c — JSON text helpers: writing, unescaping, UTF-8, PostgreSQL array literals (see jsontext.h).
 */
#include "jsontext.h"

#include <stdlib.h>
#include <string.h>

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

size_t jsontext_utf8_prefix(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		if (!p[i] || !(k = jsontext_utf8_seq_len(p + i, n - i)))
			break;
		i += k;
	}
	return i;
}

void jsontext_put_text(struct buf *b, const char *s, size_t n)
{
	size_t i = jsontext_utf8_prefix(s, n);
	struct buf t;

	if (i == n) {
		jsontext_put_string(b, s, n);
		return;
	}
	buf_init(&t);
	for (;;) {
		buf_append(&t, s, i);
		if (i == n)
			break;
		buf_append(&t, "\xEF\xBF\xBD", 3);  /* U+FFFD for the byte at s[i] */
		s += i + 1;
		n -= i + 1;
		i = jsontext_utf8_prefix(s, n);
	}
	jsontext_put_string(b, t.data, t.len);
	buf_free(&t);
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

static bool cur_array(struct json_cursor *c, struct buf *b, bool json_elems, char delim)
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
			buf_putc(b, delim);
		first = false;
		if (c->s[c->i] == '[' && !json_elems) {
			cur_array(c, b, false, delim);
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

bool jsontext_to_pg_array(struct buf *b, const char *json, size_t len, bool json_elems, char delim)
{
	struct json_cursor c = { json, len, 0 };

	cur_ws(&c);
	return cur_array(&c, b, json_elems, delim);
}

void jsontext_put_compact(struct buf *b, const char *json, size_t len)
{
	size_t i, start = 0;
	bool in_str = false;

	buf_reserve(b, len);
	for (i = 0; i < len; i++) {
		char ch = json[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			buf_append(b, json + start, i - start);
			start = i + 1;
		}
	}
	buf_append(b, json + start, len - start);
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
