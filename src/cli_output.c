/*
 * cli_output.c — psql-style error reports, timing and display widths (see
 * cli_output.h).
 */
#include "cli_output.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "jsontext.h"

/* ------------------------------------------------------------ widths */

/* Decode one UTF-8 character at s (n bytes available); *len its length. */
static unsigned utf8_decode(const char *s, size_t n, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k = jsontext_utf8_seq_len(p, n), i;
	unsigned cp;

	if (k == 0) {
		*len = 1;
		return 0xFFFD;
	}
	*len = k;
	if (k == 1)
		return p[0];
	cp = p[0] & (0xFF >> (k + 1));
	for (i = 1; i < k; i++)
		cp = (cp << 6) | (p[i] & 0x3F);
	return cp;
}

static int char_width(unsigned cp)
{
	int w = wcwidth((wchar_t)cp);

	return w < 0 ? 1 : w; /* unknown or control: one column, as psql counts */
}

size_t cli_output_width(const char *s, size_t n)
{
	size_t i = 0, w = 0, k;

	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			w++;
			i++;
			continue;
		}
		w += (size_t)char_width(utf8_decode(s + i, n - i, &k));
		i += k;
	}
	return w;
}

/* ------------------------------------------------------------ reports */

static void put_spaces(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

/* Width of one character at s[i] as the LINE display counts it. */
static size_t display_char(const char *s, size_t n, size_t i, size_t *len)
{
	if ((unsigned char)s[i] < 0x80) {
		*len = 1;
		return 1; /* tabs and control characters: one column */
	}
	return (size_t)char_width(utf8_decode(s + i, n - i, len));
}

static size_t display_width(const char *s, size_t n, size_t from, size_t to)
{
	size_t w = 0, k;

	while (from < to) {
		w += display_char(s, n, from, &k);
		from += k;
	}
	return w;
}

/* Start of the character that ends just before byte i. */
static size_t char_before(const char *s, size_t i)
{
	do {
		i--;
	} while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
	return i;
}

#define LINE_DISPLAY_COLS 60  /* as libpq: longest piece of the line shown */
#define LINE_RIGHT_MARGIN 10  /* keep this many columns right of the caret */

/*
 * The "LINE n: ..." display with a caret under byte `pos` of the query,
 * cutting long lines around the caret the way libpq does.
 */
static void print_position(FILE *f, const char *q, size_t n, size_t pos)
{
	size_t beg = 0, end, i, lineno = 1, total, k;
	bool cut_left = false, cut_right = false;
	char prefix[32];

	if (pos > n)
		pos = n;
	for (i = 0; i < pos; i++)
		if (q[i] == '\n' || q[i] == '\r') {
			if (q[i] == '\r' || i == 0 || q[i - 1] != '\r')
				lineno++;
			beg = i + 1;
		}
	for (end = pos; end < n && q[end] != '\n' && q[end] != '\r'; end++)
		;
	total = display_width(q, n, beg, end);
	if (total > LINE_DISPLAY_COLS) {
		size_t to_caret = display_width(q, n, beg, pos);
		/* cut the right end first; if the caret is too far right for
		 * that alone, keep a margin after it and cut the left end too */
		size_t keep = to_caret + LINE_RIGHT_MARGIN <= LINE_DISPLAY_COLS
			? LINE_DISPLAY_COLS : to_caret + LINE_RIGHT_MARGIN;
		while (total > keep && end > pos) {
			k = char_before(q, end);
			total -= display_char(q, n, k, &i);
			end = k;
			cut_right = true;
		}
		while (total > LINE_DISPLAY_COLS && beg < pos) {
			total -= display_char(q, n, beg, &k);
			beg += k;
			cut_left = true;
		}
	}
	snprintf(prefix, sizeof(prefix), "LINE %zu: ", lineno);
	fputs(prefix, f);
	if (cut_left)
		fputs("...", f);
	for (i = beg; i < end; i++)
		fputc(q[i] == '\t' ? ' ' : q[i], f);
	if (cut_right)
		fputs("...", f);
	fputc('\n', f);
	put_spaces(f, strlen(prefix) + (cut_left ? 3 : 0) + display_width(q, n, beg, pos));
	fputs("^\n", f);
}

void cli_report_print(FILE *f, const char *prefix, const struct cli_report *r)
{
	fprintf(f, "%s%s:  %s\n", prefix ? prefix : "", r->severity, r->message);
	if (r->query && r->position >= 0)
		print_position(f, r->query, r->query_len, (size_t)r->position);
	if (r->detail)
		fprintf(f, "DETAIL:  %s\n", r->detail);
	if (r->hint)
		fprintf(f, "HINT:  %s\n", r->hint);
	if (r->context)
		fprintf(f, "CONTEXT:  %s\n", r->context);
}

void cli_print_timing(FILE *f, double ms)
{
	double s, m, h, d;

	if (ms < 1000.0) {
		fprintf(f, "Time: %.3f ms\n", ms);
		return;
	}
	s = ms / 1000.0;
	m = (double)(long long)(s / 60.0);
	s -= 60.0 * m;
	if (m < 60.0) {
		fprintf(f, "Time: %.3f ms (%02d:%06.3f)\n", ms, (int)m, s);
		return;
	}
	h = (double)(long long)(m / 60.0);
	m -= 60.0 * h;
	if (h < 24.0) {
		fprintf(f, "Time: %.3f ms (%02d:%02d:%06.3f)\n", ms, (int)h, (int)m, s);
		return;
	}
	d = (double)(long long)(h / 24.0);
	h -= 24.0 * d;
	fprintf(f, "Time: %.3f ms (%.0f d %02d:%02d:%06.3f)\n", ms, d, (int)h, (int)m, s);
}
