/*
 * cli_meta.c — the CLI's meta-commands (see cli_meta.h): the sidecar's
 * requests, output settings and variables, with psql's words.
 */
#include "cli_meta.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_output.h"
#include "cli_stats.h"
#include "cli_vars.h"

#define META_MAX_WORDS 16

/* One meta-command: its name and words (word 0 is the command itself). */
struct meta_cmd {
	struct cli_session *s;
	const char         *name;    /* without the backslash */
	char               *w[META_MAX_WORDS];
	size_t              n;
	const char         *rest;    /* the text after the command name */
};

static void meta_error(struct meta_cmd *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "\cmd: message" on stderr, as psql reports a meta-command's mistakes. */
static void meta_error(struct meta_cmd *m, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s\\%s: ", cli_session_where(m->s), m->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_session_failed(m->s);
}

static void meta_help(struct meta_cmd *m)
{
	(void)m;
	printf("General\n"
	       "  \\q                     quit pgcoalesce-cli (also: quit, exit, Ctrl-D)\n"
	       "  \\?                     show this help\n"
	       "  \\conninfo              show the sidecar's address\n"
	       "  \\echo [-n] [TEXT]      write TEXT to standard output\n"
	       "  \\qecho [-n] [TEXT]     write TEXT to the query output (\\o)\n"
	       "  \\i FILE                run the commands of FILE\n"
	       "  \\timing [on|off]       show how long each statement and request takes\n"
	       "  \\watch [i=]SEC [c=]N   run the last statement, \\stats, \\ping or \\flush\n"
	       "                         every SEC seconds (default 2), N times or until Ctrl-C\n"
	       "\n"
	       "Sidecar\n"
	       "  \\ping                  is the sidecar up, and its database?\n"
	       "  \\flush                 wait until every row accepted so far is committed or failed\n"
	       "  \\stats                 the sidecar's counters, in total and per table\n"
	       "  \\key [auto|off|PREFIX] idempotency keys for the rows of the INSERTs that\n"
	       "                         follow (show the setting without a word): auto, a new\n"
	       "                         UUID per row; PREFIX, \"PREFIX-N-M\" for row M of the\n"
	       "                         N-th INSERT, the same keys when a script runs again\n"
	       "\n"
	       "Output\n"
	       "  \\a                     toggle between unaligned and aligned output\n"
	       "  \\f [SEP]               show or set the field separator (unaligned)\n"
	       "  \\o [FILE]              send results to FILE (or back to standard output)\n"
	       "  \\pset [NAME [VALUE]]   show or set format (aligned, unaligned, csv), expanded,\n"
	       "                         tuples_only, fieldsep, recordsep, null, footer, title\n"
	       "  \\t [on|off]            show only rows (no headers, footers, command tags)\n"
	       "  \\x [on|off|auto]       toggle expanded output\n"
	       "\n"
	       "Variables\n"
	       "  \\set [NAME [VALUE]]    set a variable, or list them; :NAME, :'NAME', :\"NAME\"\n"
	       "                         in SQL are replaced by the value (ON_ERROR_STOP, QUIET;\n"
	       "                         ROW_COUNT, ERROR, SQLSTATE are set after each INSERT)\n"
	       "  \\unset NAME            unset a variable\n"
	       "\n"
	       "SQL and raw requests\n"
	       "  INSERT INTO name [(col, ...)] VALUES (...), (...) [RETURNING col, ... | *];\n"
	       "                         without (col, ...): the table's columns, in order\n"
	       "  INSERT INTO name [AS alias] ... ON CONFLICT [(col, ...) | ON CONSTRAINT c]\n"
	       "      DO NOTHING | DO UPDATE SET col = EXCLUDED.col, col = name.col + EXCLUDED.col\n"
	       "                         upserts; INSERT 0 k counts rows inserted or updated\n"
	       "  INSERT INTO name DEFAULT VALUES [RETURNING ...];\n"
	       "                         each tuple goes to the sidecar as one request, pipelined;\n"
	       "                         values are literals: 'text', E'esc\\n', $$text$$, numbers\n"
	       "                         (sent exactly as written), NULL, TRUE, FALSE, DEFAULT\n"
	       "  {\"op\": ...}             a line starting with '{' is sent as a raw protocol\n"
	       "                         request; the response is printed as is\n");
}

/* ------------------------------------------------------------ the sidecar */

static int send_ping(pgc_client *pgc, void *user, const void *arg)
{
	(void)arg;
	return pgc_send_ping(pgc, user, NULL);
}

static int send_flush(pgc_client *pgc, void *user, const void *arg)
{
	(void)arg;
	return pgc_send_flush(pgc, user, NULL);
}

static int send_stats(pgc_client *pgc, void *user, const void *arg)
{
	(void)arg;
	return pgc_send_stats(pgc, user, NULL);
}

/*
 * One request of a meta-command, its answer in *a. False when there is no
 * usable answer (reported, the session marked failed).
 */
static bool meta_request(struct meta_cmd *m, struct cli_answer *a,
			 int (*send)(pgc_client *, void *, const void *))
{
	struct cli_session *s = m->s;
	enum cli_conn_status st;

	memset(a, 0, sizeof(*a));
	if (!cli_session_ready(s))
		return false;
	st = cli_conn_request(&s->conn, a, send, NULL);
	if (st == CLI_CONN_INTERRUPTED) {
		cli_session_interrupted(s);
		return false;
	}
	if (st == CLI_CONN_LOST || a->cls == PGC_ERR_CONNECTION_LOST) {
		cli_session_lost(s);
		return false;
	}
	if (!a->ok) {
		cli_session_report(s, a, NULL);
		cli_session_failed(s);
		return false;
	}
	return true;
}

static void meta_ping(struct meta_cmd *m)
{
	struct cli_answer a;
	double t0 = cli_session_now_ms();
	size_t len;
	const char *db;

	if (meta_request(m, &a, send_ping)) {
		db = pgc_json_member(a.line, strlen(a.line), "db", &len);
		printf("sidecar is up, database is %s\n",
		       db && len == 4 && memcmp(db, "\"up\"", 4) == 0 ? "up"
		       : db && len == 6 && memcmp(db, "\"down\"", 6) == 0 ? "down" : "unknown");
		if (m->s->timing)
			cli_print_timing(stdout, cli_session_now_ms() - t0);
	}
	cli_answer_free(&a);
}

static void meta_flush(struct meta_cmd *m)
{
	struct cli_answer a;
	double t0 = cli_session_now_ms();

	if (meta_request(m, &a, send_flush)) {
		cli_session_print_tag(m->s, "FLUSH");
		if (m->s->timing)
			cli_print_timing(stdout, cli_session_now_ms() - t0);
	}
	cli_answer_free(&a);
}

static void meta_stats(struct meta_cmd *m)
{
	struct cli_answer a;
	const char *stats;
	size_t len;

	if (meta_request(m, &a, send_stats)) {
		stats = pgc_json_member(a.line, strlen(a.line), "stats", &len);
		if (stats && len && stats[0] == '{')
			cli_stats_print(m->s, stats, len);
		else
			fprintf(m->s->out, "%s\n", a.line);
	}
	cli_answer_free(&a);
}

/* \key [auto|off|PREFIX]: idempotency keys for the INSERTs that follow. */
static void meta_key(struct meta_cmd *m)
{
	char err[160], what[256];

	if (m->n > 2) {
		meta_error(m, "takes one word: auto, off or a key prefix");
		return;
	}
	if (m->n == 2 && !cli_keys_set(&m->s->keys, m->w[1], err, sizeof(err))) {
		meta_error(m, "%s", err);
		return;
	}
	if (m->n == 2 && cli_session_quiet(m->s))
		return;
	cli_keys_describe(&m->s->keys, what, sizeof(what));
	printf("Idempotency keys: %s.\n", what);
}

/* ------------------------------------------------------------ settings */

/* A boolean argument, or a toggle of *flag when there is none. */
static bool toggle(struct meta_cmd *m, const char *arg, const char *what, bool *flag)
{
	bool v = !*flag;

	if (arg && !cli_parse_bool(arg, &v)) {
		fprintf(stderr, "%sunrecognized value \"%s\" for \"%s\": Boolean expected\n",
			cli_session_where(m->s), arg, what);
		cli_session_failed(m->s);
		return false;
	}
	*flag = v;
	return true;
}

static void meta_timing(struct meta_cmd *m)
{
	if (toggle(m, m->n > 1 ? m->w[1] : NULL, "\\timing", &m->s->timing) && !cli_session_quiet(m->s))
		printf("Timing is %s.\n", m->s->timing ? "on" : "off");
}

static const char *const format_names[] = { "aligned", "unaligned", "csv" };

/* psql's word on a changed setting (not with -q). */
static void pset_show(struct cli_session *s, const char *name)
{
	struct cli_print_opts *o = &s->popt;

	if (cli_session_quiet(s))
		return;
	if (strcmp(name, "format") == 0)
		printf("Output format is %s.\n", format_names[o->format]);
	else if (strcmp(name, "expanded") == 0)
		printf(o->expanded == CLI_EXPANDED_AUTO ? "Expanded display is used automatically.\n"
		       : "Expanded display is %s.\n", o->expanded ? "on" : "off");
	else if (strcmp(name, "tuples_only") == 0)
		printf("Tuples only is %s.\n", o->tuples_only ? "on" : "off");
	else if (strcmp(name, "footer") == 0)
		printf("Default footer is %s.\n", o->footer ? "on" : "off");
	else if (strcmp(name, "fieldsep") == 0)
		printf("Field separator is \"%s\".\n", o->fieldsep);
	else if (strcmp(name, "recordsep") == 0 && strcmp(o->recordsep, "\n") == 0)
		printf("Record separator is <newline>.\n");
	else if (strcmp(name, "recordsep") == 0)
		printf("Record separator is \"%s\".\n", o->recordsep);
	else if (strcmp(name, "null") == 0)
		printf("Null display is \"%s\".\n", o->null_text);
	else if (strcmp(name, "title") == 0 && o->title_setting)
		printf("Title is \"%s\".\n", o->title_setting);
	else if (strcmp(name, "title") == 0)
		printf("Title is unset.\n");
}

/* \pset format VALUE: a unique prefix of a format name. */
static bool pset_format(struct meta_cmd *m, const char *v)
{
	size_t i, n = strlen(v), hits = 0, hit = 0;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (n && strncmp(v, format_names[i], n) == 0) {
			if (strlen(format_names[i]) == n) {
				hits = 1, hit = i;
				break;
			}
			hits++, hit = i;
		}
	if (hits != 1) {
		fprintf(stderr, "%s\\pset: allowed formats are aligned, csv, unaligned\n",
			cli_session_where(m->s));
		cli_session_failed(m->s);
		return false;
	}
	m->s->popt.format = (enum cli_format)hit;
	return true;
}

static bool pset_expanded(struct meta_cmd *m, const char *v)
{
	bool b;

	if (!v) {
		m->s->popt.expanded = m->s->popt.expanded ? CLI_EXPANDED_OFF : CLI_EXPANDED_ON;
	} else if (strcmp(v, "auto") == 0) {
		m->s->popt.expanded = CLI_EXPANDED_AUTO;
	} else if (cli_parse_bool(v, &b)) {
		m->s->popt.expanded = b ? CLI_EXPANDED_ON : CLI_EXPANDED_OFF;
	} else {
		fprintf(stderr, "%sunrecognized value \"%s\" for \"expanded\"\n"
			"Available values are: on, off, auto.\n", cli_session_where(m->s), v);
		cli_session_failed(m->s);
		return false;
	}
	return true;
}

/* Set one \pset option; false when it is not one or the value is bad
 * (reported), or when psql would not show the new setting. */
static bool pset_set(struct meta_cmd *m, const char *name, const char *v)
{
	struct cli_print_opts *o = &m->s->popt;

	if (strcmp(name, "format") == 0)
		return v ? pset_format(m, v) : true;
	if (strcmp(name, "expanded") == 0 || strcmp(name, "x") == 0)
		return pset_expanded(m, v);
	/* psql says nothing when a boolean is given its value, only when toggled */
	if (strcmp(name, "tuples_only") == 0 || strcmp(name, "t") == 0)
		return toggle(m, v, "tuples_only", &o->tuples_only) && !v;
	if (strcmp(name, "footer") == 0)
		return toggle(m, v, "footer", &o->footer) && !v;
	if (strcmp(name, "fieldsep") == 0 || strcmp(name, "recordsep") == 0 ||
	    strcmp(name, "null") == 0) {
		if (v)
			cli_print_opts_set(name[0] == 'f' ? &o->fieldsep : name[0] == 'r' ? &o->recordsep
					   : &o->null_text, v);
		return true;
	}
	if (strcmp(name, "title") == 0) {
		free(o->title_setting);
		o->title_setting = v ? pgc_strdup(v) : NULL;
		return true;
	}
	fprintf(stderr, "%s\\pset: unknown option: %s\n", cli_session_where(m->s), name);
	cli_session_failed(m->s);
	return false;
}

static void pset_list(struct cli_session *s)
{
	struct cli_print_opts *o = &s->popt;

	printf("%-12s %s\n", "expanded", o->expanded == CLI_EXPANDED_AUTO ? "auto"
	       : o->expanded ? "on" : "off");
	printf("%-12s '%s'\n", "fieldsep", o->fieldsep);
	printf("%-12s %s\n", "footer", o->footer ? "on" : "off");
	printf("%-12s %s\n", "format", format_names[o->format]);
	printf("%-12s '%s'\n", "null", o->null_text);
	printf("%-12s '%s'\n", "recordsep", strcmp(o->recordsep, "\n") == 0 ? "\\n" : o->recordsep);
	printf("%-12s %s\n", "title", o->title_setting ? o->title_setting : "");
	printf("%-12s %s\n", "tuples_only", o->tuples_only ? "on" : "off");
}

static void meta_pset(struct meta_cmd *m)
{
	if (m->n < 2) {
		pset_list(m->s);
		return;
	}
	if (pset_set(m, m->w[1], m->n > 2 ? m->w[2] : NULL))
		pset_show(m->s, strcmp(m->w[1], "x") == 0 ? "expanded"
			  : strcmp(m->w[1], "t") == 0 ? "tuples_only" : m->w[1]);
}

static void meta_x(struct meta_cmd *m)
{
	if (pset_expanded(m, m->n > 1 ? m->w[1] : NULL))
		pset_show(m->s, "expanded");
}

static void meta_t(struct meta_cmd *m)
{
	if (pset_set(m, "tuples_only", m->n > 1 ? m->w[1] : NULL))
		pset_show(m->s, "tuples_only");
}

static void meta_a(struct meta_cmd *m)
{
	m->s->popt.format = m->s->popt.format == CLI_FORMAT_ALIGNED ? CLI_FORMAT_UNALIGNED
								     : CLI_FORMAT_ALIGNED;
	pset_show(m->s, "format");
}

static void meta_f(struct meta_cmd *m)
{
	if (m->n > 1)
		cli_print_opts_set(&m->s->popt.fieldsep, m->w[1]);
	pset_show(m->s, "fieldsep");
}

static void meta_o(struct meta_cmd *m)
{
	if (!cli_session_set_output(m->s, m->n > 1 ? m->w[1] : NULL))
		cli_session_failed(m->s);
}

/* ------------------------------------------------------------ variables, text */

static void meta_set(struct meta_cmd *m)
{
	struct buf v;
	size_t i;

	if (m->n < 2) {
		cli_vars_print(&m->s->vars, stdout);
		return;
	}
	if (!cli_vars_valid_name(m->w[1])) {
		meta_error(m, "invalid variable name: \"%s\"", m->w[1]);
		return;
	}
	buf_init(&v);
	for (i = 2; i < m->n; i++)
		buf_puts(&v, m->w[i]); /* psql joins the values without blanks */
	cli_session_set_var(m->s, m->w[1], buf_cstr(&v));
	buf_free(&v);
}

static void meta_unset(struct meta_cmd *m)
{
	if (m->n < 2)
		meta_error(m, "missing required argument");
	else
		cli_session_set_var(m->s, m->w[1], NULL);
}

/* \echo and \qecho: the words joined by one blank; -n: no newline. */
static void echo_words(struct meta_cmd *m, FILE *f)
{
	size_t i = 1;
	bool newline = true;

	if (m->n > 1 && strcmp(m->w[1], "-n") == 0) {
		newline = false;
		i++;
	}
	for (; i < m->n; i++)
		fprintf(f, "%s%s", m->w[i], i + 1 < m->n ? " " : "");
	if (newline)
		fputc('\n', f);
}

static void meta_echo(struct meta_cmd *m)
{
	echo_words(m, stdout);
}

static void meta_qecho(struct meta_cmd *m)
{
	echo_words(m, m->s->out);
}

static void meta_include(struct meta_cmd *m)
{
	if (m->n < 2)
		meta_error(m, "missing required argument");
	else if (!cli_session_run_file(m->s, m->w[1]))
		cli_session_failed(m->s);
}

static void meta_conninfo(struct meta_cmd *m)
{
	printf("You are connected to the sidecar at \"%s\".\n", cli_session_address(m->s));
}

static void meta_quit(struct meta_cmd *m)
{
	m->s->quit = true;
}

/* ------------------------------------------------------------ \watch */

/* Sleep ms milliseconds, or until Ctrl-C; false when interrupted. */
static bool watch_sleep(struct cli_session *s, double ms)
{
	double end = cli_session_now_ms() + ms;

	while (!(s->interrupt && *s->interrupt)) {
		double left = end - cli_session_now_ms();
		if (left <= 0)
			return true;
		if (poll(NULL, 0, left > 100 ? 100 : (int)left + 1) < 0 && errno != EINTR)
			return true;
	}
	*s->interrupt = 0;
	return false;
}

/* \watch [i=]SEC [c=]COUNT, SEC and COUNT also positional. */
static bool watch_args(struct meta_cmd *m, double *sec, long *count)
{
	size_t i;
	char *end;

	for (i = 1; i < m->n; i++) {
		const char *a = m->w[i];
		bool is_count = strncmp(a, "c=", 2) == 0 || strncmp(a, "count=", 6) == 0;
		const char *v = strchr(a, '=') ? strchr(a, '=') + 1 : a;
		if (is_count || (i == 2 && !strchr(a, '='))) {
			*count = strtol(v, &end, 10);
			if (end == v || *end || *count < 1)
				return false;
		} else {
			*sec = strtod(v, &end);
			if (end == v || *end || *sec < 0 || (strchr(a, '=') && strncmp(a, "i=", 2) != 0 &&
							     strncmp(a, "interval=", 9) != 0))
				return false;
		}
	}
	return true;
}

static void meta_watch(struct meta_cmd *m)
{
	struct cli_session *s = m->s;
	double sec = 2;
	long count = 0, k;
	char when[64], title[128];
	time_t now;

	if (!watch_args(m, &sec, &count)) {
		meta_error(m, "invalid arguments: want [i=]SECONDS [c=]COUNT");
		return;
	}
	if (!s->last.len) {
		meta_error(m, "nothing to watch: run a statement, \\stats, \\ping or \\flush first");
		return;
	}
	for (k = 0; (!count || k < count) && !s->quit; k++) {
		bool failed_before = s->had_error;
		if (k && !watch_sleep(s, sec * 1000))
			break;
		now = time(NULL);
		/* psql's title: the date as the locale writes it (%c, whatever years it shows) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-y2k"
		strftime(when, sizeof(when), "%c", localtime(&now));
#pragma GCC diagnostic pop
		snprintf(title, sizeof(title), "%s (every %gs)", when, sec);
		s->popt.title = title;
		cli_session_rerun_last(s);
		s->popt.title = NULL;
		fflush(s->out);
		fflush(stdout);
		if (s->had_error && !failed_before)
			break; /* psql stops watching at an error */
	}
}

/* ------------------------------------------------------------ dispatch */

static const struct {
	const char *name;
	void (*fn)(struct meta_cmd *m);
	bool watchable;   /* \watch may run it again */
} meta_table[] = {
	{ "?", meta_help, false },        { "a", meta_a, false },
	{ "conninfo", meta_conninfo, false }, { "echo", meta_echo, false },
	{ "f", meta_f, false },           { "flush", meta_flush, true },
	{ "i", meta_include, false },     { "include", meta_include, false },
	{ "key", meta_key, false },
	{ "o", meta_o, false },           { "out", meta_o, false },
	{ "ping", meta_ping, true },      { "pset", meta_pset, false },
	{ "q", meta_quit, false },        { "qecho", meta_qecho, false },
	{ "quit", meta_quit, false },     { "set", meta_set, false },
	{ "stats", meta_stats, true },    { "t", meta_t, false },
	{ "timing", meta_timing, false }, { "unset", meta_unset, false },
	{ "watch", meta_watch, false },   { "x", meta_x, false },
};

void cli_meta_run(struct cli_session *s, const char *line, size_t len)
{
	char *copy = pgc_strndup(line, len);
	struct meta_cmd m;
	size_t i, nlen = strcspn(copy + 1, " \t");

	memset(&m, 0, sizeof(m));
	m.s = s;
	m.rest = copy + 1 + nlen + (1 + nlen < len); /* past the blank after the name */
	copy[1 + nlen] = '\0';
	m.name = copy + 1;
	m.w[0] = pgc_strdup(m.name);
	m.n = 1 + cli_vars_words(&s->vars, m.rest, m.w + 1, META_MAX_WORDS - 1);
	for (i = 0; i < sizeof(meta_table) / sizeof(meta_table[0]); i++)
		if (strcmp(m.name, meta_table[i].name) == 0)
			break;
	if (i == sizeof(meta_table) / sizeof(meta_table[0])) {
		fprintf(stderr, "%sinvalid command \\%s\nTry \\? for help.\n", cli_session_where(s),
			m.name);
		cli_session_failed(s);
	} else {
		if (meta_table[i].watchable)
			cli_session_remember(s, line, len, true);
		meta_table[i].fn(&m);
	}
	for (i = 0; i < m.n; i++)
		free(m.w[i]);
	free(copy);
}
