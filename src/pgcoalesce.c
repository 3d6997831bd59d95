/*
 * pgcoalesce.c — the daemon's main(): options, loop, exit status.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libpq-fe.h>

#include "config.h"
#include "keys.h"
#include "log.h"
#include "sidecar.h"

/*
 * The loop has ended and the exit status is decided. Stopping the signal
 * watchers puts SIGTERM/SIGINT/SIGHUP back to their default (kill), so a
 * signal in the time it takes to free everything (long under ASan's leak
 * check) would turn a clean exit into death by that signal. Blocked, it stays
 * pending and dies with the process.
 */
static void block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Is any variable libpq reads a connection parameter from set (and not empty)? */
static bool libpq_env_set(const PQconninfoOption *opts)
{
	const char *v;

	for (; opts && opts->keyword; opts++)
		if (opts->envvar && (v = getenv(opts->envvar)) && *v)
			return true;
	return false;
}

/* libpq's default for `keyword` (what it uses with nothing configured). */
static const char *libpq_default(const PQconninfoOption *opts, const char *keyword)
{
	for (; opts && opts->keyword; opts++)
		if (strcmp(opts->keyword, keyword) == 0 && opts->val && *opts->val)
			return opts->val;
	return "?";
}

/*
 * With no database configured anywhere (no --dsn, PGCOALESCE_DSN,
 * DATABASE_URL, config file `dsn`, nor any PG* variable of libpq), say so
 * once at start: libpq then tries its defaults (the local socket), which in
 * a container or a fresh install is rarely what was meant, and the retries
 * alone would only show up as "database unreachable" every 30 s. An explicit
 * empty --dsn "" counts as configured (it asks for those defaults), an empty
 * PG* variable does not (as PGCOALESCE_* ones). Then it carries on as ever:
 * listens, retries, and ping answers "db":"down" meanwhile.
 */
static void warn_if_no_database(const struct config *cfg)
{
	PQconninfoOption *opts;
	char fallback[300];

	if (!cfg->dsn_from_libpq_env)
		return;
	opts = PQconndefaults();
	if (!opts || !libpq_env_set(opts)) {
		snprintf(fallback, sizeof(fallback), "libpq's defaults: the local Unix socket, port %s, "
			 "user and database %s; retrying until it answers",
			 libpq_default(opts, "port"), libpq_default(opts, "user"));
		log_error("no database configured", "looked_for=%s fallback=%s",
			  log_q("--dsn, PGCOALESCE_DSN, DATABASE_URL, the config file's dsn, libpq's PGHOST, "
				"PGHOSTADDR, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGPASSFILE, PGSERVICE "
				"and its other PG* variables"),
			  log_q(fallback));
	}
	PQconninfoFree(opts);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct sidecar sc;
	struct ev_loop *loop;
	int rc;

	switch (config_load(&cfg, argc, argv)) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CONFIG_EXIT_USAGE:
		config_free(&cfg);
		return 2;
	}
	if (cfg.init_db) {
		rc = keys_init_db(cfg.dsn);
		config_free(&cfg);
		return rc;
	}
	log_set_level((enum log_level)cfg.log_level);
	log_set_format((enum log_format)cfg.log_format);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	warn_if_no_database(&cfg);

	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		fprintf(stderr, "pgcoalesce: cannot initialise the event loop\n");
		config_free(&cfg);
		return 1;
	}
	if (!sidecar_init(&sc, loop, &cfg)) {
		config_free(&cfg);
		return 1;
	}
	rc = sidecar_run(&sc);
	block_stop_signals();
	sidecar_free(&sc);
	ev_loop_destroy(loop);
	config_free(&cfg);
	return rc;
}
