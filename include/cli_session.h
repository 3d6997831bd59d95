/*
 * cli_session.h — one pgcoalesce-cli session: input lines in, requests out,
 * results printed the way psql prints them.
 *
 * Lines come from -c strings, files (-f, \i), standard input or the
 * interactive prompt; each goes through cli_session_line():
 *   - with the statement buffer empty, a line starting with '{' is a raw
 *     protocol request, sent as is, its response printed as is;
 *   - outside quotes and comments, a line starting with '\' is a
 *     meta-command (\q \? \ping \flush \stats \timing \i \echo \conninfo);
 *   - anything else is SQL, collected until ';' ends a statement, which is
 *     parsed (cli_sql) and sent as one pipelined request per tuple.
 */
#ifndef PGC_CLI_SESSION_H
#define PGC_CLI_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "cli_conn.h"
#include "cli_sql.h"

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
	bool                   quiet;         /* -q: no command tags, no banner */
	bool                   on_error_stop; /* -v ON_ERROR_STOP=1 */
	bool                   timing;        /* \timing on */
	bool                   quit;          /* stop reading input */
	bool                   had_error;     /* some statement or request failed */
	int                    stop_status;   /* set when quitting on an error */
	long long              next_id;       /* ids of the requests the CLI makes */
	struct buf             query;         /* the statement being collected */
	struct cli_sql_split   split;
	struct cli_sql_insert  ins;
	struct cli_source     *src;
	volatile sig_atomic_t *interrupt;     /* set by SIGINT in interactive mode */
};

void cli_session_init(struct cli_session *s, const char *socket_path);
void cli_session_free(struct cli_session *s);

/* Connect; false with s->conn.err set. */
bool cli_session_connect(struct cli_session *s);

/* One input line (without its newline). */
void cli_session_line(struct cli_session *s, const char *line, size_t len);

/* End of an input source: run what is left in the statement buffer. */
void cli_session_flush_input(struct cli_session *s);

/* Discard a partly typed statement (Ctrl-C at the prompt). */
void cli_session_reset_query(struct cli_session *s);

/* Run every line of a stream; `file` names it in messages (NULL: none). */
void cli_session_run_stream(struct cli_session *s, FILE *in, const char *file);

/* Run a file (-f, \i); false if it cannot be opened (reported). */
bool cli_session_run_file(struct cli_session *s, const char *path);

/* Run a -c string: its lines, then the end of input. */
void cli_session_run_string(struct cli_session *s, const char *text);

/* psql's prompt for the current statement state: "pgcoalesce=> " etc. */
const char *cli_session_prompt(const struct cli_session *s);

/* The exit status for everything run so far (see enum cli_exit). */
int cli_session_status(const struct cli_session *s);

#endif /* PGC_CLI_SESSION_H */
