/*
 * cli_main.c — pgcoalesce-cli: options, the interactive prompt, exit status.
 *
 *   pgcoalesce-cli [-s ADDRESS] [-c COMMAND]... [-f FILE]... [-q] [-v NAME=VALUE]
 *                  [-A] [-t] [-F SEP] [-R SEP] [-x] [--csv] [-P NAME=VALUE] [-o FILE]
 *   pgcoalesce-cli [-s ADDRESS] bench [bench options]
 *
 * -c and -f run in the order given; with neither, standard input is read,
 * with a prompt, line editing and history when it is a terminal (like psql,
 * and like redis-cli's REPL vs non-interactive split).
 *
 * The sidecar's address: -s, else PGCOALESCE_SOCKET, else the `socket` of
 * the daemon's configuration file (PGCOALESCE_CONFIG, else the installed
 * SYSCONFDIR/pgcoalesce/pgcoalesce.conf when it exists), else
 * /tmp/pgcoalesce.sock: the daemon's own order, so an installed CLI finds an
 * installed daemon.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli_bench.h"
#include "cli_session.h"

#define CLI_DEFAULT_SOCKET "/tmp/pgcoalesce.sock"
#ifndef PGC_SYSCONFDIR
#define PGC_SYSCONFDIR "/usr/local/etc"
#endif
#define CLI_DEFAULT_CONFIG PGC_SYSCONFDIR "/pgcoalesce/pgcoalesce.conf"

/* psql keeps a multi-line history entry on one line of its file with this. */
#define CLI_NL_IN_HISTORY '\001'

/* One -c or -f, in command-line order. */
struct cli_action {
	bool        is_file;
	const char *arg;
};

struct cli_options {
	const char        *socket_path;   /* -s, or NULL */
	char              *found_socket;  /* from the environment or the config file */
	struct cli_action *actions;
	size_t             nactions;
	const char        *output;        /* -o */
	struct cli_session *s;            /* -v, -P, -A ... apply to it */
};

/* Set by SIGINT while the prompt is active; read by the session and readline hook. */
static volatile sig_atomic_t cli_sigint;

static void cli_usage(FILE *f)
{
	fprintf(f,
		"pgcoalesce-cli is the psql-style client of the pgcoalesce sidecar.\n"
		"\n"
		"Usage:\n"
		"  pgcoalesce-cli [OPTION]...\n"
		"  pgcoalesce-cli [-s ADDRESS] bench [--table T] [--clients C] [--pipeline K]\n"
		"                 [--rows N | --duration S] [--row JSON]   (see bench --help)\n"
		"\n"
		"Options:\n"
		"  -s, --socket=ADDRESS     the sidecar's socket path, or HOST:PORT for TCP\n"
		"                           (default: PGCOALESCE_SOCKET, else the socket of\n"
		"                           PGCOALESCE_CONFIG or %s,\n"
		"                           else %s)\n"
		"  -c, --command=COMMAND    run COMMAND (SQL, a meta-command or a raw JSON\n"
		"                           request) and exit; repeatable\n"
		"  -f, --file=FILE          run the commands of FILE (\"-\": standard input);\n"
		"                           repeatable, in order with -c\n"
		"  -q, --quiet              no command tags (INSERT 0 N) and no banner\n"
		"  -v, --set=NAME=VALUE     set a variable (ON_ERROR_STOP=1: stop at the first\n"
		"                           error, exit 3)\n"
		"      --key=auto|PREFIX    send every row with an idempotency key (\\key):\n"
		"                           auto, a new UUID per row; PREFIX, PREFIX-N-M for row M\n"
		"                           of the N-th INSERT, so a script run again with the\n"
		"                           same PREFIX does not write its rows twice\n"
		"  -X, --no-psqlrc          accepted for psql habits (there is no rc file)\n"
		"  -V, --version            print the version and exit\n"
		"  -?, --help               show this help and exit\n"
		"\n"
		"Output format options:\n"
		"  -A, --no-align           unaligned output\n"
		"      --csv                CSV output\n"
		"  -F, --field-separator=SEP\n"
		"                           field separator for unaligned output (\"|\")\n"
		"  -R, --record-separator=SEP\n"
		"                           record separator for unaligned output (newline)\n"
		"  -o, --output=FILE        send results (and command tags) to FILE\n"
		"  -P, --pset=NAME[=VALUE]  set a \\pset option (format, expanded, tuples_only,\n"
		"                           fieldsep, recordsep, null, footer, title)\n"
		"  -t, --tuples-only        print rows only: no headers, footers or command tags\n"
		"  -x, --expanded           expanded output (one name | value line per column)\n"
		"\n"
		"With no -c or -f, commands are read from standard input (interactively,\n"
		"with line editing and history in ~/.pgcoalesce_history, on a terminal).\n"
		"Type \\? inside for the commands. Exit status: 0 ok, 1 a statement or\n"
		"request failed (any, also in a -f script), 2 the sidecar cannot be reached\n"
		"or the connection was lost, 3 stopped by ON_ERROR_STOP.\n",
		CLI_DEFAULT_CONFIG, CLI_DEFAULT_SOCKET);
}

