/*
 * pgcoalesce.c — the daemon's main(): options, loop, exit status.
 */
#include <signal.h>
#include <stdio.h>

#include <ev.h>

#include "config.h"
#include "log.h"
#include "sidecar.h"

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
	log_set_level((enum log_level)cfg.log_level);
	log_set_format((enum log_format)cfg.log_format);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);

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
	sidecar_free(&sc);
	ev_loop_destroy(loop);
	config_free(&cfg);
	return rc;
}
