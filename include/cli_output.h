/*
 * cli_output.h — what the CLI prints, the way psql prints it.
 *
 * Aligned tables (psql's default "aligned" format with border 1: centered
 * headers, numbers right-aligned, '+' at embedded newlines, "(N rows)"),
 * error reports (ERROR:/DETAIL:/HINT:/CONTEXT: lines, and a LINE n: display
 * with a caret under the error position), JSON values rendered as psql
 * shows them, and "Time: X ms".
 */
#ifndef PGC_CLI_OUTPUT_H
#define PGC_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

struct cli_table {
	size_t  ncols;
	char  **headers;
	bool   *numeric;  /* per column: every non-NULL value was a number */
	bool   *text;     /* per column: some value was not a number */
	size_t  nrows;
	char  **cells;    /* nrows x ncols; NULL is SQL NULL (printed empty) */
	size_t  cap;      /* rows allocated */
};

void cli_table_init(struct cli_table *t, size_t ncols);
void cli_table_free(struct cli_table *t);
void cli_table_set_header(struct cli_table *t, size_t col, const char *name);

#define CLI_TABLE_NO_COLUMN ((size_t)-1)

/* The column named `name`; when there is none, added at the right end if
 * `add` (earlier rows get NULL there), else CLI_TABLE_NO_COLUMN. */
size_t cli_table_column(struct cli_table *t, const char *name, bool add);

/* Append an empty row (every cell NULL); returns its index. */
size_t cli_table_add_row(struct cli_table *t);

/*
 * Set a cell from the raw JSON text of a value, as psql would show the
 * column: a string unquoted, a number as written (right-aligned), true/false
 * as t/f, null as NULL, an object or array as its text.
 */
void cli_table_set_json(struct cli_table *t, size_t row, size_t col, const char *json, size_t len);

/* Print the table and its "(N rows)" footer followed by a blank line. */
void cli_table_print(const struct cli_table *t, FILE *f);

/* One diagnostic, PostgreSQL's fields. */
struct cli_report {
	const char *severity;    /* "ERROR", "NOTICE", ... */
	const char *message;
	const char *detail;      /* NULL when absent (also hint, context) */
	const char *hint;
	const char *context;
	const char *query;       /* with position: the statement to show a LINE of */
	size_t      query_len;
	long        position;    /* byte offset in query, -1 for none */
};

/*
 * Print a report like psql: "<prefix>ERROR:  message", then the LINE/caret
 * display, DETAIL:, HINT:, CONTEXT:. `prefix` (may be NULL) is psql's
 * "psql:file:line: " for scripts.
 */
void cli_report_print(FILE *f, const char *prefix, const struct cli_report *r);

/* psql's \timing line: "Time: 1.234 ms" (with (mm:ss.sss) past a second). */
void cli_print_timing(FILE *f, double ms);

/* Display width of n bytes of UTF-8 text (wide characters count 2). */
size_t cli_output_width(const char *s, size_t n);

#endif /* PGC_CLI_OUTPUT_H */
