/*
 * cli_session.c — input lines to requests, results to psql-style output
 * (see cli_session.h). INSERTs run in cli_insert.c, meta-commands in
 * cli_meta.c.
 */
#include "cli_session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli_insert.h"
#include "cli_meta.h"

#define CLI_MAX_INCLUDE_DEPTH 16

double cli_session_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void cli_session_init(struct cli_session *s, const char *address)
{
	memset(s, 0, sizeof(*s));
	cli_conn_init(&s->conn, address);
	buf_init(&s->query);
	buf_init(&s->last);
	cli_sql_split_init(&s->split);
	cli_sql_insert_init(&s->ins);
	cli_print_opts_init(&s->popt);
	cli_vars_init(&s->vars);
	cli_describe_init(&s->describe);
	s->out = stdout;
}

void cli_session_free(struct cli_session *s)
{
	cli_session_set_output(s, NULL);
	cli_conn_free(&s->conn);
	buf_free(&s->query);
	buf_free(&s->last);
	cli_sql_insert_free(&s->ins);
	cli_print_opts_free(&s->popt);
	cli_vars_free(&s->vars);
	cli_describe_free(&s->describe);
}

void cli_session_set_address(struct cli_session *s, const char *address)
{
	cli_conn_free(&s->conn);
	cli_conn_init(&s->conn, address);
}

bool cli_session_connect(struct cli_session *s)
{
	return cli_conn_open(&s->conn);
}

const char *cli_session_errmsg(const struct cli_session *s)
{
	return pgc_errmsg(s->conn.pgc);
}

const char *cli_session_address(const struct cli_session *s)
{
	return pgc_address(s->conn.pgc);
}

