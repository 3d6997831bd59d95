/*
 * jsontok.c — strict one-pass JSON tokenizer (see jsontok.h).
 *
 * The parser is a loop over three states instead of recursive descent:
 * expecting a value, expecting an object key, and after a value (a comma,
 * or the end of the innermost open container, or the end of the text).
 * Open containers live on an explicit stack of token indexes.
 */
#include "jsontok.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsontext.h"

enum parse_state {
	EXPECT_VALUE = 0,  /* a value must come next */
	EXPECT_KEY,        /* an object member's key must come next */
	AFTER_VALUE,       /* a value ended: ',' or a closing bracket or the end */
};

void jsontok_init(struct jsontok_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
}

void jsontok_free(struct jsontok_doc *doc)
{
	free(doc->toks);
	free(doc->stack);
	jsontok_init(doc);
}

/* Bytes a string may hold as they are: printable ASCII but '"' and '\\'. */
static const unsigned char str_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,  /* not 0x22 '"', 0x5c '\\' */
};

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Four hex digits at s (n bytes available) as a code unit, or -1. */
static long hex4(const unsigned char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return -1;
		v = (v << 4) | d;
	}
	return v;
}

static void toks_grow(struct jsontok_doc *doc)
{
	doc->cap = doc->cap ? doc->cap * 2 : 64;
	doc->toks = pgc_realloc(doc->toks, doc->cap * sizeof(*doc->toks));
}

static inline struct jsontok *tok_push(struct jsontok_doc *doc, enum jsontok_type type, size_t off)
{
	struct jsontok *t;

	if (doc->n == doc->cap)
		toks_grow(doc);
	t = &doc->toks[doc->n++];
	*t = (struct jsontok){ .type = (uint8_t)type, .off = (uint32_t)off, .end = (uint32_t)doc->n };
	return t;
}

/*
 * The escape at s[0] == '\\' (n bytes left): its length, or 0 if invalid.
 * Sets *flag to JSONTOK_NUL for \u0000 and JSONTOK_BAD_UTF8 for an unpaired
 * surrogate (valid JSON grammar, but no Unicode text).
 */
