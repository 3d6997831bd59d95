/*
 * cli_output.c — psql-style tables, error reports and timing (see cli_output.h).
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

/* ------------------------------------------------------------ cells */

/*
 * A value's display text, as psql formats a cell: lines split at '\n',
 * tabs expanded to the next multiple of 8, '\r' shown as "\r", other
 * control characters as "\xHH". Lines are separated by '\n' in the result.
 */
static char *format_cell(const char *s, size_t n)
{
	struct buf b;
	size_t i, col = 0, k;

	buf_init(&b);
	for (i = 0; i < n; i += k) {
		unsigned char c = (unsigned char)s[i];
		k = 1;
		if (c == '\n') {
			buf_putc(&b, '\n');
			col = 0;
		} else if (c == '\t') {
			do {
				buf_putc(&b, ' ');
			} while (++col % 8);
		} else if (c == '\r') {
			buf_puts(&b, "\\r");
			col += 2;
		} else if (c < 0x20 || c == 0x7F) {
			buf_printf(&b, "\\x%02X", c);
			col += 4;
		} else if (c < 0x80) {
			buf_putc(&b, (char)c);
			col++;
		} else {
			col += (size_t)char_width(utf8_decode(s + i, n - i, &k));
			buf_append(&b, s + i, k);
		}
	}
	buf_cstr(&b);
	return b.data; /* the caller owns it now */
}

void cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = pgc_calloc(ncols, sizeof(char *));
	t->numeric = pgc_calloc(ncols, sizeof(bool));
	t->text = pgc_calloc(ncols, sizeof(bool));
}

void cli_table_free(struct cli_table *t)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->headers);
	free(t->numeric);
	free(t->text);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void cli_table_set_header(struct cli_table *t, size_t col, const char *name)
{
	free(t->headers[col]);
	t->headers[col] = format_cell(name, strlen(name));
}

size_t cli_table_column(struct cli_table *t, const char *name, bool add)
{
	size_t i, j, n = t->ncols;
	char **cells;

	for (j = 0; j < n; j++)
		if (strcmp(t->headers[j] ? t->headers[j] : "", name) == 0)
			return j;
	if (!add)
		return CLI_TABLE_NO_COLUMN;
	t->headers = pgc_realloc(t->headers, (n + 1) * sizeof(char *));
	t->numeric = pgc_realloc(t->numeric, (n + 1) * sizeof(bool));
	t->text = pgc_realloc(t->text, (n + 1) * sizeof(bool));
	t->headers[n] = NULL;
	t->numeric[n] = t->text[n] = false;
	/* rows so far get a NULL in the new column */
	cells = pgc_calloc(t->cap ? t->cap * (n + 1) : 1, sizeof(char *));
	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < n; j++)
			cells[i * (n + 1) + j] = t->cells[i * n + j];
	free(t->cells);
	t->cells = cells;
	t->ncols = n + 1;
	cli_table_set_header(t, n, name);
	return n;
}

size_t cli_table_add_row(struct cli_table *t)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = pgc_realloc(t->cells, t->cap * t->ncols * sizeof(char *));
	}
	memset(t->cells + t->nrows * t->ncols, 0, t->ncols * sizeof(char *));
	return t->nrows++;
}

void cli_table_set_json(struct cli_table *t, size_t row, size_t col, const char *json, size_t len)
{
	char **cell = &t->cells[row * t->ncols + col];
	struct buf tmp;
	char c = len ? json[0] : 'n';

	free(*cell);
	*cell = NULL;
	if (c == 'n')
		return; /* null */
	if (c == '"') {
		buf_init(&tmp);
		jsontext_unescape(&tmp, json, len);
		*cell = format_cell(tmp.data ? tmp.data : "", tmp.len);
		buf_free(&tmp);
		t->text[col] = true;
	} else if (c == 't' || c == 'f') {
		*cell = pgc_strdup(c == 't' ? "t" : "f");
		t->text[col] = true;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		*cell = pgc_strndup(json, len);
		t->numeric[col] = true;
	} else {
		*cell = format_cell(json, len);
		t->text[col] = true;
	}
}

