/*
 * cli_main.c — pgcoalesce-cli: options, the interactive prompt, exit status.
 *
 *   pgcoalesce-cli [-s SOCKET] [-c COMMAND]... [-f FILE]... [-q] [-v ON_ERROR_STOP=1]
 *   pgcoalesce-cli [-s SOCKET] bench [bench options]
 *
 * -c and -f run in the order given; with neither, standard input is read,
 * with a prompt, line editing and history when it is a terminal (like psql,
 * and like redis-cli's REPL vs non-interactive split).
 */
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

/* One -c or -f, in command-line order. */
struct cli_action {
	bool        is_file;
	const char *arg;
};

struct cli_options {
	const char        *socket_path;
	struct cli_action *actions;
	size_t             nactions;
	bool               quiet;
	bool               on_error_stop;
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
		"  pgcoalesce-cli [-s SOCKET] bench [--table T] [--clients C] [--pipeline K]\n"
		"                 [--rows N | --duration S] [--row JSON]   (see bench --help)\n"
		"\n"
		"Options:\n"
		"  -s, --socket=PATH        the sidecar's socket (env PGCOALESCE_SOCKET;\n"
		"                           default %s)\n"
		"  -c, --command=COMMAND    run COMMAND (SQL, a meta-command or a raw JSON\n"
		"                           request) and exit; repeatable\n"
		"  -f, --file=FILE          run the commands of FILE (\"-\": standard input);\n"
		"                           repeatable, in order with -c\n"
		"  -q, --quiet              no command tags (INSERT 0 N) and no banner\n"
		"  -v, --set=NAME=VALUE     ON_ERROR_STOP=1: stop at the first error, exit 3\n"
		"  -X, --no-psqlrc          accepted for psql habits (there is no rc file)\n"
		"  -V, --version            print the version and exit\n"
		"  -?, --help               show this help and exit\n"
		"\n"
		"With no -c or -f, commands are read from standard input (interactively,\n"
		"with line editing and history in ~/.pgcoalesce_history, on a terminal).\n"
		"Type \\? inside for the commands. Exit status: 0 ok, 1 a statement or\n"
		"request failed, 2 the socket cannot be reached, 3 stopped by ON_ERROR_STOP.\n",
		CLI_DEFAULT_SOCKET);
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "on", "true", "yes", "t", "y" };
	static const char *const no[] = { "0", "off", "false", "no", "f", "n" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* -v NAME=VALUE: ON_ERROR_STOP is the one variable with a meaning. */
static bool parse_set(struct cli_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (!eq) {
		fprintf(stderr, "pgcoalesce-cli: -v needs NAME=VALUE, not \"%s\"\n", arg);
		return false;
	}
	if ((size_t)(eq - arg) == strlen("ON_ERROR_STOP") && strncmp(arg, "ON_ERROR_STOP", 13) == 0 &&
	    !parse_bool(eq + 1, &o->on_error_stop)) {
		fprintf(stderr, "pgcoalesce-cli: unrecognized value \"%s\" for \"ON_ERROR_STOP\": "
			"Boolean expected\n", eq + 1);
		return false;
	}
	return true;
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->socket_path = getenv("PGCOALESCE_SOCKET");
	if (!o->socket_path || !*o->socket_path)
		o->socket_path = CLI_DEFAULT_SOCKET;
	o->actions = pgc_calloc((size_t)argc + 1, sizeof(*o->actions));
	/* '+': stop at the first non-option, so "bench" and its options stay */
	while ((opt = getopt_long(argc, argv, "+s:c:f:qv:XV?", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o->socket_path = optarg; break;
		case 'c': o->actions[o->nactions++] = (struct cli_action){ false, optarg }; break;
		case 'f': o->actions[o->nactions++] = (struct cli_action){ true, optarg }; break;
		case 'q': o->quiet = true; break;
		case 'v': if (!parse_set(o, optarg)) return 2; break;
		case 'X': break;
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
			fprintf(stderr, "Try \"pgcoalesce-cli --help\" for more information.\n");
			return 2;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ the prompt */

/*
 * The prompt uses readline's callback interface around our own poll(): a
 * Ctrl-C then wakes the loop (EINTR) and abandons the line being edited,
 * as psql does, without longjmp out of readline. readline's callbacks take
 * no argument, hence this one pointer to the session being read.
 */
static struct cli_session *repl_session;

static void on_sigint(int sig)
{
	(void)sig;
	cli_sigint = 1;
}

static void repl_line(char *line)
{
	struct cli_session *s = repl_session;

	if (!line) {
		printf("\\q\n"); /* Ctrl-D, echoed as psql does */
		s->quit = true;
	} else {
		if (*line)
			add_history(line);
		cli_session_line(s, line, strlen(line));
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

/* Ctrl-C at the prompt: forget the line and the statement being typed. */
static void repl_cancel_line(struct cli_session *s)
{
	cli_sigint = 0;
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	cli_session_reset_query(s);
	printf("\n");
	rl_set_prompt(cli_session_prompt(s));
	rl_on_new_line();
	rl_redisplay();
}

static void run_interactive(struct cli_session *s, bool quiet)
{
	char *hist = history_path();
	sigset_t sigint_only, unblocked;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint; /* no SA_RESTART: poll() must see EINTR */
	sigaction(SIGINT, &sa, NULL);
	s->interrupt = &cli_sigint;
	repl_session = s;
	rl_catch_signals = 0;
	using_history();
	if (hist)
		read_history(hist);
	if (!quiet)
		printf("pgcoalesce-cli %s, sidecar on socket \"%s\"\nType \"\\?\" for help.\n\n",
		       PGC_VERSION, s->conn.path);
	rl_callback_handler_install(cli_session_prompt(s), repl_line);
	/*
	 * SIGINT is blocked except inside ppoll() and while a line is handled
	 * (a statement waiting for acks sees it there): a Ctrl-C that lands
	 * between two polls is then seen by the next ppoll, never lost.
	 */
	sigemptyset(&sigint_only);
	sigaddset(&sigint_only, SIGINT);
	sigprocmask(SIG_BLOCK, &sigint_only, &unblocked);
	while (!s->quit) {
		struct pollfd p = { fileno(rl_instream ? rl_instream : stdin), POLLIN, 0 };
		if (cli_sigint) {
			repl_cancel_line(s);
			continue;
		}
		if (ppoll(&p, 1, NULL, &unblocked) < 0)
			continue; /* EINTR: the flag is checked first thing */
		sigprocmask(SIG_SETMASK, &unblocked, NULL);
		rl_callback_read_char();
		sigprocmask(SIG_BLOCK, &sigint_only, NULL);
	}
	sigprocmask(SIG_SETMASK, &unblocked, NULL);
	if (hist) {
		write_history(hist);
		history_truncate_file(hist, 500);
	}
	free(hist);
	repl_session = NULL;
}

/* ------------------------------------------------------------ main */

/* Width computations need a UTF-8 locale; keep the user's when it is one. */
static void set_utf8_ctype(void)
{
	const char *cs;

	setlocale(LC_CTYPE, "");
	cs = nl_langinfo(CODESET);
	if (!cs || strcmp(cs, "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

static int run_session(const struct cli_options *o)
{
	struct cli_session s;
	size_t i;
	int status;

	cli_session_init(&s, o->socket_path);
	s.quiet = o->quiet;
	s.on_error_stop = o->on_error_stop;
	if (!cli_session_connect(&s)) {
		fprintf(stderr, "pgcoalesce-cli: error: cannot connect to the sidecar on socket \"%s\": %s\n",
			o->socket_path, s.conn.err);
		cli_session_free(&s);
		return CLI_EXIT_NO_SOCKET;
	}
	for (i = 0; i < o->nactions && !s.quit; i++) {
		if (!o->actions[i].is_file)
			cli_session_run_string(&s, o->actions[i].arg);
		else if (!cli_session_run_file(&s, o->actions[i].arg))
			s.had_error = s.quit = true; /* psql: a missing -f file is fatal */
	}
	if (o->nactions == 0) {
		s.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
		if (s.interactive)
			run_interactive(&s, o->quiet);
		else
			cli_session_run_stream(&s, stdin, NULL);
	}
	status = cli_session_status(&s);
	cli_session_free(&s);
	return status;
}

int main(int argc, char **argv)
{
	struct cli_options o;
	int status;

	memset(&o, 0, sizeof(o));
	signal(SIGPIPE, SIG_IGN);
	set_utf8_ctype();
	status = parse_options(&o, argc, argv);
	if (status < 0) {
		if (optind < argc && strcmp(argv[optind], "bench") == 0)
			status = cli_bench_main(argc - optind, argv + optind, o.socket_path);
		else if (optind < argc) {
			fprintf(stderr, "pgcoalesce-cli: unexpected argument \"%s\"\n"
				"Try \"pgcoalesce-cli --help\" for more information.\n", argv[optind]);
			status = 2;
		} else
			status = run_session(&o);
	}
	fflush(stdout);
	free(o.actions);
	return status;
}
