/*
 * reload.h — SIGHUP: re-read the --config file and apply what can change
 * safely while running (config.c's table marks those options: batch limits,
 * delay, eager flush, backpressure limits, timeouts, allowed tables, log
 * level and format). Every change is logged; a changed option that needs a
 * restart is logged and not applied; a file that does not parse is logged
 * and the running configuration stays as it was.
 */
#ifndef PGC_RELOAD_H
#define PGC_RELOAD_H

#include <stdbool.h>

#include <ev.h>

#include "config.h"
#include "stats.h"

struct reload {
	struct ev_loop *loop;
	struct config  *cfg;        /* the live configuration, changed in place */
	struct stats   *stats;      /* config_reloads, config_reload_errors, config_last_reload_ok */
	/* Called after new values were applied: hand them to whoever caches them. */
	void          (*on_applied)(void *arg);
	void           *arg;
	ev_signal       sig_hup;
	bool            started;
};

void reload_start(struct reload *r, struct ev_loop *loop, struct config *cfg, struct stats *stats,
		  void (*on_applied)(void *arg), void *arg);
void reload_stop(struct reload *r);

/* What SIGHUP does (from the loop). */
void reload_config(struct reload *r);

#endif /* PGC_RELOAD_H */
