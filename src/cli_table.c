/*
 * cli_table.c — result tables in psql's formats (see cli_table.h). The
 * layout rules follow psql's print.c for border 1 and the "ascii" line
 * style, so the output can be compared with psql's byte for byte.
 */
#include "cli_table.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_output.h"
#include "jsontext.h"

/* ------------------------------------------------------------ settings */

void cli_print_opts_set(char **setting, const char *v)
{
	free(*setting);
	*setting = pgc_strdup(v);
}

void cli_print_opts_init(struct cli_print_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->footer = true;
	cli_print_opts_set(&o->fieldsep, "|");
	cli_print_opts_set(&o->recordsep, "\n");
	cli_print_opts_set(&o->null_text, "");
}

void cli_print_opts_free(struct cli_print_opts *o)
{
	free(o->fieldsep);
	free(o->recordsep);
	free(o->null_text);
	free(o->title_setting);
	memset(o, 0, sizeof(*o));
}

/* ------------------------------------------------------------ the model */

void cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = pgc_calloc(ncols ? ncols : 1, sizeof(char *));
	t->numeric = pgc_calloc(ncols ? ncols : 1, sizeof(bool));
	t->text = pgc_calloc(ncols ? ncols : 1, sizeof(bool));
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
	t->headers[col] = pgc_strdup(name);
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
		t->cells = pgc_realloc(t->cells, t->cap * (t->ncols ? t->ncols : 1) * sizeof(char *));
	}
	memset(t->cells + t->nrows * t->ncols, 0, t->ncols * sizeof(char *));
	return t->nrows++;
}

void cli_table_set_text(struct cli_table *t, size_t row, size_t col, const char *text)
{
	char **cell = &t->cells[row * t->ncols + col];

	free(*cell);
	*cell = pgc_strdup(text);
	t->text[col] = true;
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
		*cell = (char *)buf_cstr(&tmp); /* the cell owns the buffer now */
		t->text[col] = true;
	} else if (c == 't' || c == 'f') {
		*cell = pgc_strdup(c == 't' ? "t" : "f");
		t->text[col] = true;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		*cell = pgc_strndup(json, len);
		t->numeric[col] = true;
	} else {
		*cell = pgc_strndup(json, len);
		t->text[col] = true;
	}
}

/* ------------------------------------------------------------ display text */

/*
 * A value's display text, as psql formats a cell in the aligned formats:
 * lines split at '\n', tabs expanded to the next multiple of 8, '\r' shown
 * as "\r", other control characters as "\xHH". Lines are separated by '\n'.
 */
static char *format_cell(const char *s)
{
	size_t i, col = 0, k, n = strlen(s);
	struct buf b;

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
		} else {
			k = c < 0x80 ? 1 : jsontext_utf8_seq_len((const unsigned char *)s + i, n - i);
			k = k ? k : 1;
			col += cli_output_width(s + i, k);
			buf_append(&b, s + i, k);
		}
	}
	return (char *)buf_cstr(&b);
}

