/*
 * cli_sql.c — statement splitting, lexing and INSERT parsing (see cli_sql.h).
 *
 * The lexical rules are PostgreSQL's (scan.l), reduced to what an INSERT of
 * literal rows needs; messages are PostgreSQL's own where one exists, so the
 * CLI reads like psql talking to a server.
 */
#include "cli_sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsontext.h"

/* ------------------------------------------------------------ characters */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

/* Characters of a dollar-quote tag: identifier characters without '$'. */
static bool is_tag_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static bool is_op_char(char c)
{
	return c && strchr("~!@#^&|`?+-*/%<>=", c) != NULL;
}

/* ------------------------------------------------------------ splitting */

void cli_sql_split_init(struct cli_sql_split *sp)
{
	memset(sp, 0, sizeof(*sp));
}

/* Scan plain SQL from *i. Returns 1 at a ';' ending a statement, -1 when
 * more text is needed to decide, 0 after a state change or one token. */
static int split_top(struct cli_sql_split *sp, const char *t, size_t len, size_t *i)
{
	char c = t[*i];
	size_t j;

	if (is_blank(c)) {
		(*i)++;
		return 0;
	}
	if (c == '-' || c == '/') {
		if (*i + 1 >= len)
			return -1;
		if (c == '-' && t[*i + 1] == '-') {
			const char *nl = memchr(t + *i, '\n', len - *i);
			if (!nl)
				return -1;
			*i = (size_t)(nl - t) + 1;
			return 0;
		}
		if (c == '/' && t[*i + 1] == '*') {
			sp->state = CLI_SQL_COMMENT;
			sp->comments = 1;
			*i += 2;
			return 0;
		}
	}
	sp->nonblank = true;
	if (is_ident_start(c)) {
		for (j = *i + 1; j < len && is_ident_char(t[j]); j++)
			;
		if (j == len)
			return -1;
		if (j == *i + 1 && (c == 'e' || c == 'E') && t[j] == '\'') {
			sp->state = CLI_SQL_EQUOTE;
			j++;
		}
		*i = j;
		return 0;
	}
	switch (c) {
	case '\'': sp->state = CLI_SQL_QUOTE; break;
	case '"':  sp->state = CLI_SQL_DQUOTE; break;
	case '(':  sp->parens++; break;
	case ')':  if (sp->parens > 0) sp->parens--; break;
	case ';':
		if (sp->parens == 0) {
			(*i)++;
			return 1;
		}
		break;
	case '$':
		for (j = *i + 1; j < len && is_tag_char(t[j]) && !(j == *i + 1 && is_digit(t[j])); j++)
			;
		if (j == len)
			return -1;
		if (t[j] == '$') {
			sp->state = CLI_SQL_DOLLAR;
			sp->tag_off = *i;
			sp->tag_len = j - *i + 1;
			*i = j + 1;
			return 0;
		}
		break;
	default:
		break;
	}
	(*i)++;
	return 0;
}

/* Scan inside a quote or comment from *i. Returns -1 when more text is
 * needed, 0 otherwise. */
static int split_inside(struct cli_sql_split *sp, const char *t, size_t len, size_t *i)
{
	char c = t[*i];
	const char *end;

	switch (sp->state) {
	case CLI_SQL_QUOTE:
	case CLI_SQL_EQUOTE:
	case CLI_SQL_DQUOTE: {
		char q = sp->state == CLI_SQL_DQUOTE ? '"' : '\'';
		if (c == '\\' && sp->state == CLI_SQL_EQUOTE) {
			if (*i + 1 >= len)
				return -1;
			*i += 2;
			return 0;
		}
		if (c != q) {
			(*i)++;
			return 0;
		}
		if (*i + 1 >= len)
			return -1;
		if (t[*i + 1] == q)
			*i += 2; /* doubled quote */
		else {
			sp->state = CLI_SQL_TOP;
			(*i)++;
		}
		return 0;
	}
	case CLI_SQL_DOLLAR:
		end = memmem(t + *i, len - *i, t + sp->tag_off, sp->tag_len);
		if (!end) {
			/* keep a possible partial closing tag for the next scan */
			if (len - *i >= sp->tag_len)
				*i = len - sp->tag_len + 1;
			return -1;
		}
		*i = (size_t)(end - t) + sp->tag_len;
		sp->state = CLI_SQL_TOP;
		return 0;
	case CLI_SQL_COMMENT:
		if (c != '/' && c != '*') {
			(*i)++;
			return 0;
		}
		if (*i + 1 >= len)
			return -1;
		if (c == '/' && t[*i + 1] == '*') {
			sp->comments++;
			*i += 2;
		} else if (c == '*' && t[*i + 1] == '/') {
			*i += 2;
			if (--sp->comments == 0)
				sp->state = CLI_SQL_TOP;
		} else {
			(*i)++;
		}
		return 0;
	case CLI_SQL_TOP:
		break;
	}
	return 0;
}

bool cli_sql_split_next(struct cli_sql_split *sp, const char *text, size_t len, size_t *end)
{
	size_t i = sp->pos;

	while (i < len) {
		int r = sp->state == CLI_SQL_TOP ? split_top(sp, text, len, &i)
						 : split_inside(sp, text, len, &i);
		if (r < 0)
			break;
		if (r > 0) {
			sp->pos = i;
			*end = i;
			return true;
		}
	}
	sp->pos = i;
	return false;
}

char cli_sql_split_prompt(const struct cli_sql_split *sp)
{
	switch (sp->state) {
	case CLI_SQL_QUOTE:
	case CLI_SQL_EQUOTE:  return '\'';
	case CLI_SQL_DQUOTE:  return '"';
	case CLI_SQL_DOLLAR:  return '$';
	case CLI_SQL_COMMENT: return '*';
	case CLI_SQL_TOP:     break;
	}
	if (sp->parens > 0)
		return '(';
	return sp->nonblank ? '-' : '=';
}

/* ------------------------------------------------------------ lexing */

enum tok_type {
	TOK_EOF = 0,  /* end of the statement */
	TOK_WORD,     /* unquoted identifier or keyword, folded to lower case */
	TOK_IDENT,    /* "quoted" identifier, exact */
	TOK_STRING,   /* string constant, decoded */
	TOK_NUMBER,   /* numeric constant, as JSON number text */
	TOK_PARAM,    /* $1 */
	TOK_PUNCT,    /* punctuation or operator, as written */
	TOK_ERROR,    /* lexical error: the parser's err is set */
};

struct lexer {
	const char           *s;
	size_t                len;
	size_t                pos;     /* next byte to scan */
	enum tok_type         type;    /* the current token */
	size_t                off;     /* its source span */
	size_t                end;
	struct buf            text;    /* its value (see enum tok_type) */
	struct cli_sql_error *err;
	struct buf           *notices;
};

/* Longest piece of source quoted in an "at or near" message. */
#define NEAR_MAX 200

