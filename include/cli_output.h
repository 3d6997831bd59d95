/*
 * cli_output.h — what the CLI prints, the way psql prints it (result
 * tables are cli_table.h).
 *
 * Error reports (ERROR:/DETAIL:/HINT:/CONTEXT: lines, and a LINE n: display
 * with a caret under the error position), "Time: X ms", and display widths
 * (wide characters count 2).
 */
#ifndef PGC_CLI_OUTPUT_H
#define PGC_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "cli_table.h"

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