/* ------------------------------------------------------------ tables */

/* Line `k` of a formatted cell: start and length; false past its last line. */
static bool cell_line(const char *cell, size_t k, const char **start, size_t *len)
{
	const char *p = cell ? cell : "";
	const char *nl;

	for (; k > 0; k--) {
		nl = strchr(p, '\n');
		if (!nl)
			return false;
		p = nl + 1;
	}
	nl = strchr(p, '\n');
	*start = p;
	*len = nl ? (size_t)(nl - p) : strlen(p);
	return true;
}

static size_t cell_lines(const char *cell)
{
	size_t n = 1;

	for (; cell && *cell; cell++)
		n += *cell == '\n';
	return n;
}

static size_t cell_width(const char *cell)
{
	size_t k, len, w, max = 0;
	const char *line;

	for (k = 0; cell_line(cell, k, &line, &len); k++) {
		w = cli_output_width(line, len);
		if (w > max)
			max = w;
	}
	return max;
}

static void put_spaces(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

static void print_header(const struct cli_table *t, const size_t *width, FILE *f)
{
	size_t j, w;

	for (j = 0; j < t->ncols; j++) {
		if (j)
			fputc('|', f);
		w = cli_output_width(t->headers[j], strlen(t->headers[j]));
		fputc(' ', f);
		put_spaces(f, (width[j] - w) / 2);
		fputs(t->headers[j], f);
		put_spaces(f, (width[j] - w + 1) / 2);
		fputc(' ', f);
	}
	fputc('\n', f);
	for (j = 0; j < t->ncols; j++) {
		if (j)
			fputc('+', f);
		for (w = 0; w < width[j] + 2; w++)
			fputc('-', f);
	}
	fputc('\n', f);
}

/* Line `k` of row `r`: each cell's k-th line, '+' where a cell goes on. */
static void print_row_line(const struct cli_table *t, size_t r, size_t k, const size_t *width,
			   FILE *f)
{
	size_t j, len, w;
	const char *line;

	for (j = 0; j < t->ncols; j++) {
		const char *cell = t->cells[r * t->ncols + j];
		bool last = j + 1 == t->ncols, right = t->numeric[j] && !t->text[j];
		bool has = cell_line(cell, k, &line, &len);
		bool more = has && cell_line(cell, k + 1, &line, &len);

		if (j)
			fputc('|', f);
		fputc(' ', f);
		if (!has) {
			if (!last)
				put_spaces(f, width[j] + 1);
			continue;
		}
		cell_line(cell, k, &line, &len);
		w = cli_output_width(line, len);
		if (right)
			put_spaces(f, width[j] - w);
		fwrite(line, 1, len, f);
		if (!right && (!last || more))
			put_spaces(f, width[j] - w);
		if (more)
			fputc('+', f);
		else if (!last)
			fputc(' ', f);
	}
	fputc('\n', f);
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t *width = pgc_calloc(t->ncols ? t->ncols : 1, sizeof(size_t));
	size_t i, j, k, lines;

	for (j = 0; j < t->ncols; j++)
		width[j] = cli_output_width(t->headers[j], strlen(t->headers[j]));
	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < t->ncols; j++) {
			size_t w = cell_width(t->cells[i * t->ncols + j]);
			if (w > width[j])
				width[j] = w;
		}
	print_header(t, width, f);
	for (i = 0; i < t->nrows; i++) {
		for (lines = 1, j = 0; j < t->ncols; j++) {
			size_t n = cell_lines(t->cells[i * t->ncols + j]);
			if (n > lines)
				lines = n;
		}
		for (k = 0; k < lines; k++)
			print_row_line(t, i, k, width, f);
	}
	fprintf(f, "(%zu row%s)\n\n", t->nrows, t->nrows == 1 ? "" : "s");
	free(width);
}

/* ------------------------------------------------------------ reports */

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