static void set_error(struct cli_sql_error *err, long pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(struct cli_sql_error *err, long pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->hint[0] = '\0';
	err->position = pos;
	memcpy(err->code, "42601", 6); /* syntax_error, unless the caller says otherwise */
}

/* How many bytes of s[off..end) to quote: at most NEAR_MAX, whole characters. */
static int near_len(const char *s, size_t off, size_t end)
{
	size_t n = end - off;

	if (n <= NEAR_MAX)
		return (int)n;
	n = NEAR_MAX;
	while (n > 0 && ((unsigned char)s[off + n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

/* A lexical error about the source text from `off` to `end`. */
static enum tok_type lex_error(struct lexer *lx, const char *what, size_t off, size_t end)
{
	set_error(lx->err, (long)off, "%s at or near \"%.*s\"", what, near_len(lx->s, off, end),
		  lx->s + off);
	lx->type = TOK_ERROR;
	return TOK_ERROR;
}

/* Skip blanks and comments. False on an unterminated block comment. */
static bool lex_skip_blanks(struct lexer *lx)
{
	const char *s = lx->s;

	while (lx->pos < lx->len) {
		size_t i = lx->pos;
		if (is_blank(s[i])) {
			lx->pos++;
		} else if (s[i] == '-' && i + 1 < lx->len && s[i + 1] == '-') {
			while (lx->pos < lx->len && s[lx->pos] != '\n' && s[lx->pos] != '\r')
				lx->pos++;
		} else if (s[i] == '/' && i + 1 < lx->len && s[i + 1] == '*') {
			int depth = 1;
			for (lx->pos += 2; depth > 0 && lx->pos + 1 < lx->len; lx->pos++) {
				if (s[lx->pos] == '/' && s[lx->pos + 1] == '*') {
					depth++;
					lx->pos++;
				} else if (s[lx->pos] == '*' && s[lx->pos + 1] == '/') {
					depth--;
					lx->pos++;
				}
			}
			if (depth > 0) {
				lex_error(lx, "unterminated /* comment", i, lx->len);
				return false;
			}
		} else {
			break;
		}
	}
	return true;
}

/*
 * PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes (at a character
 * boundary) with a NOTICE; do the same to lx->text.
 */
static void lex_truncate_ident(struct lexer *lx)
{
	size_t n = lx->text.len;

	if (n <= CLI_SQL_MAX_IDENT)
		return;
	n = CLI_SQL_MAX_IDENT;
	while (n > 0 && ((unsigned char)lx->text.data[n] & 0xC0) == 0x80)
		n--;
	buf_printf(lx->notices, "identifier \"%s\" will be truncated to \"%.*s\"\n",
		   buf_cstr(&lx->text), (int)n, lx->text.data);
	lx->text.len = n;
	lx->text.data[n] = '\0';
}

static enum tok_type lex_word(struct lexer *lx)
{
	size_t i = lx->pos;

	while (lx->pos < lx->len && is_ident_char(lx->s[lx->pos]))
		lx->pos++;
	buf_reset(&lx->text);
	buf_append(&lx->text, lx->s + i, lx->pos - i);
	for (i = 0; i < lx->text.len; i++)
		if (lx->text.data[i] >= 'A' && lx->text.data[i] <= 'Z')
			lx->text.data[i] = (char)(lx->text.data[i] - 'A' + 'a');
	lex_truncate_ident(lx);
	return TOK_WORD;
}

static enum tok_type lex_quoted_ident(struct lexer *lx)
{
	size_t start = lx->pos, i = lx->pos + 1, run;

	buf_reset(&lx->text);
	for (run = i;; i++) {
		if (i >= lx->len)
			return lex_error(lx, "unterminated quoted identifier", start, lx->len);
		if (lx->s[i] != '"')
			continue;
		buf_append(&lx->text, lx->s + run, i - run);
		if (i + 1 < lx->len && lx->s[i + 1] == '"') {
			buf_putc(&lx->text, '"');
			run = ++i + 1;
			continue;
		}
		break;
	}
	lx->pos = i + 1;
	if (lx->text.len == 0)
		return lex_error(lx, "zero-length delimited identifier", start, lx->pos);
	lex_truncate_ident(lx);
	return TOK_IDENT;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read exactly n hex digits at s[i..]; -1 if they are not there. */
static long hex_digits(const struct lexer *lx, size_t i, int n)
{
	long v = 0;
	int k;

	for (k = 0; k < n; k++) {
		int h = i + (size_t)k < lx->len ? hex_value(lx->s[i + (size_t)k]) : -1;
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * A \u or \U escape at s[*i] (the backslash). Appends UTF-8 to lx->text and
 * moves *i past it; false with the error set when it is invalid.
 */
static bool lex_unicode_escape(struct lexer *lx, size_t *i)
{
	size_t at = *i;
	int n = lx->s[at + 1] == 'u' ? 4 : 8;
	long cp = hex_digits(lx, at + 2, n), lo;

	if (cp < 0) {
		lex_error(lx, "invalid Unicode escape", at, at + 2);
		snprintf(lx->err->hint, sizeof(lx->err->hint),
			 "Unicode escapes must be \\uXXXX or \\UXXXXXXXX.");
		return false;
	}
	*i = at + 2 + (size_t)n;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		/* a high surrogate must be followed by \u and a low one */
		lo = (*i + 1 < lx->len && lx->s[*i] == '\\' && lx->s[*i + 1] == 'u')
			? hex_digits(lx, *i + 2, 4) : -1;
		if (lo < 0xDC00 || lo > 0xDFFF) {
			lex_error(lx, "invalid Unicode surrogate pair", at, *i);
			return false;
		}
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		*i += 6;
	} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
		lex_error(lx, "invalid Unicode surrogate pair", at, *i);
		return false;
	}
	if (cp == 0 || cp > 0x10FFFF) {
		lex_error(lx, "invalid Unicode escape value", at, *i);
		return false;
	}
	jsontext_put_utf8(&lx->text, (unsigned)cp);
	return true;
}

/* One backslash escape of an E'' string at s[*i]; see PostgreSQL's xeescape. */
static bool lex_escape(struct lexer *lx, size_t *i)
{
	char c = lx->s[*i + 1];
	int v, k;

	switch (c) {
	case 'b': buf_putc(&lx->text, '\b'); break;
	case 'f': buf_putc(&lx->text, '\f'); break;
	case 'n': buf_putc(&lx->text, '\n'); break;
	case 'r': buf_putc(&lx->text, '\r'); break;
	case 't': buf_putc(&lx->text, '\t'); break;
	case 'u':
	case 'U':
		return lex_unicode_escape(lx, i);
	case 'x':
		for (v = 0, k = 0; k < 2 && *i + 2 + (size_t)k < lx->len &&
				   hex_value(lx->s[*i + 2 + (size_t)k]) >= 0; k++)
			v = v * 16 + hex_value(lx->s[*i + 2 + (size_t)k]);
		if (k == 0) {
			buf_putc(&lx->text, 'x');
			break;
		}
		buf_putc(&lx->text, (char)v);
		*i += 2 + (size_t)k;
		return true;
	default:
		if (c >= '0' && c <= '7') {
			for (v = 0, k = 0; k < 3 && *i + 1 + (size_t)k < lx->len &&
					   lx->s[*i + 1 + (size_t)k] >= '0' && lx->s[*i + 1 + (size_t)k] <= '7'; k++)
				v = v * 8 + (lx->s[*i + 1 + (size_t)k] - '0');
			buf_putc(&lx->text, (char)(v & 0xFF));
			*i += 1 + (size_t)k;
			return true;
		}
		buf_putc(&lx->text, c); /* \\ \' and any other character */
		break;
	}
	*i += 2;
	return true;
}

/*
 * After a closing quote at s[i-1]: PostgreSQL joins 'a' <newline> 'b' into
 * one string when only whitespace with at least one newline (and, after it,
 * -- comments) separates them. Returns the position after the next opening
 * quote, or 0 when the string does not continue.
 */
static size_t lex_continuation(const struct lexer *lx, size_t i)
{
	bool newline = false;

	while (i < lx->len) {
		char c = lx->s[i];
		if (c == '\n' || c == '\r') {
			newline = true;
			i++;
		} else if (is_blank(c)) {
			i++;
		} else if (newline && c == '-' && i + 1 < lx->len && lx->s[i + 1] == '-') {
			while (i < lx->len && lx->s[i] != '\n' && lx->s[i] != '\r')
				i++;
		} else {
			break;
		}
	}
	return newline && i < lx->len && lx->s[i] == '\'' ? i + 1 : 0;
}

/* Decoded strings must be valid UTF-8 without NUL, as the server requires. */
static bool lex_check_encoding(struct lexer *lx, size_t start)
{
	const unsigned char *p = (const unsigned char *)lx->text.data;
	size_t i = 0, n = lx->text.len;

	while (i < n) {
		size_t k = p[i] ? jsontext_utf8_seq_len(p + i, n - i) : 0;
		if (!k) {
			set_error(lx->err, (long)start, "invalid byte sequence for encoding \"UTF8\": 0x%02x",
				  p[i]);
			lx->type = TOK_ERROR;
			return false;
		}
		i += k;
	}
	return true;
}

/* A '...' or E'...' string starting at lx->pos (the opening quote). */
static enum tok_type lex_string(struct lexer *lx, size_t start, bool escapes)
{
	size_t i = lx->pos + 1, run = i, next;

	buf_reset(&lx->text);
	for (;;) {
		char c;
		if (i >= lx->len)
			return lex_error(lx, "unterminated quoted string", start, lx->len);
		c = lx->s[i];
		if (c == '\\' && escapes) {
			buf_append(&lx->text, lx->s + run, i - run);
			if (i + 1 >= lx->len)
				return lex_error(lx, "unterminated quoted string", start, lx->len);
			if (!lex_escape(lx, &i))
				return TOK_ERROR;
			run = i;
			continue;
		}
		if (c != '\'') {
			i++;
			continue;
		}
		buf_append(&lx->text, lx->s + run, i - run);
		if (i + 1 < lx->len && lx->s[i + 1] == '\'') {
			buf_putc(&lx->text, '\'');
			i += 2;
		} else if ((next = lex_continuation(lx, i + 1)) != 0) {
			i = next;
		} else {
			break;
		}
		run = i;
	}
	lx->pos = i + 1;
	return lex_check_encoding(lx, start) ? TOK_STRING : TOK_ERROR;
}

/* $tag$...$tag$ at lx->pos; tag_len counts both dollars. */
static enum tok_type lex_dollar(struct lexer *lx, size_t tag_len)
{
	size_t start = lx->pos, body = start + tag_len;
	const char *end = memmem(lx->s + body, lx->len - body, lx->s + start, tag_len);

	if (!end)
		return lex_error(lx, "unterminated dollar-quoted string", start, lx->len);
	buf_reset(&lx->text);
	buf_append(&lx->text, lx->s + body, (size_t)(end - (lx->s + body)));
	lx->pos = (size_t)(end - lx->s) + tag_len;
	return lex_check_encoding(lx, start) ? TOK_STRING : TOK_ERROR;
}

/*
 * A numeric constant at lx->pos: digits, an optional fraction and exponent.
 * Its value goes out as JSON number text with the same digits: leading zeros
 * of the integer part dropped ("007" -> "7"), "0" added before a bare
 * fraction (".5" -> "0.5"), a bare trailing point dropped ("5." -> "5").
 */
static enum tok_type lex_number(struct lexer *lx)
{
	const char *s = lx->s;
	size_t start = lx->pos, i = start, int_beg, int_end, frac_beg = 0, frac_end = 0, exp_beg = 0;

	for (int_beg = i; i < lx->len && is_digit(s[i]); i++)
		;
	int_end = i;
	if (i < lx->len && s[i] == '.' && !(i + 1 < lx->len && s[i + 1] == '.')) {
		for (frac_beg = ++i; i < lx->len && is_digit(s[i]); i++)
			;
		frac_end = i;
	}
	if (i < lx->len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < lx->len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < lx->len && is_digit(s[j])) {
			exp_beg = i;
			for (i = j; i < lx->len && is_digit(s[i]); i++)
				;
		} else if (j > i + 1) {
			return lex_error(lx, "trailing junk after numeric literal", start, j);
		}
	}
	if (i < lx->len && is_ident_start(s[i]))
		return lex_error(lx, "trailing junk after numeric literal", start, i + 1);
	while (int_beg + 1 < int_end && s[int_beg] == '0')
		int_beg++;
	buf_reset(&lx->text);
	if (int_beg == int_end)
		buf_putc(&lx->text, '0');
	else
		buf_append(&lx->text, s + int_beg, int_end - int_beg);
	if (frac_end > frac_beg) {
		buf_putc(&lx->text, '.');
		buf_append(&lx->text, s + frac_beg, frac_end - frac_beg);
	}
	if (exp_beg)
		buf_append(&lx->text, s + exp_beg, i - exp_beg);
	lx->pos = i;
	return TOK_NUMBER;
}

/*
 * An operator: a run of operator characters, cut before a comment start,
 * and, as PostgreSQL does, without trailing '+'/'-' unless the run holds
 * one of ~ ! @ # % ^ & | ` ? (so "=-5" is "=" then "-5").
 */
static enum tok_type lex_operator(struct lexer *lx)
{
	const char *s = lx->s;
	size_t start = lx->pos, i = start, n;

	while (i < lx->len && is_op_char(s[i])) {
		if (i > start && ((s[i] == '-' && s[i - 1] == '-') || (s[i] == '*' && s[i - 1] == '/'))) {
			i--;
			break;
		}
		i++;
	}
	n = i - start;
	if (n > 1 && !memchr(s + start, '~', n) && !memchr(s + start, '!', n) &&
	    !memchr(s + start, '@', n) && !memchr(s + start, '#', n) && !memchr(s + start, '%', n) &&
	    !memchr(s + start, '^', n) && !memchr(s + start, '&', n) && !memchr(s + start, '|', n) &&
	    !memchr(s + start, '`', n) && !memchr(s + start, '?', n)) {
		while (n > 1 && (s[start + n - 1] == '+' || s[start + n - 1] == '-'))
			n--;
	}
	lx->pos = start + n;
	return TOK_PUNCT;
}

/* Constants PostgreSQL has and the CLI does not send: a clear error each. */
static enum tok_type lex_prefixed_constant(struct lexer *lx, bool *matched)
{
	const char *s = lx->s;
	size_t i = lx->pos;
	char c = (char)(s[i] | 0x20);

	*matched = true;
	if (i + 1 < lx->len && s[i + 1] == '\'') {
		if (c == 'e') {
			lx->pos++;
			return lex_string(lx, i, true);
		}
		if (c == 'b' || c == 'x')
			return lex_error(lx, "bit-string constants are not supported", i, i + 2);
		if (c == 'n')
			return lex_error(lx, "national character constants (N'...') are not supported",
					 i, i + 2);
	}
	if (c == 'u' && i + 2 < lx->len && s[i + 1] == '&' && (s[i + 2] == '\'' || s[i + 2] == '"')) {
		lex_error(lx, "Unicode escape strings (U&'...') are not supported", i, i + 3);
		snprintf(lx->err->hint, sizeof(lx->err->hint),
			 "Write E'\\u00e9' instead of U&'\\00e9'.");
		return TOK_ERROR;
	}
	*matched = false;
	return TOK_EOF;
}

static enum tok_type lex_dispatch(struct lexer *lx)
{
	const char *s = lx->s;
	size_t i = lx->pos, j;
	char c = s[i];
	bool matched;
	enum tok_type t;

	if (is_ident_start(c)) {
		t = lex_prefixed_constant(lx, &matched);
		return matched ? t : lex_word(lx);
	}
	if (c == '"')
		return lex_quoted_ident(lx);
	if (c == '\'')
		return lex_string(lx, i, false);
	if (is_digit(c) || (c == '.' && i + 1 < lx->len && is_digit(s[i + 1])))
		return lex_number(lx);
	if (c == '$') {
		if (i + 1 < lx->len && is_digit(s[i + 1])) {
			for (j = i + 1; j < lx->len && is_digit(s[j]); j++)
				;
			lx->pos = j;
			return TOK_PARAM;
		}
		for (j = i + 1; j < lx->len && is_tag_char(s[j]); j++)
			;
		if (j < lx->len && s[j] == '$')
			return lex_dollar(lx, j - i + 1);
	}
	if ((c == ':' || c == '.') && i + 1 < lx->len && s[i + 1] == c) {
		lx->pos += 2;
		return TOK_PUNCT;
	}
	if (is_op_char(c))
		return lex_operator(lx);
	/* "::" and ".." above; , ( ) [ ] ; . : and anything else: one character (a syntax error
	 * unless the grammar expects it) */
	lx->pos++;
	return TOK_PUNCT;
}

/* Advance to the next token. */
static enum tok_type lex_next(struct lexer *lx)
{
	if (!lex_skip_blanks(lx))
		return TOK_ERROR;
	lx->off = lx->pos;
	if (lx->pos >= lx->len) {
		lx->type = TOK_EOF;
		lx->end = lx->len;
		return TOK_EOF;
	}
	lx->type = lex_dispatch(lx);
	lx->end = lx->pos;
	if (lx->type == TOK_PUNCT || lx->type == TOK_PARAM) {
		buf_reset(&lx->text);
		buf_append(&lx->text, lx->s + lx->off, lx->end - lx->off);
	}
	return lx->type;
}

/* The statement must be valid UTF-8 without NUL bytes (as the server checks). */
static bool check_encoding(const char *s, size_t len, struct cli_sql_error *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t k = p[i] ? jsontext_utf8_seq_len(p + i, len - i) : 0;
		if (!k) {
			size_t want = p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : p[i] >= 0xC0 ? 2 : 1, n;
			char hex[32] = "";
			for (n = 0; n < want && i + n < len; n++)
				snprintf(hex + strlen(hex), sizeof(hex) - strlen(hex), "%s0x%02x",
					 n ? " " : "", p[i + n]);
			set_error(err, -1, "invalid byte sequence for encoding \"UTF8\": %s", hex);
			memcpy(err->code, "22021", 6); /* character_not_in_repertoire */
			return false;
		}
		i += k;
	}
	return true;
}

/* ------------------------------------------------------------ parsing */

struct parser {
	struct lexer           lx;
	struct cli_sql_insert *ins;
	struct cli_sql_error  *err;
	size_t                 extra_pos; /* tuple 1's first value without a column */
	size_t                 ntuple1;   /* values in tuple 1 */
	struct buf             scratch;   /* values without a column go here */
};

/* PostgreSQL's reserved and type/function-name keywords: not column or
 * table names unless quoted. Sorted for bsearch. */
static const char *const reserved_words[] = {
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
	"authorization", "binary", "both", "case", "cast", "check", "collate", "collation",
	"column", "concurrently", "constraint", "create", "cross", "current_catalog",
	"current_date", "current_role", "current_schema", "current_time", "current_timestamp",
	"current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
	"except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant",
	"group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is",
	"isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
	"localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or",
	"order", "outer", "overlaps", "placing", "primary", "references", "returning", "right",
	"select", "session_user", "similar", "some", "symmetric", "table", "tablesample",
	"then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic",
	"verbose", "when", "where", "window", "with",
};

/* Statements other than INSERT: named in the error instead of a syntax error. */
static const char *const other_commands[] = {
	"abort", "alter", "analyze", "begin", "call", "checkpoint", "close", "cluster",
	"comment", "commit", "copy", "create", "deallocate", "declare", "delete", "discard",
	"do", "drop", "end", "execute", "explain", "fetch", "grant", "import", "listen", "load",
	"lock", "merge", "move", "notify", "prepare", "reassign", "refresh", "reindex",
	"release", "reset", "revoke", "rollback", "savepoint", "security", "select", "set",
	"show", "start", "table", "truncate", "unlisten", "update", "vacuum", "values", "with",
};

static int cmp_word(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(const char *const *)elem);
}

static bool in_list(const char *w, const char *const *list, size_t n)
{
	return bsearch(w, list, n, sizeof(*list), cmp_word) != NULL;
}

#define IN_LIST(w, list) in_list((w), (list), sizeof(list) / sizeof((list)[0]))

static enum tok_type advance(struct parser *p)
{
	return lex_next(&p->lx);
}

static bool is_kw(const struct parser *p, const char *kw)
{
	return p->lx.type == TOK_WORD && strcmp(p->lx.text.data, kw) == 0;
}

static bool is_punct(const struct parser *p, const char *punct)
{
	return p->lx.type == TOK_PUNCT && strcmp(p->lx.text.data, punct) == 0;
}

/* "syntax error at or near" the current token (or at end of input). */
static bool syntax_error(struct parser *p)
{
	struct lexer *lx = &p->lx;

	if (lx->type == TOK_ERROR)
		return false; /* the lexer already said what is wrong */
	if (lx->type == TOK_EOF)
		set_error(p->err, (long)lx->len, "syntax error at end of input");
	else
		set_error(p->err, (long)lx->off, "syntax error at or near \"%.*s\"",
			  near_len(lx->s, lx->off, lx->end), lx->s + lx->off);
	return false;
}

/* An error at the current token, with an optional hint. */
static bool unsupported(struct parser *p, const char *message, const char *hint)
{
	set_error(p->err, (long)p->lx.off, "%s", message);
	memcpy(p->err->code, "0A000", 6); /* feature_not_supported */
	if (hint)
		snprintf(p->err->hint, sizeof(p->err->hint), "%s", hint);
	return false;
}

/* A table or column name: an identifier that is not a reserved word. */
static bool at_name(const struct parser *p)
{
	return p->lx.type == TOK_IDENT ||
	       (p->lx.type == TOK_WORD && !IN_LIST(p->lx.text.data, reserved_words));
}

/* [schema.]table at the current token; leaves the token after it. */
static bool parse_table_name(struct parser *p)
{
	struct cli_sql_insert *ins = p->ins;
	size_t name_off = p->lx.off;

	ins->table_pos = name_off;
	if (!at_name(p))
		return syntax_error(p);
	ins->table = pgc_strdup(p->lx.text.data);
	advance(p);
	if (is_punct(p, ".")) {
		advance(p);
		if (!at_name(p) && p->lx.type != TOK_WORD)
			return syntax_error(p);
		ins->schema = ins->table;
		ins->table = pgc_strdup(p->lx.text.data);
		advance(p);
		if (is_punct(p, "."))
			return unsupported(p, "cross-database references are not implemented",
					   "Name the table as schema.table or table.");
	} else if (strchr(ins->table, '.')) {
		set_error(p->err, (long)name_off, "table name \"%s\" contains a dot", ins->table);
		snprintf(p->err->hint, sizeof(p->err->hint),
			 "Qualify it with its schema, as in public.\"%s\".", ins->table);
		return false;
	}
	return p->lx.type != TOK_ERROR;
}

static const char SELECT_HINT[] =
	"The sidecar takes literal rows: INSERT INTO t (a, b) VALUES (1, 2), (3, 4).";

/* The first character of the token after the current one (0 at the end). */
static char peek_char(struct parser *p)
{
	size_t save = p->lx.pos;
	char c = 0;

	if (lex_skip_blanks(&p->lx) && p->lx.pos < p->lx.len)
		c = p->lx.s[p->lx.pos];
	p->lx.pos = save; /* an unterminated comment is reported by the next advance() */
	return c;
}

/*
 * At the token after "INSERT INTO t (": a query, as in INSERT INTO t
 * (SELECT ...)? "values" may also be a column name: VALUES ( starts a query.
 */
static bool at_query(struct parser *p)
{
	return is_kw(p, "select") || is_kw(p, "with") || is_kw(p, "table") || is_punct(p, "(") ||
	       (is_kw(p, "values") && peek_char(p) == '(');
}

static bool parse_columns(struct parser *p)
{
	struct cli_sql_insert *ins = p->ins;
	size_t cap = 0, i;

	advance(p);
	if (at_query(p))
		return unsupported(p, "INSERT ... SELECT is not supported", SELECT_HINT);
	for (;;) {
		if (!at_name(p))
			return syntax_error(p);
		if (ins->ncolumns == CLI_SQL_MAX_COLUMNS)
			return unsupported(p, "target lists can have at most 1664 entries", NULL);
		for (i = 0; i < ins->ncolumns; i++)
			if (strcmp(ins->columns[i], p->lx.text.data) == 0) {
				set_error(p->err, (long)p->lx.off, "column \"%s\" specified more than once",
					  p->lx.text.data);
				memcpy(p->err->code, "42701", 6); /* duplicate_column */
				return false;
			}
		if (ins->ncolumns == cap) {
			cap = cap ? cap * 2 : 8;
			ins->columns = pgc_realloc(ins->columns, cap * sizeof(char *));
			ins->column_pos = pgc_realloc(ins->column_pos, cap * sizeof(size_t));
		}
		ins->column_pos[ins->ncolumns] = p->lx.off;
		ins->columns[ins->ncolumns++] = pgc_strdup(p->lx.text.data);
		advance(p);
		if (is_punct(p, ".") || is_punct(p, "["))
			return unsupported(p, "column subfields and array elements are not supported",
					   "Name whole columns; send a composite or array value as one literal.");
		if (!is_punct(p, ","))
			break;
		advance(p);
	}
	if (!is_punct(p, ")"))
		return syntax_error(p);
	advance(p);
	return p->lx.type != TOK_ERROR;
}

static const char VALUES_HINT[] =
	"Values must be literals: strings, numbers, NULL, TRUE, FALSE or DEFAULT "
	"(the column's type converts a string).";

/* After a literal: only ',' or ')' may follow. */
static bool value_end(struct parser *p)
{
	if (is_punct(p, ",") || is_punct(p, ")"))
		return true;
	if (is_punct(p, "::"))
		return unsupported(p, "type casts are not supported", VALUES_HINT);
	if (p->lx.type == TOK_PUNCT && (is_op_char(p->lx.text.data[0]) || is_punct(p, "[")))
		return unsupported(p, "expressions are not supported in VALUES", VALUES_HINT);
	return syntax_error(p);
}

/* A value that is a word: DEFAULT, NULL, TRUE, FALSE, or an error. */
static bool parse_word_value(struct parser *p, struct buf *json, bool *is_default)
{
	if (is_kw(p, "default"))
		*is_default = true;
	else if (is_kw(p, "null"))
		buf_append(json, "null", 4);
	else if (is_kw(p, "true"))
		buf_append(json, "true", 4);
	else if (is_kw(p, "false"))
		buf_append(json, "false", 5);
	else {
		size_t at = p->lx.off;
		advance(p);
		p->lx.off = at;
		if (p->lx.type == TOK_STRING)
			return unsupported(p, "typed literals (type 'value') are not supported",
					   "Write the plain string: the column's type converts it.");
		if (is_punct(p, "("))
			return unsupported(p, "function calls are not supported in VALUES",
					   "Use DEFAULT to get a column default such as now(); values must be literals.");
		return unsupported(p, "column references and expressions are not supported in VALUES",
				   VALUES_HINT);
	}
	return true;
}

/* One value at the current token into `json` (nothing for DEFAULT). */
static bool parse_value(struct parser *p, struct buf *json, bool *is_default)
{
	bool negative = false, signed_ = false;

	*is_default = false;
	while (is_punct(p, "-") || is_punct(p, "+")) {
		negative ^= is_punct(p, "-");
		signed_ = true;
		advance(p);
	}
	if (p->lx.type == TOK_NUMBER) {
		if (negative)
			buf_putc(json, '-');
		buf_append(json, p->lx.text.data, p->lx.text.len);
	} else if (signed_) {
		return unsupported(p, "expressions are not supported in VALUES", VALUES_HINT);
	} else if (p->lx.type == TOK_STRING) {
		jsontext_put_string(json, p->lx.text.data ? p->lx.text.data : "", p->lx.text.len);
	} else if (p->lx.type == TOK_WORD) {
		if (!parse_word_value(p, json, is_default))
			return false;
	} else if (p->lx.type == TOK_PARAM) {
		return unsupported(p, "parameters ($1) are not supported", VALUES_HINT);
	} else if (is_punct(p, "(")) {
		return unsupported(p, "expressions are not supported in VALUES", VALUES_HINT);
	} else {
		return syntax_error(p);
	}
	advance(p);
	return value_end(p);
}

static struct cli_sql_value *next_value_slot(struct cli_sql_insert *ins, size_t n)
{
	if (n == ins->values_cap) {
		ins->values_cap = ins->values_cap ? ins->values_cap * 2 : 16;
		ins->values = pgc_realloc(ins->values, ins->values_cap * sizeof(*ins->values));
	}
	return &ins->values[n];
}

/* Positional: remember where tuple 1's values start (for arity errors later). */
static void note_value_pos(struct parser *p, size_t nvals)
{
	struct cli_sql_insert *ins = p->ins;

	if (!ins->positional || ins->ntuples > 0)
		return;
	if ((nvals & (nvals - 1)) == 0) /* 0, 1, 2, 4, ...: grow */
		ins->value_pos = pgc_realloc(ins->value_pos, (nvals ? nvals * 2 : 1) * sizeof(size_t));
	ins->value_pos[nvals] = p->lx.off;
}

/* One ( value, ... ) tuple, the current token being its '('. */
static bool parse_tuple(struct parser *p)
{
	struct cli_sql_insert *ins = p->ins;
	size_t nvals = 0, first_at = 0, stride = ins->positional ? p->ntuple1 : ins->ncolumns;
	size_t base = ins->ntuples * stride;

	if (!is_punct(p, "("))
		return syntax_error(p);
	do {
		bool is_default;

		advance(p);
		if (nvals == 0)
			first_at = p->lx.off;
		if (ins->ntuples > 0 && nvals == p->ntuple1) {
			set_error(p->err, (long)first_at, "VALUES lists must all be the same length");
			return false;
		}
		note_value_pos(p, nvals);
		if (ins->positional || nvals < ins->ncolumns) {
			struct cli_sql_value *v = next_value_slot(ins, base + nvals);
			v->off = ins->json.len;
			if (!parse_value(p, &ins->json, &is_default))
				return false;
			v->len = is_default ? 0 : ins->json.len - v->off;
		} else {
			/* a value with no column: parsed for errors, then dropped */
			if (nvals == ins->ncolumns && ins->ntuples == 0)
				p->extra_pos = p->lx.off;
			buf_reset(&p->scratch);
			if (!parse_value(p, &p->scratch, &is_default))
				return false;
		}
		nvals++;
	} while (is_punct(p, ","));
	if (ins->ntuples == 0) {
		p->ntuple1 = nvals;
		ins->nvalues = ins->positional ? nvals : ins->ncolumns;
	} else if (nvals != p->ntuple1) {
		set_error(p->err, (long)first_at, "VALUES lists must all be the same length");
		return false;
	}
	if (!is_punct(p, ")"))
		return syntax_error(p);
	ins->ntuples++;
	advance(p);
	return p->lx.type != TOK_ERROR;
}

/* The VALUES lists, then the arity check against the column list (a
 * positional INSERT's comes once the table's columns are known). */
static bool parse_values(struct parser *p)
{
	struct cli_sql_insert *ins = p->ins;

	ins->positional = ins->ncolumns == 0;
	advance(p);
	do {
		if (ins->ntuples > 0)
			advance(p);
		if (!parse_tuple(p))
			return false;
	} while (is_punct(p, ","));
	if (ins->positional)
		return true;
	if (p->ntuple1 > ins->ncolumns) {
		set_error(p->err, (long)p->extra_pos, "INSERT has more expressions than target columns");
		return false;
	}
	if (p->ntuple1 < ins->ncolumns) {
		set_error(p->err, (long)ins->column_pos[p->ntuple1],
			  "INSERT has more target columns than expressions");
		return false;
	}
	return true;
}

static bool parse_returning(struct parser *p)
{
	struct cli_sql_insert *ins = p->ins;
	size_t cap = 0;

	advance(p);
	if (is_punct(p, "*")) {
		ins->returning = pgc_malloc(sizeof(char *));
		ins->returning[ins->nreturning++] = pgc_strdup("*");
		advance(p);
		if (is_punct(p, ","))
			return unsupported(p, "RETURNING * cannot be combined with other columns", NULL);
		return true;
	}
	for (;;) {
		if (!at_name(p)) {
			if (is_punct(p, "*"))
				return unsupported(p, "RETURNING * cannot be combined with other columns", NULL);
			return syntax_error(p);
		}
		if (ins->nreturning == cap) {
			cap = cap ? cap * 2 : 8;
			ins->returning = pgc_realloc(ins->returning, cap * sizeof(char *));
		}
		ins->returning[ins->nreturning++] = pgc_strdup(p->lx.text.data);
		advance(p);
		if (!is_punct(p, ","))
			break;
		advance(p);
	}
	if (is_kw(p, "as") || p->lx.type == TOK_WORD || p->lx.type == TOK_IDENT)
		return unsupported(p, "RETURNING aliases are not supported",
				   "RETURNING takes column names (or *): the rows are shown under those names.");
	if (p->lx.type == TOK_PUNCT && !is_punct(p, ";"))
		return unsupported(p, "RETURNING takes column names only (or *)", NULL);
	return p->lx.type != TOK_ERROR;
}

/* ------------------------------------------------------------ ON CONFLICT */

static const char CONFLICT_HINT[] =
	"pgcoalesce-cli sends ON CONFLICT [(col, ...) | ON CONSTRAINT name] DO NOTHING, "
	"or with a target DO UPDATE SET col = EXCLUDED.col, col = t.col + EXCLUDED.col, ...";

/* Append name to a NULL-terminated list of n names (a few: grown one by one). */
static void push_name(char ***list, size_t *n, const char *name)
{
	*list = pgc_realloc(*list, (*n + 2) * sizeof(char *));
	(*list)[(*n)++] = pgc_strdup(name);
	(*list)[*n] = NULL;
}

static bool in_list_n(char *const *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* The conflict target ( col, ... ), the current token being its '('. */
static bool parse_conflict_columns(struct parser *p)
{
	struct cli_sql_conflict *cf = &p->ins->conflict;

	do {
		advance(p);
		if (is_punct(p, "("))
			return unsupported(p, "ON CONFLICT on an expression is not supported", CONFLICT_HINT);
		if (!at_name(p))
			return syntax_error(p);
		push_name(&cf->columns, &cf->ncolumns, p->lx.text.data);
		advance(p);
		if (is_kw(p, "collate") || p->lx.type == TOK_WORD || p->lx.type == TOK_IDENT)
			return unsupported(p, "ON CONFLICT with a collation or operator class is not supported",
					   CONFLICT_HINT);
	} while (is_punct(p, ","));
	if (!is_punct(p, ")"))
		return syntax_error(p);
	advance(p);
	if (is_kw(p, "where"))
		return unsupported(p, "ON CONFLICT (...) WHERE is not supported", CONFLICT_HINT);
	return p->lx.type != TOK_ERROR;
}

/* A column reference in DO UPDATE SET: qual.name, where it starts. */
struct col_ref {
	char   qual[CLI_SQL_MAX_IDENT + 1];
	char   name[CLI_SQL_MAX_IDENT + 1];
	size_t at;
};

/* qual.name at the current token; false if it is not one (nothing reported). */
static bool column_ref(struct parser *p, struct col_ref *r)
{
	r->at = p->lx.off;
	if (!at_name(p))
		return false;
	snprintf(r->qual, sizeof(r->qual), "%s", p->lx.text.data);
	advance(p);
	if (!is_punct(p, "."))
		return false;
	advance(p);
	if (!at_name(p))
		return false;
	snprintf(r->name, sizeof(r->name), "%s", p->lx.text.data);
	advance(p);
	return true;
}

static bool is_excluded(const struct col_ref *r)
{
	return strcmp(r->qual, "excluded") == 0;
}

/* Where an assignment may end: the next one, WHERE, RETURNING or the end. */
static bool at_assignment_end(struct parser *p)
{
	return is_punct(p, ",") || is_kw(p, "where") || is_kw(p, "returning") || is_punct(p, ";") ||
	       p->lx.type == TOK_EOF;
}

/* Does r name the table (or its alias)? A name that is neither is psql's 42P01. */
static bool names_the_table(struct parser *p, const struct col_ref *r)
{
	const struct cli_sql_insert *ins = p->ins;

	if (strcmp(r->qual, ins->alias ? ins->alias : ins->table) == 0)
		return true;
	if (ins->alias && strcmp(r->qual, ins->table) == 0) {
		set_error(p->err, (long)r->at, "invalid reference to FROM-clause entry for table \"%s\"",
			  r->qual);
		snprintf(p->err->hint, sizeof(p->err->hint),
			 "Perhaps you meant to reference the table alias \"%s\".", ins->alias);
	} else {
		set_error(p->err, (long)r->at, "missing FROM-clause entry for table \"%s\"", r->qual);
	}
	memcpy(p->err->code, "42P01", 6); /* undefined_table */
	return false;
}

/*
 * The right side of `col = ...`: EXCLUDED.col (*add false), or t.col +
 * EXCLUDED.col in either order (*add true), each naming col itself.
 * Anything else is refused at its start.
 */
static bool parse_assignment_value(struct parser *p, const char *col, bool *add)
{
	struct col_ref r[2];
	const struct col_ref *mine = NULL;
	size_t start = p->lx.off, n = 1, i;
	bool shape = column_ref(p, &r[0]);

	if (shape && is_punct(p, "+")) {
		advance(p);
		shape = column_ref(p, &r[1]);
		n = 2;
	}
	shape = shape && at_assignment_end(p) &&
		(is_excluded(&r[0]) + (n == 2 && is_excluded(&r[1]))) == 1; /* one EXCLUDED.col */
	if (shape && n == 2) {
		mine = is_excluded(&r[0]) ? &r[1] : &r[0];
		if (!names_the_table(p, mine))
			return false;
	}
	for (i = 0; shape && i < n; i++)
		shape = strcmp(r[i].name, col) == 0 && (n == 2 || is_excluded(&r[i]));
	if (!shape) {
		if (p->lx.type == TOK_ERROR)
			return false;
		p->lx.off = start;
		return unsupported(p, "ON CONFLICT DO UPDATE SET takes col = EXCLUDED.col or "
				   "col = t.col + EXCLUDED.col only", CONFLICT_HINT);
	}
	*add = n == 2;
	return true;
}

/* SET col = ..., ... after DO UPDATE, the current token being SET. */
static bool parse_conflict_sets(struct parser *p)
{
	struct cli_sql_conflict *cf = &p->ins->conflict;
	char col[CLI_SQL_MAX_IDENT + 1];
	bool add;

	do {
		advance(p);
		if (is_punct(p, "("))
			return unsupported(p, "SET (col, ...) = ... is not supported", CONFLICT_HINT);
		if (!at_name(p))
			return syntax_error(p);
		snprintf(col, sizeof(col), "%s", p->lx.text.data);
		advance(p);
		if (is_punct(p, ".") || is_punct(p, "["))
			return unsupported(p, "column subfields and array elements are not supported",
					   CONFLICT_HINT);
		if (!is_punct(p, "="))
			return syntax_error(p);
		advance(p);
		if (!parse_assignment_value(p, col, &add))
			return false;
		if (in_list_n(cf->set, cf->nset, col) || in_list_n(cf->add, cf->nadd, col)) {
			set_error(p->err, -1, "multiple assignments to same column \"%s\"", col);
			return false;
		}
		if (add)
			push_name(&cf->add, &cf->nadd, col);
		else
			push_name(&cf->set, &cf->nset, col);
	} while (is_punct(p, ","));
	if (is_kw(p, "where"))
		return unsupported(p, "ON CONFLICT DO UPDATE ... WHERE is not supported", CONFLICT_HINT);
	return true;
}

/* The conflict action after DO, the current token. */
static bool parse_conflict_action(struct parser *p, size_t on_at)
{
	struct cli_sql_conflict *cf = &p->ins->conflict;

	if (is_kw(p, "nothing")) {
		advance(p);
		return p->lx.type != TOK_ERROR;
	}
	if (!is_kw(p, "update"))
		return syntax_error(p);
	cf->update = true;
	advance(p);
	if (!is_kw(p, "set"))
		return syntax_error(p);
	if (!parse_conflict_sets(p))
		return false;
	if (!cf->ncolumns && !cf->constraint) { /* PostgreSQL's check after its grammar's */
		set_error(p->err, (long)on_at,
			  "ON CONFLICT DO UPDATE requires inference specification or constraint name");
		snprintf(p->err->hint, sizeof(p->err->hint), "For example, ON CONFLICT (column_name).");
		return false;
	}
	return true;
}

/* ON CONFLICT [target] DO ..., the current token being ON. */
static bool parse_on_conflict(struct parser *p)
{
	struct cli_sql_conflict *cf = &p->ins->conflict;
	size_t on_at = p->lx.off;

	advance(p);
	if (!is_kw(p, "conflict"))
		return syntax_error(p);
	cf->present = true;
	advance(p);
	if (is_punct(p, "(")) {
		if (!parse_conflict_columns(p))
			return false;
	} else if (is_kw(p, "on")) {
		advance(p);
		if (!is_kw(p, "constraint"))
			return syntax_error(p);
		advance(p);
		if (!at_name(p))
			return syntax_error(p);
		cf->constraint = pgc_strdup(p->lx.text.data);
		advance(p);
	}
	if (!is_kw(p, "do"))
		return syntax_error(p);
	advance(p);
	return parse_conflict_action(p, on_at);
}

/* What follows INSERT INTO name [(cols)]: the row source. */
static bool parse_source(struct parser *p)
{
	if (is_kw(p, "values"))
		return parse_values(p);
	if (is_kw(p, "default")) {
		advance(p);
		if (!is_kw(p, "values") || p->ins->ncolumns > 0)
			return syntax_error(p);
		p->ins->ntuples = 1;
		advance(p);
		return p->lx.type != TOK_ERROR;
	}
	if (is_kw(p, "select") || is_kw(p, "with") || is_kw(p, "table") || is_punct(p, "("))
		return unsupported(p, "INSERT ... SELECT is not supported", SELECT_HINT);
	if (is_kw(p, "overriding"))
		return unsupported(p, "OVERRIDING ... VALUE is not supported", NULL);
	return syntax_error(p);
}

/* AS alias, the current token being AS. */
static bool parse_alias(struct parser *p)
{
	advance(p);
	if (!at_name(p))
		return syntax_error(p);
	p->ins->alias = pgc_strdup(p->lx.text.data);
	advance(p);
	return p->lx.type != TOK_ERROR;
}

static bool parse_insert(struct parser *p)
{
	if (!is_kw(p, "into"))
		return syntax_error(p);
	advance(p);
	if (!parse_table_name(p))
		return false;
	if (is_kw(p, "as") && !parse_alias(p))
		return false;
	if (is_punct(p, "(") && !parse_columns(p))
		return false;
	if (!parse_source(p))
		return false;
	if (is_kw(p, "on") && !parse_on_conflict(p))
		return false;
	if (is_kw(p, "returning") && !parse_returning(p))
		return false;
	while (is_punct(p, ";"))
		advance(p);
	if (p->lx.type != TOK_EOF)
		return syntax_error(p);
	return true;
}

void cli_sql_insert_init(struct cli_sql_insert *ins)
{
	memset(ins, 0, sizeof(*ins));
	buf_init(&ins->json);
	buf_init(&ins->notices);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void cli_sql_insert_free(struct cli_sql_insert *ins)
{
	free(ins->schema);
	free(ins->table);
	free(ins->alias);
	free_names(ins->conflict.columns, ins->conflict.ncolumns);
	free(ins->conflict.constraint);
	free_names(ins->conflict.set, ins->conflict.nset);
	free_names(ins->conflict.add, ins->conflict.nadd);
	free_names(ins->columns, ins->ncolumns);
	free_names(ins->returning, ins->nreturning);
	free(ins->column_pos);
	free(ins->value_pos);
	free(ins->values);
	buf_free(&ins->json);
	buf_free(&ins->notices);
	cli_sql_insert_init(ins);
}

enum cli_sql_result cli_sql_parse(const char *text, size_t len, struct cli_sql_insert *ins,
				  struct cli_sql_error *err)
{
	struct parser p;
	bool ok;

	cli_sql_insert_free(ins);
	memset(err, 0, sizeof(*err));
	err->position = -1;
	if (!check_encoding(text, len, err))
		return CLI_SQL_ERROR;
	memset(&p, 0, sizeof(p));
	p.lx.s = text;
	p.lx.len = len;
	p.lx.err = err;
	p.lx.notices = &ins->notices;
	buf_init(&p.lx.text);
	buf_init(&p.scratch);
	p.ins = ins;
	p.err = err;
	advance(&p);
	while (is_punct(&p, ";"))
		advance(&p);
	if (p.lx.type == TOK_EOF) {
		ok = true;
	} else if (is_kw(&p, "insert")) {
		advance(&p);
		ok = parse_insert(&p);
	} else if (p.lx.type == TOK_WORD && IN_LIST(p.lx.text.data, other_commands)) {
		char what[64];
		size_t i, n = strlen(p.lx.text.data);
		for (i = 0; i < n && i < sizeof(what) - 1; i++)
			what[i] = (char)(p.lx.text.data[i] >= 'a' && p.lx.text.data[i] <= 'z'
					 ? p.lx.text.data[i] - 'a' + 'A' : p.lx.text.data[i]);
		what[i] = '\0';
		set_error(err, (long)p.lx.off, "%s is not supported: pgcoalesce-cli sends only INSERT", what);
		memcpy(err->code, "0A000", 6);
		snprintf(err->hint, sizeof(err->hint),
			 "The sidecar inserts rows; use psql against the database for anything else.");
		ok = false;
	} else {
		ok = syntax_error(&p);
	}
	buf_free(&p.lx.text);
	buf_free(&p.scratch);
	if (!ok)
		return CLI_SQL_ERROR;
	return ins->table ? CLI_SQL_OK : CLI_SQL_EMPTY;
}

bool cli_sql_has_default(const struct cli_sql_insert *ins)
{
	size_t i;

	for (i = 0; i < ins->ntuples * ins->nvalues; i++)
		if (ins->values[i].len == 0)
			return true;
	return false;
}

bool cli_sql_set_columns(struct cli_sql_insert *ins, const char *const *names, size_t n,
			 struct cli_sql_error *err)
{
	size_t i;

	memset(err, 0, sizeof(*err));
	err->position = -1;
	if (ins->nvalues > n) {
		set_error(err, (long)ins->value_pos[n], "INSERT has more expressions than target columns");
		return false;
	}
	free_names(ins->columns, ins->ncolumns);
	ins->columns = pgc_calloc(ins->nvalues ? ins->nvalues : 1, sizeof(char *));
	for (i = 0; i < ins->nvalues; i++)
		ins->columns[i] = pgc_strdup(names[i]);
	ins->ncolumns = ins->nvalues;
	return true;
}

/* "member":["a",...] */
static void put_names(struct buf *out, const char *member, char *const *names, size_t n)
{
	size_t i;

	buf_printf(out, "\"%s\":[", member);
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		jsontext_put_string(out, names[i], strlen(names[i]));
	}
	buf_putc(out, ']');
}

/* ,"on_conflict":{...} with libpgcoalesce's member order (pgc_wire.c). */
static void put_conflict(struct buf *out, const struct cli_sql_conflict *cf)
{
	buf_puts(out, ",\"on_conflict\":{");
	if (cf->ncolumns) {
		put_names(out, "columns", cf->columns, cf->ncolumns);
		buf_putc(out, ',');
	} else if (cf->constraint) {
		buf_puts(out, "\"constraint\":");
		jsontext_put_string(out, cf->constraint, strlen(cf->constraint));
		buf_putc(out, ',');
	}
	buf_puts(out, cf->update ? "\"do\":\"update\"" : "\"do\":\"nothing\"");
	if (cf->nset) {
		buf_putc(out, ',');
		put_names(out, "set", cf->set, cf->nset);
	}
	if (cf->nadd) {
		buf_putc(out, ',');
		put_names(out, "add", cf->add, cf->nadd);
	}
	buf_putc(out, '}');
}

void cli_sql_request(const struct cli_sql_insert *ins, size_t tuple, const char *id_json,
		     struct buf *out)
{
	const struct cli_sql_value *v = ins->ncolumns ? ins->values + tuple * ins->nvalues : NULL;
	bool first = true;
	size_t i;

	buf_puts(out, "{\"id\":");
	buf_puts(out, id_json);
	buf_puts(out, ",\"table\":");
	jsontext_put_string(out, ins->table, strlen(ins->table));
	if (ins->schema) {
		buf_puts(out, ",\"schema\":");
		jsontext_put_string(out, ins->schema, strlen(ins->schema));
	}
	buf_puts(out, ",\"row\":{");
	for (i = 0; i < ins->ncolumns; i++) {
		if (v[i].len == 0)
			continue; /* DEFAULT */
		if (!first)
			buf_putc(out, ',');
		first = false;
		jsontext_put_string(out, ins->columns[i], strlen(ins->columns[i]));
		buf_putc(out, ':');
		buf_append(out, ins->json.data + v[i].off, v[i].len);
	}
	buf_putc(out, '}');
	if (ins->nreturning) {
		buf_putc(out, ',');
		put_names(out, "returning", ins->returning, ins->nreturning);
	}
	if (ins->conflict.present)
		put_conflict(out, &ins->conflict);
	buf_putc(out, '}');
}