int cli_session_status(const struct cli_session *s)
{
	if (s->stop_status)
		return s->stop_status;
	return s->had_error && !s->interactive ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

bool cli_session_quiet(const struct cli_session *s)
{
	return cli_vars_bool(&s->vars, "QUIET", NULL);
}

const char *cli_session_where(struct cli_session *s)
{
	if (!s->src || !s->src->file)
		return "";
	snprintf(s->where, sizeof(s->where), "pgcoalesce-cli:%s:%lu: ", s->src->file, s->src->lineno);
	return s->where;
}

void cli_session_failed(struct cli_session *s)
{
	s->had_error = true;
	if (cli_vars_bool(&s->vars, "ON_ERROR_STOP", NULL) && !s->interactive) {
		s->quit = true;
		if (!s->stop_status)
			s->stop_status = CLI_EXIT_SCRIPT;
	}
}

void cli_session_set_var(struct cli_session *s, const char *name, const char *value)
{
	cli_vars_set(&s->vars, name, value);
}

/* ------------------------------------------------------------ the connection */

void cli_session_lost(struct cli_session *s)
{
	fprintf(stderr, "%spgcoalesce-cli: connection to the sidecar at \"%s\" lost: %s\n",
		cli_session_where(s), cli_session_address(s), cli_session_errmsg(s));
	s->had_error = true;
	if (!s->interactive) {
		s->quit = true;
		s->stop_status = CLI_EXIT_NO_SOCKET;
		return;
	}
	fprintf(stderr, "Attempting reconnect: %s\n", cli_conn_open(&s->conn) ? "Succeeded." : "Failed.");
}

bool cli_session_ready(struct cli_session *s)
{
	if (pgc_connected(s->conn.pgc) || cli_conn_open(&s->conn))
		return true;
	cli_session_lost(s);
	return false;
}

void cli_session_interrupted(struct cli_session *s)
{
	*s->interrupt = 0;
	fprintf(stderr, "pgcoalesce-cli: stopped waiting: requests already sent are still "
		"carried out by the sidecar\n");
	/* their late answers must not be taken for the next command's */
	s->conn.handler = NULL;
	if (!cli_conn_open(&s->conn))
		fprintf(stderr, "pgcoalesce-cli: cannot reconnect: %s\n", cli_session_errmsg(s));
}

void cli_session_report(struct cli_session *s, const struct cli_answer *a, const char *context)
{
	struct cli_report r = { "ERROR", a->message, a->detail, a->hint, context, NULL, 0, -1 };

	/* a refusal is certainly not stored; PC007 (and unknown codes) may be */
	if (!a->not_written && !r.detail)
		r.detail = "The row may or may not be in the database.";
	if (!r.message)
		r.message = a->code && *a->code ? a->code : "(no message)";
	cli_report_print(stderr, cli_session_where(s), &r);
}

/* ------------------------------------------------------------ output */

bool cli_session_set_output(struct cli_session *s, const char *path)
{
	FILE *f = stdout;

	if (path && !(f = fopen(path, "w"))) {
		fprintf(stderr, "%s%s: %s\n", cli_session_where(s), path, strerror(errno));
		return false;
	}
	if (s->out && s->out != stdout)
		fclose(s->out);
	s->out = f;
	return true;
}

/* The terminal's width, for \x auto (0 when the output is not a terminal). */
static size_t output_columns(const struct cli_session *s)
{
	struct winsize ws;

	if (s->out == stdout && isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		return ws.ws_col;
	return 0;
}

void cli_session_print_table(struct cli_session *s, const struct cli_table *t)
{
	s->popt.columns = output_columns(s);
	cli_table_print(t, &s->popt, s->out);
	s->popt.title = NULL; /* a \watch title goes over the first table only */
}

void cli_session_print_tag(struct cli_session *s, const char *fmt, ...)
{
	va_list ap;

	/* -t prints the rows only, so that id=$(pgcoalesce-cli -At -c "INSERT ...
	 * RETURNING id") is just the id (psql prints the tag there too) */
	if (cli_session_quiet(s) || s->popt.tuples_only)
		return;
	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
	fputc('\n', s->out);
}

/* ------------------------------------------------------------ statements */

void cli_session_remember(struct cli_session *s, const char *text, size_t len, bool meta)
{
	if (text != s->last.data) {
		buf_reset(&s->last);
		buf_append(&s->last, text, len);
	}
	s->last_meta = meta;
}

/* psql's variables after a statement that failed before reaching the sidecar. */
static void set_statement_vars(struct cli_session *s, const char *sqlstate, const char *message)
{
	cli_session_set_var(s, "ERROR", "true");
	cli_session_set_var(s, "SQLSTATE", sqlstate);
	cli_session_set_var(s, "ROW_COUNT", "0");
	cli_session_set_var(s, "LAST_ERROR_SQLSTATE", sqlstate);
	cli_session_set_var(s, "LAST_ERROR_MESSAGE", message);
}

static void trim(const char **text, size_t *len)
{
	while (*len > 0 && strchr(" \t\n\r", **text)) {
		(*text)++;
		(*len)--;
	}
	while (*len > 0 && strchr(" \t\n\r", (*text)[*len - 1]))
		(*len)--;
}

/* Parse and run one statement of the statement buffer. */
static void run_statement(struct cli_session *s, const char *raw, size_t raw_len)
{
	struct cli_sql_error err;
	enum cli_sql_result r;
	double t0 = cli_session_now_ms();
	const char *p, *nl, *text;
	struct buf sql;
	size_t len;

	buf_init(&sql);
	cli_vars_interpolate(&s->vars, raw, raw_len, &sql);
	text = buf_cstr(&sql);
	len = sql.len;
	trim(&text, &len);
	r = cli_sql_parse(text, len, &s->ins, &err);
	for (p = buf_cstr(&s->ins.notices); (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		fprintf(stderr, "%sNOTICE:  %.*s\n", cli_session_where(s), (int)(nl - p), p);
	if (r == CLI_SQL_OK)
		/* what only the table's description tells (DEFAULT, no column list) */
		switch (cli_describe_check(s, &s->ins, &err)) {
		case CLI_CHECK_OK: break;
		case CLI_CHECK_ERROR: r = CLI_SQL_ERROR; break;
		case CLI_CHECK_FAILED: r = CLI_SQL_EMPTY; break;
		}
	if (r == CLI_SQL_ERROR) {
		struct cli_report rep = { "ERROR", err.message, err.detail[0] ? err.detail : NULL,
					  err.hint[0] ? err.hint : NULL, NULL, text, len, err.position };
		cli_report_print(stderr, cli_session_where(s), &rep);
		set_statement_vars(s, err.code, err.message);
		cli_session_failed(s);
	} else if (r == CLI_SQL_OK) {
		cli_session_remember(s, raw, raw_len, false);
		cli_insert_run(s, &s->ins);
		if (s->timing)
			cli_print_timing(stdout, cli_session_now_ms() - t0);
	}
	cli_sql_insert_free(&s->ins);
	buf_free(&sql);
}

void cli_session_rerun_last(struct cli_session *s)
{
	char *copy = pgc_strndup(s->last.data, s->last.len);
	size_t len = s->last.len;

	if (s->last_meta)
		cli_meta_run(s, copy, len);
	else
		run_statement(s, copy, len);
	free(copy);
}

static int send_raw(pgc_client *pgc, void *user, const void *arg)
{
	const char *line = arg;

	return pgc_send_raw(pgc, line, strlen(line), user);
}

/* A raw protocol request: sent as is, its answer printed as is. */
static void run_raw(struct cli_session *s, const char *line, size_t len)
{
	struct cli_answer a;
	enum cli_conn_status st;
	double t0 = cli_session_now_ms();
	char *copy = pgc_strndup(line, len);

	memset(&a, 0, sizeof(a));
	if (cli_session_ready(s)) {
		st = cli_conn_request(&s->conn, &a, send_raw, copy);
		if (st == CLI_CONN_INTERRUPTED)
			cli_session_interrupted(s);
		else if (st == CLI_CONN_LOST || !a.line)
			cli_session_lost(s);
		else {
			fprintf(s->out, "%s\n", a.line);
			if (!a.ok)
				cli_session_failed(s);
			if (s->timing)
				cli_print_timing(stdout, cli_session_now_ms() - t0);
		}
	}
	cli_answer_free(&a);
	free(copy);
}

/* ------------------------------------------------------------ input */

static bool query_is_empty(const struct cli_session *s)
{
	return s->split.state == CLI_SQL_TOP && !s->split.nonblank;
}

bool cli_session_in_statement(const struct cli_session *s)
{
	return !query_is_empty(s);
}

void cli_session_reset_query(struct cli_session *s)
{
	buf_reset(&s->query);
	cli_sql_split_init(&s->split);
}

/* Run every complete statement in the buffer. */
static void run_complete_statements(struct cli_session *s)
{
	size_t end;

	while (!s->quit && cli_sql_split_next(&s->split, s->query.data, s->query.len, &end)) {
		char *stmt = pgc_strndup(s->query.data, end);
		buf_consume(&s->query, end);
		cli_sql_split_init(&s->split);
		run_statement(s, stmt, end);
		free(stmt);
	}
	/* what is left may be blanks and comments only: forget it */
	if (query_is_empty(s))
		cli_session_reset_query(s);
}

/* psql's words for lost users at an empty prompt; true when the line was one. */
static bool prompt_words(struct cli_session *s, const char *w, size_t n)
{
	if (n == 4 && (strncmp(w, "quit", 4) == 0 || strncmp(w, "exit", 4) == 0)) {
		s->quit = true;
		return true;
	}
	if (n == 4 && strncmp(w, "help", 4) == 0) {
		printf("You are using pgcoalesce-cli, the client of the pgcoalesce sidecar.\n"
		       "Type:  \\? for help\n       \\q to quit\n");
		return true;
	}
	return false;
}

static void session_line(struct cli_session *s, const char *line, size_t len)
{
	size_t i = 0;

	if (s->src)
		s->src->lineno++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (query_is_empty(s) && i < len && line[i] == '{') {
		run_raw(s, line + i, len - i);
		return;
	}
	if (s->split.state == CLI_SQL_TOP && i < len && line[i] == '\\') {
		cli_meta_run(s, line + i, len - i);
		return;
	}
	if (s->interactive && query_is_empty(s) && prompt_words(s, line + i, len - i))
		return;
	buf_append(&s->query, line, len);
	buf_putc(&s->query, '\n');
	run_complete_statements(s);
}

/* Each command's output goes out before the next one runs, as psql does
 * (a script's reader sees results as they happen, stdout and stderr in order). */
void cli_session_line(struct cli_session *s, const char *line, size_t len)
{
	session_line(s, line, len);
	fflush(s->out);
	fflush(stdout);
}

void cli_session_flush_input(struct cli_session *s)
{
	if (!s->quit && !query_is_empty(s) && s->query.len > 0) {
		char *stmt = pgc_strndup(s->query.data, s->query.len);
		size_t n = s->query.len;
		cli_session_reset_query(s);
		run_statement(s, stmt, n);
		free(stmt);
	}
	cli_session_reset_query(s);
	fflush(s->out);
	fflush(stdout);
}

void cli_session_run_stream(struct cli_session *s, FILE *in, const char *file)
{
	struct cli_source src = { file, 0, s->src ? s->src->depth + 1 : 0, s->src };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	s->src = &src;
	while (!s->quit && (n = getline(&line, &cap, in)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		cli_session_line(s, line, (size_t)n);
	}
	cli_session_flush_input(s);
	free(line);
	s->src = src.outer;
}

bool cli_session_run_file(struct cli_session *s, const char *path)
{
	FILE *f;
	bool quit_before = s->quit;

	if (s->src && s->src->depth >= CLI_MAX_INCLUDE_DEPTH) {
		fprintf(stderr, "%s%s: \\i nested too deeply\n", cli_session_where(s), path);
		return false;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s%s%s: %s\n", cli_session_where(s),
			s->src ? "" : "pgcoalesce-cli: error: ", path, strerror(errno));
		return false;
	}
	cli_session_run_stream(s, f, f == stdin ? "<stdin>" : path);
	if (f != stdin)
		fclose(f);
	/* \q inside an included file ends only that file */
	if (s->quit && !s->stop_status && s->src)
		s->quit = quit_before;
	return true;
}

void cli_session_run_string(struct cli_session *s, const char *text)
{
	struct cli_source src = { NULL, 0, 0, s->src };
	const char *p = text, *nl;

	s->src = &src;
	while (!s->quit) {
		nl = strchr(p, '\n');
		cli_session_line(s, p, nl ? (size_t)(nl - p) : strlen(p));
		if (!nl)
			break;
		p = nl + 1;
	}
	cli_session_flush_input(s);
	s->src = src.outer;
}

const char *cli_session_prompt(struct cli_session *s)
{
	snprintf(s->prompt, sizeof(s->prompt), "pgcoalesce%c> ", cli_sql_split_prompt(&s->split));
	return s->prompt;
}