/* Line `k` of a formatted cell: start and length; false past its last line. */
static bool cell_line(const char *cell, size_t k, const char **start, size_t *len)
{
	const char *p = cell, *nl;

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

	for (; *cell; cell++)
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

static void put_dashes(FILE *f, size_t n)
{
	while (n--)
		fputc('-', f);
}

/* The table's headers and cells as the aligned formats show them. */
struct shown {
	size_t  ncols;
	size_t  nrows;
	char  **headers;
	char  **cells;
	bool   *right;  /* per column: right-aligned (numbers only) */
};

static void shown_init(struct shown *sh, const struct cli_table *t, const struct cli_print_opts *o)
{
	size_t i, j;

	sh->ncols = t->ncols;
	sh->nrows = t->nrows;
	sh->headers = pgc_calloc(t->ncols ? t->ncols : 1, sizeof(char *));
	sh->right = pgc_calloc(t->ncols ? t->ncols : 1, sizeof(bool));
	sh->cells = pgc_calloc(t->nrows * t->ncols + 1, sizeof(char *));
	for (j = 0; j < t->ncols; j++) {
		sh->headers[j] = format_cell(t->headers[j] ? t->headers[j] : "");
		sh->right[j] = t->numeric[j] && !t->text[j];
	}
	for (i = 0; i < t->nrows * t->ncols; i++)
		sh->cells[i] = format_cell(t->cells[i] ? t->cells[i] : o->null_text);
}

static void shown_free(struct shown *sh)
{
	size_t i;

	for (i = 0; i < sh->ncols; i++)
		free(sh->headers[i]);
	for (i = 0; i < sh->nrows * sh->ncols; i++)
		free(sh->cells[i]);
	free(sh->headers);
	free(sh->cells);
	free(sh->right);
}

/* ------------------------------------------------------------ aligned */

static void print_header(const struct shown *sh, const size_t *width, FILE *f)
{
	size_t j, w;

	for (j = 0; j < sh->ncols; j++) {
		if (j)
			fputc('|', f);
		w = cli_output_width(sh->headers[j], strlen(sh->headers[j]));
		fputc(' ', f);
		put_spaces(f, (width[j] - w) / 2);
		fputs(sh->headers[j], f);
		put_spaces(f, (width[j] - w + 1) / 2);
		fputc(' ', f);
	}
	fputc('\n', f);
	for (j = 0; j < sh->ncols; j++) {
		if (j)
			fputc('+', f);
		put_dashes(f, width[j] + 2);
	}
	fputc('\n', f);
}

/* Line `k` of row `r`: each cell's k-th line, '+' where a cell goes on. */
static void print_row_line(const struct shown *sh, size_t r, size_t k, const size_t *width, FILE *f)
{
	size_t j, len, w;
	const char *line;

	for (j = 0; j < sh->ncols; j++) {
		const char *cell = sh->cells[r * sh->ncols + j];
		bool last = j + 1 == sh->ncols;
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
		if (sh->right[j])
			put_spaces(f, width[j] - w);
		fwrite(line, 1, len, f);
		if (!sh->right[j] && (!last || more))
			put_spaces(f, width[j] - w);
		if (more)
			fputc('+', f);
		else if (!last)
			fputc(' ', f);
	}
	fputc('\n', f);
}

static void print_footer(size_t nrows, const struct cli_print_opts *o, FILE *f)
{
	if (!o->tuples_only && o->footer)
		fprintf(f, "(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
}

/* Each column's width, and the table's (border 1: " a | b "). */
static size_t aligned_widths(const struct shown *sh, size_t *width)
{
	size_t i, j, total = sh->ncols ? sh->ncols * 3 - 1 : 0;

	for (j = 0; j < sh->ncols; j++)
		width[j] = cell_width(sh->headers[j]);
	for (i = 0; i < sh->nrows * sh->ncols; i++)
		if (cell_width(sh->cells[i]) > width[i % sh->ncols])
			width[i % sh->ncols] = cell_width(sh->cells[i]);
	for (j = 0; j < sh->ncols; j++)
		total += width[j];
	return total;
}

static void print_aligned(const struct shown *sh, const struct cli_print_opts *o, FILE *f)
{
	size_t *width = pgc_calloc(sh->ncols ? sh->ncols : 1, sizeof(size_t));
	size_t i, j, k, lines, total = aligned_widths(sh, width);
	const char *title = o->title ? o->title : o->title_setting;

	if (title && !o->tuples_only) {
		size_t tw = cli_output_width(title, strlen(title));
		put_spaces(f, tw >= total ? 0 : (total - tw) / 2);
		fprintf(f, "%s\n", title);
	}
	if (!o->tuples_only)
		print_header(sh, width, f);
	for (i = 0; i < sh->nrows; i++) {
		for (lines = 1, j = 0; j < sh->ncols; j++)
			if (cell_lines(sh->cells[i * sh->ncols + j]) > lines)
				lines = cell_lines(sh->cells[i * sh->ncols + j]);
		for (k = 0; k < lines; k++)
			print_row_line(sh, i, k, width, f);
	}
	print_footer(sh->nrows, o, f);
	fputc('\n', f);
	free(width);
}

/* psql's record header line: "-[ RECORD n ]-----+------" (n 0: dashes only). */
static void print_record_line(size_t record, size_t hwidth, size_t dwidth, FILE *f)
{
	long reclen = 0;
	size_t i;

	fputc('-', f);
	if (record)
		reclen = fprintf(f, "[ RECORD %zu ]", record);
	reclen++;
	for (i = (size_t)reclen; i < hwidth; i++)
		fputc('-', f);
	reclen -= (long)hwidth;
	if (reclen-- <= 0)
		fputc('-', f);
	if (reclen-- <= 0)
		fputc('+', f);
	if (reclen-- <= 0)
		fputc('-', f);
	if (reclen < 0)
		reclen = 0;
	for (i = (size_t)reclen; i < dwidth; i++)
		fputc('-', f);
	fputc('\n', f);
}

/* One name | value pair of a record, the value's lines under each other. */
static void print_vertical_field(const char *header, const char *cell, size_t hwidth,
				 size_t dwidth, bool dmultiline, FILE *f)
{
	size_t k, len, w;
	const char *line;

	for (k = 0; cell_line(cell, k, &line, &len); k++) {
		bool more = cell_line(cell, k + 1, &line, &len);
		cell_line(cell, k, &line, &len);
		if (k == 0) {
			fputs(header, f);
			put_spaces(f, hwidth - cli_output_width(header, strlen(header)) + 1);
		} else {
			put_spaces(f, hwidth + 1);
		}
		fputs("| ", f);
		fwrite(line, 1, len, f);
		w = cli_output_width(line, len);
		if (more && dmultiline) {
			put_spaces(f, dwidth - w);
			fputc('+', f);
		}
		fputc('\n', f);
	}
}

static void print_aligned_vertical(const struct shown *sh, const struct cli_print_opts *o, FILE *f)
{
	size_t hwidth = 0, dwidth = 0, rwidth = 0, swidth = 3, i, n;
	bool dmultiline = false;

	if (sh->nrows == 0) {
		print_footer(0, o, f);
		fputc('\n', f);
		return;
	}
	for (i = 0; i < sh->ncols; i++)
		if (cell_width(sh->headers[i]) > hwidth)
			hwidth = cell_width(sh->headers[i]);
	for (i = 0; i < sh->nrows * sh->ncols; i++) {
		if (cell_width(sh->cells[i]) > dwidth)
			dwidth = cell_width(sh->cells[i]);
		dmultiline |= cell_lines(sh->cells[i]) > 1;
	}
	swidth += dmultiline;
	/* wide enough for the record header lines: "-[ RECORD n ]" */
	for (n = sh->nrows, rwidth = 12 + 1; !o->tuples_only && n >= 10; n /= 10)
		rwidth++;
	if (!o->tuples_only && hwidth + swidth + dwidth < rwidth)
		dwidth = rwidth - hwidth - swidth;
	if ((o->title || o->title_setting) && !o->tuples_only)
		fprintf(f, "%s\n", o->title ? o->title : o->title_setting);
	for (i = 0; i < sh->nrows * sh->ncols; i++) {
		if (i % sh->ncols == 0 && (!o->tuples_only || i != 0))
			print_record_line(o->tuples_only ? 0 : i / sh->ncols + 1, hwidth, dwidth, f);
		print_vertical_field(sh->headers[i % sh->ncols], sh->cells[i], hwidth, dwidth,
				     dmultiline, f);
	}
	fputc('\n', f);
}

/* ------------------------------------------------------------ unaligned, csv */

static const char *raw_cell(const struct cli_table *t, size_t i, const struct cli_print_opts *o)
{
	return t->cells[i] ? t->cells[i] : o->null_text;
}

static void print_unaligned(const struct cli_table *t, const struct cli_print_opts *o, FILE *f)
{
	const char *title = o->title ? o->title : o->title_setting;
	bool need_sep = false;
	size_t i, j;

	if (title && !o->tuples_only)
		fprintf(f, "%s%s", title, o->recordsep);
	if (!o->tuples_only) {
		for (j = 0; j < t->ncols; j++)
			fprintf(f, "%s%s", j ? o->fieldsep : "", t->headers[j] ? t->headers[j] : "");
		need_sep = true;
	}
	for (i = 0; i < t->nrows * t->ncols; i++) {
		if (need_sep)
			fputs(o->recordsep, f);
		need_sep = false;
		fputs(raw_cell(t, i, o), f);
		if ((i + 1) % t->ncols)
			fputs(o->fieldsep, f);
		else
			need_sep = true;
	}
	if (!o->tuples_only && o->footer) {
		if (need_sep)
			fputs(o->recordsep, f);
		fprintf(f, "(%zu row%s)", t->nrows, t->nrows == 1 ? "" : "s");
		need_sep = true;
	}
	if (need_sep)
		fputc('\n', f); /* the last record ends with a newline, whatever recordsep is */
}

static void print_unaligned_vertical(const struct cli_table *t, const struct cli_print_opts *o,
				     FILE *f)
{
	const char *title = o->title ? o->title : o->title_setting;
	bool need_sep = false;
	size_t i;

	if (title && !o->tuples_only) {
		fputs(title, f);
		need_sep = true;
	}
	for (i = 0; i < t->nrows * t->ncols; i++) {
		if (need_sep)
			fprintf(f, "%s%s", o->recordsep, o->recordsep);
		need_sep = false;
		fprintf(f, "%s%s%s", t->headers[i % t->ncols] ? t->headers[i % t->ncols] : "",
			o->fieldsep, raw_cell(t, i, o));
		if ((i + 1) % t->ncols)
			fputs(o->recordsep, f);
		else
			need_sep = true;
	}
	if (need_sep)
		fputc('\n', f);
}

/* A csv field, quoted when it holds a comma, a quote or a line break. */
static void csv_field(const char *s, FILE *f)
{
	const char *p;

	if (strcspn(s, ",\r\n\"") == strlen(s) && strcmp(s, "\\.") != 0) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void print_csv(const struct cli_table *t, const struct cli_print_opts *o, FILE *f)
{
	bool expanded = o->expanded == CLI_EXPANDED_ON;
	size_t i, j;

	if (!expanded && !o->tuples_only) {
		for (j = 0; j < t->ncols; j++) {
			if (j)
				fputc(',', f);
			csv_field(t->headers[j] ? t->headers[j] : "", f);
		}
		fputc('\n', f);
	}
	for (i = 0; i < t->nrows * t->ncols; i++) {
		if (expanded) {
			csv_field(t->headers[i % t->ncols] ? t->headers[i % t->ncols] : "", f);
			fputc(',', f);
		}
		csv_field(raw_cell(t, i, o), f);
		fputc(expanded || (i + 1) % t->ncols == 0 ? '\n' : ',', f);
	}
}

/* \x auto: expanded when the aligned table is wider than the terminal
 * (and has more than one column, as psql decides). */
static bool auto_expanded(const struct shown *sh, const struct cli_print_opts *o)
{
	size_t *width, total;

	if (!o->columns || sh->ncols < 2)
		return false;
	width = pgc_calloc(sh->ncols, sizeof(size_t));
	total = aligned_widths(sh, width);
	free(width);
	return total > o->columns;
}

void cli_table_print(const struct cli_table *t, const struct cli_print_opts *o, FILE *f)
{
	bool expanded = o->expanded == CLI_EXPANDED_ON;
	struct shown sh;

	if (o->format == CLI_FORMAT_CSV) {
		print_csv(t, o, f);
	} else if (o->format == CLI_FORMAT_UNALIGNED) {
		if (expanded)
			print_unaligned_vertical(t, o, f);
		else
			print_unaligned(t, o, f);
	} else {
		shown_init(&sh, t, o);
		if (expanded || (o->expanded == CLI_EXPANDED_AUTO && auto_expanded(&sh, o)))
			print_aligned_vertical(&sh, o, f);
		else
			print_aligned(&sh, o, f);
		shown_free(&sh);
	}
}
