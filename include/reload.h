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

#include <ev.h>

struct sidecar;

struct reload {
	struct sidecar *sc;
	ev_signal       sig_hup;
};

void reload_start(struct reload *r, struct sidecar *sc);
void reload_stop(struct reload *r);

/* What SIGHUP does (from the loop). */
void reload_config(struct sidecar *sc);

#endif /* PGC_RELOAD_H */