/* ------------------------------------------------------------ the address */

/* The value of `socket = ...` in the daemon's config file (its syntax: the
 * last line wins), or NULL. */
static char *config_socket(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (getline(&line, &cap, f) >= 0) {
		char *p = line, *e, *v;
		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, "socket", 6) != 0)
			continue;
		for (v = p + 6; *v == ' ' || *v == '\t'; v++)
			;
		if (*v++ != '=')
			continue;
		while (isspace((unsigned char)*v))
			v++;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
			;
		if (e - v >= 2 && *v == '"' && e[-1] == '"')
			v++, e--;
		free(found);
		found = pgc_strndup(v, (size_t)(e - v));
	}
	free(line);
	fclose(f);
	if (found && !*found) {
		free(found); /* "socket =" with no value: as if absent */
		found = NULL;
	}
	return found;
}

/* The daemon's order: PGCOALESCE_SOCKET, its config file, the default. */
static char *default_address(void)
{
	const char *env = getenv("PGCOALESCE_SOCKET"), *conf = getenv("PGCOALESCE_CONFIG");
	char *from_file;

	if (env && *env)
		return pgc_strdup(env);
	from_file = config_socket(conf && *conf ? conf : CLI_DEFAULT_CONFIG);
	return from_file ? from_file : pgc_strdup(CLI_DEFAULT_SOCKET);
}

/* ------------------------------------------------------------ options */

/* -v NAME=VALUE (NAME alone unsets, as psql's -v does). */
static bool parse_set(struct cli_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *name = eq ? pgc_strndup(arg, (size_t)(eq - arg)) : pgc_strdup(arg);
	bool ok = cli_vars_valid_name(name), b;

	if (!ok)
		fprintf(stderr, "pgcoalesce-cli: invalid variable name: \"%s\"\n", name);
	else if (strcmp(name, "ON_ERROR_STOP") == 0 && eq && !cli_parse_bool(eq + 1, &b)) {
		fprintf(stderr, "pgcoalesce-cli: unrecognized value \"%s\" for \"ON_ERROR_STOP\": "
			"Boolean expected\n", eq + 1);
		ok = false;
	} else {
		cli_session_set_var(o->s, name, eq ? eq + 1 : NULL);
	}
	free(name);
	return ok;
}

/* -P NAME[=VALUE], through the \pset command itself. */
static bool parse_pset(struct cli_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct buf cmd;
	char *quiet;
	bool failed;

	buf_init(&cmd);
	buf_puts(&cmd, "\\pset ");
	buf_append(&cmd, arg, eq ? (size_t)(eq - arg) : strlen(arg));
	if (eq) {
		const char *p;
		buf_puts(&cmd, " '");
		for (p = eq + 1; *p; p++) {
			if (*p == '\'' || *p == '\\')
				buf_putc(&cmd, *p == '\'' ? '\'' : '\\');
			buf_putc(&cmd, *p);
		}
		buf_putc(&cmd, '\'');
	}
	quiet = cli_vars_get(&o->s->vars, "QUIET") ? pgc_strdup(cli_vars_get(&o->s->vars, "QUIET")) : NULL;
	cli_session_set_var(o->s, "QUIET", "on"); /* no "Output format is ..." */
	o->s->had_error = false;
	cli_session_line(o->s, cmd.data, cmd.len);
	failed = o->s->had_error;
	cli_session_set_var(o->s, "QUIET", quiet);
	free(quiet);
	buf_free(&cmd);
	return !failed;
}

/* --key auto|off|PREFIX: as \key; false for a bad value (reported). */
static bool key_option(struct cli_options *o, const char *arg)
{
	char err[160];

	if (cli_keys_set(&o->s->keys, arg, err, sizeof(err)))
		return true;
	fprintf(stderr, "pgcoalesce-cli: --key: %s\n", err);
	return false;
}