static size_t scan_escape(const unsigned char *s, size_t n, enum jsontok_status *flag)
{
	long cp, lo;

	if (n < 2)
		return 0;
	switch (s[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return 2;
	case 'u':
		break;
	default:
		return 0;
	}
	if ((cp = hex4(s + 2, n - 2)) < 0)
		return 0;
	if (cp == 0)
		*flag = JSONTOK_NUL;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		*flag = JSONTOK_BAD_UTF8;     /* a low surrogate alone */
	if (cp < 0xD800 || cp > 0xDBFF)
		return 6;
	if (n >= 12 && s[6] == '\\' && s[7] == 'u' && (lo = hex4(s + 8, n - 8)) >= 0xDC00 && lo <= 0xDFFF)
		return 12;
	*flag = JSONTOK_BAD_UTF8;             /* a high surrogate without its pair */
	return 6;
}

/*
 * A string token at s[i] == '"'. Returns the offset past its closing quote,
 * or 0 on a syntax error. A raw or escaped NUL, invalid UTF-8 or an unpaired
 * surrogate is recorded in *flag (first one wins) and the scan goes on.
 */
static size_t scan_string(const unsigned char *s, size_t len, size_t i, bool *escaped,
			  enum jsontok_status *flag)
{
	size_t k = i + 1;

	while (k < len) {
		unsigned char c = s[k];
		if (str_plain[c]) {
			k++;
			while (k < len && str_plain[s[k]])
				k++;
			continue;
		}
		if (c == '"')
			return k + 1;
		if (c == '\\') {
			enum jsontok_status f = JSONTOK_OK;
			size_t n = scan_escape(s + k, len - k, &f);
			if (!n)
				return 0;
			if (f != JSONTOK_OK && *flag == JSONTOK_OK)
				*flag = f;
			*escaped = true;
			k += n;
		} else if (c >= 0x80) {
			size_t n = jsontext_utf8_seq_len(s + k, len - k);
			if (!n) {
				if (*flag == JSONTOK_OK)
					*flag = JSONTOK_BAD_UTF8;
				n = 1;
			}
			k += n;
		} else if (c == 0) {
			if (*flag == JSONTOK_OK)
				*flag = JSONTOK_NUL;
			k++;
		} else {
			return 0; /* a raw control character */
		}
	}
	return 0; /* unterminated */
}

/* RFC 8259 number at s[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; 0 if invalid. */
static size_t scan_number(const unsigned char *s, size_t len, size_t i)
{
	size_t d;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else if (i < len && s[i] >= '1' && s[i] <= '9') {
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < len && s[i] == '.') {
		for (i++, d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (!d)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (!d)
			return 0;
	}
	return i;
}

/* The literal `word` (n bytes) at s[i]? */
static bool is_literal(const unsigned char *s, size_t len, size_t i, const char *word, size_t n)
{
	return len - i >= n && memcmp(s + i, word, n) == 0;
}

/* The scalar starting at s[*i]; pushes its token. Returns false on a syntax error. */
static bool parse_scalar(struct jsontok_doc *doc, const unsigned char *s, size_t len, size_t *i,
			 enum jsontok_status *flag)
{
	size_t start = *i, end;
	enum jsontok_type type;
	bool escaped = false;
	struct jsontok *t;

	switch (s[start]) {
	case '"':
		end = scan_string(s, len, start, &escaped, flag);
		type = JSONTOK_STRING;
		break;
	case 't':
		end = is_literal(s, len, start, "true", 4) ? start + 4 : 0;
		type = JSONTOK_TRUE;
		break;
	case 'f':
		end = is_literal(s, len, start, "false", 5) ? start + 5 : 0;
		type = JSONTOK_FALSE;
		break;
	case 'n':
		end = is_literal(s, len, start, "null", 4) ? start + 4 : 0;
		type = JSONTOK_NULL;
		break;
	default:
		end = scan_number(s, len, start);
		type = JSONTOK_NUMBER;
		break;
	}
	if (!end)
		return false;
	t = tok_push(doc, type, start);
	t->escaped = escaped;
	t->len = (uint32_t)(end - start);
	*i = end;
	return true;
}

static bool stack_push(struct jsontok_doc *doc, size_t *depth, uint32_t tok)
{
	if (*depth == JSONTOK_MAX_DEPTH)
		return false;
	if (*depth == doc->stack_cap) {
		doc->stack_cap = doc->stack_cap ? doc->stack_cap * 2 : 32;
		doc->stack = pgc_realloc(doc->stack, doc->stack_cap * sizeof(*doc->stack));
	}
	doc->stack[(*depth)++] = tok;
	return true;
}

/* Count a new value in its container (arrays count elements, objects keys). */
static void count_in_parent(struct jsontok_doc *doc, size_t depth)
{
	if (depth && doc->toks[doc->stack[depth - 1]].type == JSONTOK_ARRAY)
		doc->toks[doc->stack[depth - 1]].count++;
}

enum jsontok_status jsontok_parse(struct jsontok_doc *doc, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	enum jsontok_status flag = JSONTOK_OK, fail = JSONTOK_SYNTAX;
	enum parse_state state = EXPECT_VALUE;
	size_t i = 0, depth = 0;

	doc->text = text;
	doc->n = 0;
	if (len > UINT32_MAX)
		return JSONTOK_SYNTAX;
	for (;;) {
		while (i < len && is_ws(s[i]))
			i++;
		if (state == AFTER_VALUE) {
			struct jsontok *c;
			if (!depth) {
				if (i == len)
					return flag;
				goto bad;
			}
			if (i == len)
				goto bad;
			c = &doc->toks[doc->stack[depth - 1]];
			if (s[i] == ',') {
				i++;
				state = c->type == JSONTOK_OBJECT ? EXPECT_KEY : EXPECT_VALUE;
				continue;
			}
			if (s[i] != (c->type == JSONTOK_OBJECT ? '}' : ']'))
				goto bad;
			i++;
			c->len = (uint32_t)(i - c->off);
			c->end = (uint32_t)doc->n;
			depth--;
			continue;
		}
		if (i == len)
			goto bad;
		if (state == EXPECT_KEY) {
			if (s[i] != '"' || !parse_scalar(doc, s, len, &i, &flag))
				goto bad;
			doc->toks[doc->stack[depth - 1]].count++;
			while (i < len && is_ws(s[i]))
				i++;
			if (i == len || s[i] != ':')
				goto bad;
			i++;
			state = EXPECT_VALUE;
			continue;
		}
		/* EXPECT_VALUE */
		count_in_parent(doc, depth);
		if (s[i] == '{' || s[i] == '[') {
			bool obj = s[i] == '{';
			uint32_t idx = (uint32_t)doc->n;
			tok_push(doc, obj ? JSONTOK_OBJECT : JSONTOK_ARRAY, i);
			if (!stack_push(doc, &depth, idx)) {
				fail = JSONTOK_TOO_DEEP;
				goto bad;
			}
			i++;
			while (i < len && is_ws(s[i]))
				i++;
			if (i < len && s[i] == (obj ? '}' : ']')) {
				state = AFTER_VALUE; /* empty: closed by the AFTER_VALUE branch */
				continue;
			}
			state = obj ? EXPECT_KEY : EXPECT_VALUE;
			continue;
		}
		if (s[i] >= 0x80 && !jsontext_utf8_seq_len(s + i, len - i)) {
			fail = JSONTOK_BAD_UTF8;
			goto bad;
		}
		if (!parse_scalar(doc, s, len, &i, &flag))
			goto bad;
		state = AFTER_VALUE;
	}
bad:
	doc->n = 0;
	return fail;
}

bool jsontok_string_is(const struct jsontok_doc *doc, size_t i, const char *s, size_t n)
{
	const struct jsontok *t = &doc->toks[i];
	struct buf b;
	bool eq;

	if (t->type != JSONTOK_STRING)
		return false;
	if (!t->escaped)
		return t->len - 2 == n && memcmp(doc->text + t->off + 1, s, n) == 0;
	buf_init(&b);
	jsontext_unescape(&b, doc->text + t->off, t->len);
	eq = b.len == n && (n == 0 || memcmp(b.data, s, n) == 0);
	buf_free(&b);
	return eq;
}
