/*
 * cli_table.h — result tables, printed in psql's formats.
 *
 * A table is built from JSON values (RETURNING rows, the stats) and printed
 * as psql prints a query result with the same settings (psql's
 * src/fe_utils/print.c, border 1):
 *   - aligned: centered headers, numbers right-aligned, '+' at embedded
 *     newlines, "(N rows)", a blank line;
 *   - unaligned (-A): fields joined by fieldsep (-F, "|"), records by
 *     recordsep (-R, newline), the header line and "(N rows)";
 *   - csv (--csv): RFC 4180 quoting where needed, header line;
 *   - expanded (-x, \x): one "-[ RECORD n ]" block per row (aligned), or
 *     name|value lines with a blank line between rows (unaligned);
 *   - tuples only (-t): no header, no footer.
 * NULL shows as the null setting (\pset null, "" by default).
 */
#ifndef PGC_CLI_TABLE_H
#define PGC_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cli_format {
	CLI_FORMAT_ALIGNED = 0,
	CLI_FORMAT_UNALIGNED,
	CLI_FORMAT_CSV,
};

enum cli_expanded {
	CLI_EXPANDED_OFF = 0,
	CLI_EXPANDED_ON,
	CLI_EXPANDED_AUTO,   /* aligned tables wider than `columns` print expanded */
};

/* How tables print: psql's \pset settings the CLI has. */
struct cli_print_opts {
	enum cli_format   format;
	enum cli_expanded expanded;     /* -x, \x */
	bool              tuples_only;  /* -t, \t */
	bool              footer;       /* "(N rows)"; \pset footer */
	char             *fieldsep;     /* unaligned: "|" (-F, \f) */
	char             *recordsep;    /* unaligned: "\n" (-R) */
	char             *null_text;    /* \pset null: "" */
	char             *title_setting;/* \pset title, or NULL */
	const char       *title;        /* this table's title (\watch), over title_setting */
	size_t            columns;      /* the terminal's width for auto; 0: unknown */
};

void cli_print_opts_init(struct cli_print_opts *o);
void cli_print_opts_free(struct cli_print_opts *o);
/* Replace a string setting with a copy of v. */
void cli_print_opts_set(char **setting, const char *v);

struct cli_table {
	size_t  ncols;
	char  **headers;
	bool   *numeric;  /* per column: some value was a number */
	bool   *text;     /* per column: some value was not a number */
	size_t  nrows;
	char  **cells;    /* nrows x ncols: the values as text; NULL is SQL NULL */
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

/* Set a cell to text (left-aligned). */
void cli_table_set_text(struct cli_table *t, size_t row, size_t col, const char *text);

/* Print the table with the settings o. */
void cli_table_print(const struct cli_table *t, const struct cli_print_opts *o, FILE *f);

#endif /* PGC_CLI_TABLE_H */