/* One option of the output group; false for a bad value (reported). */
static bool output_option(struct cli_options *o, int opt, const char *arg)
{
	struct cli_print_opts *p = &o->s->popt;

	switch (opt) {
	case 'A': p->format = CLI_FORMAT_UNALIGNED; return true;
	case 'C': p->format = CLI_FORMAT_CSV; return true;
	case 't': p->tuples_only = true; return true;
	case 'x': p->expanded = CLI_EXPANDED_ON; return true;
	case 'F': cli_print_opts_set(&p->fieldsep, arg); return true;
	case 'R': cli_print_opts_set(&p->recordsep, arg); return true;
	case 'o': o->output = arg; return true;
	case 'P': return parse_pset(o, arg);
	default: return false;
	}
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(struct cli_options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "command", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "set", required_argument, NULL, 'v' },
		{ "variable", required_argument, NULL, 'v' },
		{ "no-psqlrc", no_argument, NULL, 'X' },
		{ "no-align", no_argument, NULL, 'A' },
		{ "csv", no_argument, NULL, 'C' },
		{ "field-separator", required_argument, NULL, 'F' },
		{ "record-separator", required_argument, NULL, 'R' },
		{ "output", required_argument, NULL, 'o' },
		{ "pset", required_argument, NULL, 'P' },
		{ "tuples-only", no_argument, NULL, 't' },
		{ "expanded", no_argument, NULL, 'x' },
		{ "key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->actions = pgc_calloc((size_t)argc + 1, sizeof(*o->actions));
	/* '+': stop at the first non-option, so "bench" and its options stay */
	while ((opt = getopt_long(argc, argv, "+s:c:f:qv:XAF:R:o:P:txV?", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o->socket_path = optarg; break;
		case 'c': o->actions[o->nactions++] = (struct cli_action){ false, optarg }; break;
		case 'f': o->actions[o->nactions++] = (struct cli_action){ true, optarg }; break;
		case 'q': cli_session_set_var(o->s, "QUIET", "on"); break;
		case 'v': if (!parse_set(o, optarg)) return 2; break;
		case 'X': break;
		case 'K': if (!key_option(o, optarg)) return 2; break;
		case 'V': printf("pgcoalesce-cli %s\n", PGC_VERSION); return 0;
		case 'h': cli_usage(stdout); return 0;
		case '?':
			if (strcmp(argv[optind - 1], "-?") == 0) {
				cli_usage(stdout);
				return 0;
			}
			fprintf(stderr, "Try \"pgcoalesce-cli --help\" for more information.\n");
			return 2;
		default:
			if (!output_option(o, opt, optarg)) {
				fprintf(stderr, "Try \"pgcoalesce-cli --help\" for more information.\n");
				return 2;
			}
		}
	}
	return -1;
}

/* ------------------------------------------------------------ the prompt */

/*
 * The prompt uses readline's callback interface around our own poll(): a
 * Ctrl-C then wakes the loop (EINTR) and abandons the line being edited,
 * as psql does, without longjmp out of readline. readline's callbacks take
 * no argument, hence this one pointer to what the prompt runs.
 */
struct repl {
	struct cli_session *s;
	struct buf          history; /* the lines of the statement being typed */
};

static struct repl *repl_current;

static void on_sigint(int sig)
{
	(void)sig;
	cli_sigint = 1;
}

/* A statement's lines go to the history as one entry, like psql's. */
static void history_add_pending(struct repl *r)
{
	if (r->history.len)
		add_history(buf_cstr(&r->history));
	buf_reset(&r->history);
}

static void repl_line(char *line)
{
	struct repl *r = repl_current;
	struct cli_session *s = r->s;

	if (!line) {
		printf("\\q\n"); /* Ctrl-D, echoed as psql does */
		s->quit = true;
	} else {
		if (*line) {
			if (r->history.len)
				buf_putc(&r->history, '\n');
			buf_puts(&r->history, line);
		}
		cli_session_line(s, line, strlen(line));
		if (!cli_session_in_statement(s))
			history_add_pending(r);
		free(line);
	}
	if (s->quit)
		rl_callback_handler_remove(); /* no prompt after the last line */
	else
		rl_set_prompt(cli_session_prompt(s));
}

static char *history_path(void)
{
	const char *home = getenv("HOME");
	char *p;
	size_t n;

	if (!home || !*home)
		return NULL;
	n = strlen(home) + sizeof("/.pgcoalesce_history");
	p = pgc_malloc(n);
	snprintf(p, n, "%s/.pgcoalesce_history", home);
	return p;
}

/* Multi-line entries: '\n' <-> CLI_NL_IN_HISTORY in every entry. */
static void history_translate(char from, char to)
{
	HIST_ENTRY **list = history_list();
	char *p;

	for (; list && *list; list++)
		for (p = (*list)->line; p && *p; p++)
			if (*p == from)
				*p = to;
}

static void history_load(const char *path)
{
	using_history();
	if (path && read_history(path) == 0)
		history_translate(CLI_NL_IN_HISTORY, '\n');
}

static void history_save(const char *path)
{
	if (!path)
		return;
	history_translate('\n', CLI_NL_IN_HISTORY);
	write_history(path);
	history_truncate_file(path, 500);
}

/* Ctrl-C at the prompt: forget the line and the statement being typed. */
static void repl_cancel_line(struct repl *r)
{
	cli_sigint = 0;
	history_add_pending(r);
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	cli_session_reset_query(r->s);
	printf("\n");
	rl_set_prompt(cli_session_prompt(r->s));
	rl_on_new_line();
	rl_redisplay();
}

/*
 * SIGINT is blocked except inside ppoll() and while a line is handled (a
 * statement waiting for acks sees it there): a Ctrl-C that lands between
 * two polls is then seen by the next ppoll, never lost.
 */
static void repl_loop(struct repl *r)
{
	sigset_t sigint_only, unblocked;

	sigemptyset(&sigint_only);
	sigaddset(&sigint_only, SIGINT);
	sigprocmask(SIG_BLOCK, &sigint_only, &unblocked);
	while (!r->s->quit) {
		struct pollfd p = { fileno(rl_instream ? rl_instream : stdin), POLLIN, 0 };
		if (cli_sigint) {
			repl_cancel_line(r);
			continue;
		}
		if (ppoll(&p, 1, NULL, &unblocked) < 0)
			continue; /* EINTR: the flag is checked first thing */
		sigprocmask(SIG_SETMASK, &unblocked, NULL);
		rl_callback_read_char();
		sigprocmask(SIG_BLOCK, &sigint_only, NULL);
	}
	sigprocmask(SIG_SETMASK, &unblocked, NULL);
}

static void run_interactive(struct cli_session *s)
{
	char *hist = history_path();
	struct repl r = { s, { NULL, 0, 0 } };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint; /* no SA_RESTART: poll() must see EINTR */
	sigaction(SIGINT, &sa, NULL);
	s->interrupt = &cli_sigint;
	s->conn.interrupt = &cli_sigint;
	repl_current = &r;
	rl_catch_signals = 0;
	history_load(hist);
	if (!cli_session_quiet(s))
		printf("pgcoalesce-cli %s, sidecar at \"%s\"\nType \"\\?\" for help.\n\n",
		       PGC_VERSION, cli_session_address(s));
	rl_callback_handler_install(cli_session_prompt(s), repl_line);
	repl_loop(&r);
	history_add_pending(&r);
	history_save(hist);
	buf_free(&r.history);
	free(hist);
	repl_current = NULL;
}

/* ------------------------------------------------------------ main */

/* Width computations need a UTF-8 locale; keep the user's when it is one. */
static void set_utf8_ctype(void)
{
	const char *cs;

	setlocale(LC_CTYPE, "");
	setlocale(LC_TIME, "");
	cs = nl_langinfo(CODESET);
	if (!cs || strcmp(cs, "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

static void run_actions(const struct cli_options *o, struct cli_session *s)
{
	size_t i;

	for (i = 0; i < o->nactions && !s->quit; i++) {
		if (!o->actions[i].is_file)
			cli_session_run_string(s, o->actions[i].arg);
		else if (!cli_session_run_file(s, o->actions[i].arg))
			s->had_error = s->quit = true; /* psql: a missing -f file is fatal */
	}
	if (o->nactions == 0) {
		s->interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
		if (s->interactive)
			run_interactive(s);
		else
			cli_session_run_stream(s, stdin, NULL);
	}
}

static int run_session(struct cli_options *o)
{
	struct cli_session *s = o->s;

	if (o->output && !cli_session_set_output(s, o->output))
		return CLI_EXIT_FAILED;
	if (!cli_session_connect(s)) {
		fprintf(stderr, "pgcoalesce-cli: error: %s\n", cli_session_errmsg(s));
		return CLI_EXIT_NO_SOCKET;
	}
	run_actions(o, s);
	return cli_session_status(s);
}

int main(int argc, char **argv)
{
	struct cli_options o;
	struct cli_session s;
	int status;

	memset(&o, 0, sizeof(o));
	signal(SIGPIPE, SIG_IGN);
	set_utf8_ctype();
	/* options may set the session's variables and output: it exists first,
	 * with the address found later */
	cli_session_init(&s, NULL);
	o.s = &s;
	status = parse_options(&o, argc, argv);
	if (status < 0) {
		o.found_socket = o.socket_path ? pgc_strdup(o.socket_path) : default_address();
		cli_session_set_address(&s, o.found_socket);
		if (optind < argc && strcmp(argv[optind], "bench") == 0)
			status = cli_bench_main(argc - optind, argv + optind, o.found_socket);
		else if (optind < argc) {
			fprintf(stderr, "pgcoalesce-cli: unexpected argument \"%s\"\n"
				"Try \"pgcoalesce-cli --help\" for more information.\n", argv[optind]);
			status = 2;
		} else
			status = run_session(&o);
	}
	fflush(stdout);
	cli_session_free(&s);
	free(o.actions);
	free(o.found_socket);
	return status;
}
