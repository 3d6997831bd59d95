/*
 * cli_vars.c — the CLI's variables (see cli_vars.h).
 */
#include "cli_vars.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cli_vars_init(struct cli_vars *vs)
{
	memset(vs, 0, sizeof(*vs));
}

void cli_vars_free(struct cli_vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
	cli_vars_init(vs);
}

/* Index of `name`, or where it would go (*found false). */
static size_t find(const struct cli_vars *vs, const char *name, bool *found)
{
	size_t lo = 0, hi = vs->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(vs->v[mid].name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const char *cli_vars_get(const struct cli_vars *vs, const char *name)
{
	bool found;
	size_t i = find(vs, name, &found);

	return found ? vs->v[i].value : NULL;
}

void cli_vars_set(struct cli_vars *vs, const char *name, const char *value)
{
	bool found;
	size_t i = find(vs, name, &found);

	if (found && !value) {
		free(vs->v[i].name);
		free(vs->v[i].value);
		memmove(vs->v + i, vs->v + i + 1, (vs->n - i - 1) * sizeof(*vs->v));
		vs->n--;
	} else if (found) {
		free(vs->v[i].value);
		vs->v[i].value = pgc_strdup(value);
	} else if (value) {
		vs->v = pgc_realloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
		memmove(vs->v + i + 1, vs->v + i, (vs->n - i) * sizeof(*vs->v));
		vs->v[i].name = pgc_strdup(name);
		vs->v[i].value = pgc_strdup(value);
		vs->n++;
	}
}

bool cli_parse_bool(const char *v, bool *out)
{
	size_t n = strlen(v);

	/* psql takes unique prefixes: "t", "y", "of"; "o" alone is ambiguous */
	if (n == 0)
		return false;
	if (strncasecmp(v, "true", n) == 0 || strncasecmp(v, "yes", n) == 0 ||
	    (n > 1 && strncasecmp(v, "on", n) == 0) || strcmp(v, "1") == 0) {
		*out = true;
		return true;
	}
	if (strncasecmp(v, "false", n) == 0 || strncasecmp(v, "no", n) == 0 ||
	    (n > 1 && strncasecmp(v, "off", n) == 0) || strcmp(v, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

bool cli_vars_bool(const struct cli_vars *vs, const char *name, bool *ok)
{
	const char *v = cli_vars_get(vs, name);
	bool b = false, parsed = v ? cli_parse_bool(v, &b) : true;

	if (ok)
		*ok = parsed;
	return parsed && b;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

bool cli_vars_valid_name(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if (!is_name_char(*name))
			return false;
	return true;
}

void cli_vars_print(const struct cli_vars *vs, FILE *f)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		fprintf(f, "%s = '%s'\n", vs->v[i].name, vs->v[i].value);
}

/* ------------------------------------------------------------ interpolation */

/* A literal as PQescapeLiteral writes one: ' doubled; with backslashes, E'' and \ doubled. */
static void put_literal(struct buf *out, const char *v)
{
	const char *p;

	if (strchr(v, '\\'))
		buf_puts(out, " E");
	buf_putc(out, '\'');
	for (p = v; *p; p++) {
		if (*p == '\'' || *p == '\\')
			buf_putc(out, *p);
		buf_putc(out, *p);
	}
	buf_putc(out, '\'');
}

static void put_ident(struct buf *out, const char *v)
{
	const char *p;

	buf_putc(out, '"');
	for (p = v; *p; p++) {
		if (*p == '"')
			buf_putc(out, '"');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

/*
 * A variable reference at s[i] (s[i] == ':'): appends its replacement and
 * returns the bytes it took, or 0 when it is none (or names no variable).
 */
static size_t interpolate_one(const struct cli_vars *vs, const char *s, size_t len, size_t i,
			      struct buf *out)
{
	char q = i + 1 < len ? s[i + 1] : 0, close = q == '{' ? '}' : q;
	size_t start = i + 1 + (q == '\'' || q == '"' || q == '{'), end = start, taken = 0;
	char *name;
	const char *val;

	if (q == '{' && (start >= len || s[start] != '?'))
		return 0;
	start += q == '{';
	for (end = start; end < len && is_name_char(s[end]); end++)
		;
	if (end == start || ((q == '\'' || q == '"' || q == '{') && (end >= len || s[end] != close)))
		return 0;
	name = pgc_strndup(s + start, end - start);
	val = cli_vars_get(vs, name);
	if (q == '{') {
		buf_puts(out, val ? "TRUE" : "FALSE");
		taken = end + 1 - i;
	} else if (val) {
		if (q == '\'')
			put_literal(out, val);
		else if (q == '"')
			put_ident(out, val);
		else
			buf_puts(out, val);
		taken = end + (q == '\'' || q == '"') - i;
	}
	free(name);
	return taken;
}

/* Where the quoted part or comment starting at s[i] ends (just past it). */
static size_t skip_quoted(const char *s, size_t len, size_t i)
{
	size_t j, tag;
	int depth;

	if (s[i] == '\'' || s[i] == '"') {
		bool esc = s[i] == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
		for (j = i + 1; j < len; j++) {
			if (esc && s[j] == '\\')
				j++;
			else if (s[j] == s[i] && !(j + 1 < len && s[j + 1] == s[i]))
				return j + 1;
			else if (s[j] == s[i])
				j++;
		}
		return len;
	}
	if (s[i] == '-') {
		const char *nl = memchr(s + i, '\n', len - i);
		return nl ? (size_t)(nl - s) : len;
	}
	if (s[i] == '/') {
		for (j = i + 2, depth = 1; j + 1 < len && depth > 0; j++)
			if (s[j] == '/' && s[j + 1] == '*')
				depth++, j++;
			else if (s[j] == '*' && s[j + 1] == '/')
				depth--, j++;
		return depth > 0 ? len : j;
	}
	/* $tag$ ... $tag$ */
	for (tag = i + 1; tag < len && s[tag] != '$' && is_name_char(s[tag]); tag++)
		;
	if (tag >= len || s[tag] != '$')
		return i + 1;
	tag = tag + 1 - i;
	for (j = i + tag; j + tag <= len; j++)
		if (memcmp(s + j, s + i, tag) == 0)
			return j + tag;
	return len;
}

void cli_vars_interpolate(const struct cli_vars *vs, const char *s, size_t len, struct buf *out)
{
	size_t i = 0, n;

	while (i < len) {
		char c = s[i];
		bool opens = c == '\'' || c == '"' || (c == '-' && i + 1 < len && s[i + 1] == '-') ||
			     (c == '/' && i + 1 < len && s[i + 1] == '*') ||
			     (c == '$' && (i == 0 || !is_name_char(s[i - 1])));
		if (opens) {
			n = skip_quoted(s, len, i);
			buf_append(out, s + i, n - i);
			i = n;
		} else if (c == ':' && i + 1 < len && s[i + 1] == ':') {
			buf_append(out, "::", 2); /* a cast, not a variable */
			i += 2;
		} else if (c == ':' && (n = interpolate_one(vs, s, len, i, out)) > 0) {
			i += n;
		} else {
			buf_putc(out, c);
			i++;
		}
	}
}

/* ------------------------------------------------------------ meta-command words */

/* A '...' part of a word at a[*i] (the quote): its text, with '' and \ escapes. */
static void word_quoted(const char *a, size_t *i, struct buf *w)
{
	static const char from[] = "ntrbf", to[] = "\n\t\r\b\f";
	size_t j = *i + 1;

	for (; a[j]; j++) {
		if (a[j] == '\'' && a[j + 1] == '\'') {
			buf_putc(w, '\'');
			j++;
		} else if (a[j] == '\'') {
			j++;
			break;
		} else if (a[j] == '\\' && a[j + 1]) {
			const char *k = strchr(from, a[++j]);
			buf_putc(w, k ? to[k - from] : a[j]);
		} else {
			buf_putc(w, a[j]);
		}
	}
	*i = j;
}

size_t cli_vars_words(const struct cli_vars *vs, const char *a, char **words, size_t max)
{
	size_t i = 0, n = 0, k;
	struct buf w;

	while (n < max) {
		while (a[i] == ' ' || a[i] == '\t')
			i++;
		if (!a[i])
			break;
		buf_init(&w);
		while (a[i] && a[i] != ' ' && a[i] != '\t') {
			if (a[i] == '\'')
				word_quoted(a, &i, &w);
			else if (a[i] == ':' && (k = interpolate_one(vs, a, strlen(a), i, &w)) > 0)
				i += k;
			else
				buf_putc(&w, a[i++]);
		}
		words[n++] = pgc_strdup(buf_cstr(&w));
		buf_free(&w);
	}
	return n;
}
