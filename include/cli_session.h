/*
 * cli_session.h — one pgcoalesce-cli session: input lines in, requests out,
 * results printed the way psql prints them.
 *
 * Lines come from -c strings, files (-f, \i), standard input or the
 * interactive prompt; each goes through cli_session_line():
 *   - with the statement buffer empty, a line starting with '{' is a raw
 *     protocol request, sent as is, its response printed as is;
 *   - outside quotes and comments, a line starting with '\' is a
 *     meta-command (cli_meta.h);
 *   - anything else is SQL, collected until ';' ends a statement, which is
 *     parsed (cli_sql) and run (cli_insert).
 * The sidecar is reached through libpgcoalesce (cli_conn.h).
 */
#ifndef PGC_CLI_SESSION_H
#define PGC_CLI_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "cli_conn.h"
#include "cli_describe.h"
#include "cli_keys.h"
#include "cli_output.h"
#include "cli_sql.h"
#include "cli_vars.h"

/* Exit statuses, as psql's. */
enum cli_exit {
	CLI_EXIT_OK = 0,         /* everything succeeded */
	CLI_EXIT_FAILED = 1,     /* a statement, request or meta-command failed */
	CLI_EXIT_NO_SOCKET = 2,  /* the socket cannot be reached (or the connection was lost) */
	CLI_EXIT_SCRIPT = 3,     /* stopped at an error under ON_ERROR_STOP */
};

/* Where the current lines come from: names errors in scripts like psql. */
struct cli_source {
	const char        *file;    /* -f / \i file name; NULL for -c, stdin, the prompt */
	unsigned long      lineno;  /* lines read so far */
	int                depth;   /* \i nesting */
	struct cli_source *outer;
};

struct cli_session {
	struct cli_conn        conn;
	bool                   interactive;   /* reading from a terminal */
	bool                   timing;        /* \timing on */
	bool                   quit;          /* stop reading input */
	bool                   had_error;     /* some statement or request failed */
	int                    stop_status;   /* set when quitting on an error */
	struct buf             query;         /* the statement being collected */
	struct cli_sql_split   split;
	struct cli_sql_insert  ins;
	struct cli_source     *src;
	volatile sig_atomic_t *interrupt;     /* set by SIGINT in interactive mode */
	struct cli_print_opts  popt;          /* -A -t -F -x, \pset */
	FILE                  *out;           /* query results: stdout, or -o FILE, \o */
	struct cli_vars        vars;          /* \set, -v; ON_ERROR_STOP, QUIET */
	struct cli_describe    describe;      /* tables the sidecar described */
	struct cli_keys        keys;          /* \key, --key: idempotency keys for INSERTs */
	struct buf             last;          /* the last statement or watchable meta-command */
	bool                   last_meta;     /* ... and which of the two it is */
	char                   where[512];    /* scratch for cli_session_where() */
	char                   prompt[32];    /* scratch for cli_session_prompt() */
};

/* `address` is the sidecar's socket (or HOST:PORT), as libpgcoalesce takes it. */
void cli_session_init(struct cli_session *s, const char *address);
void cli_session_free(struct cli_session *s);

/* Use this address from now on (before connecting). */
void cli_session_set_address(struct cli_session *s, const char *address);

/* Connect; false with the reason in cli_session_errmsg(). */
bool cli_session_connect(struct cli_session *s);
const char *cli_session_errmsg(const struct cli_session *s);
const char *cli_session_address(const struct cli_session *s);

/* One input line (without its newline). */
void cli_session_line(struct cli_session *s, const char *line, size_t len);

/* End of an input source: run what is left in the statement buffer. */
void cli_session_flush_input(struct cli_session *s);

/* Discard a partly typed statement (Ctrl-C at the prompt). */
void cli_session_reset_query(struct cli_session *s);

/* Is a statement partly typed? */
bool cli_session_in_statement(const struct cli_session *s);

/* Run every line of a stream; `file` names it in messages (NULL: none). */
void cli_session_run_stream(struct cli_session *s, FILE *in, const char *file);

/* Run a file (-f, \i); false if it cannot be opened (reported). */
bool cli_session_run_file(struct cli_session *s, const char *path);

/* Run a -c string: its lines, then the end of input. */
void cli_session_run_string(struct cli_session *s, const char *text);

/* psql's prompt for the current statement state: "pgcoalesce=> " etc. */
const char *cli_session_prompt(struct cli_session *s);

/* The exit status for everything run so far (see enum cli_exit). */
int cli_session_status(const struct cli_session *s);

/* ---- for the session's parts (cli_insert, cli_meta) ---- */

/* psql's "pgcoalesce-cli:FILE:LINE: " in front of a script's errors; "". */
const char *cli_session_where(struct cli_session *s);

/* A statement or request failed: ON_ERROR_STOP ends a script here. */
void cli_session_failed(struct cli_session *s);

/* Connected, or reconnected now; false (reported) when the sidecar cannot be reached. */
bool cli_session_ready(struct cli_session *s);

/* The connection broke: say so; reconnect interactively, else end with status 2. */
void cli_session_lost(struct cli_session *s);

/* Ctrl-C while waiting: stop waiting (the sidecar still carries out what it has). */
void cli_session_interrupted(struct cli_session *s);

/* An error answer as psql prints a server error (PC007's says the row may be stored). */
void cli_session_report(struct cli_session *s, const struct cli_answer *a, const char *context);

/* Print a result table with the session's settings, to its output. */
void cli_session_print_table(struct cli_session *s, const struct cli_table *t);

/* A command tag ("INSERT 0 3") to the output, unless -q or tuples only. */
void cli_session_print_tag(struct cli_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Send query output to the file at path (NULL: standard output); false (reported) if it cannot be opened. */
bool cli_session_set_output(struct cli_session *s, const char *path);

/* Set (value non-NULL) or unset a variable. */
void cli_session_set_var(struct cli_session *s, const char *name, const char *value);

/* QUIET (-q): no command tags, no banner. */
bool cli_session_quiet(const struct cli_session *s);

/* Remember a statement (meta false) or a meta-command line for \watch. */
void cli_session_remember(struct cli_session *s, const char *text, size_t len, bool meta);

/* Run the remembered statement or meta-command again (\watch). */
void cli_session_rerun_last(struct cli_session *s);

/* Milliseconds on CLOCK_MONOTONIC, for \timing. */
double cli_session_now_ms(void);

#endif /* PGC_CLI_SESSION_H */
