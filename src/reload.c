/*
 * reload.c — SIGHUP re-reads the config file (see reload.h).
 */
#include "reload.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "sidecar.h"

/* One option that differs, kept until the new log settings are in effect. */
struct change {
	enum config_change what;
	char *option, *old_value, *new_value, *by;
};

struct changes {
	struct change *v;
	size_t n;
};

static void collect_change(void *arg, enum config_change what, const char *option,
			   const char *old_value, const char *new_value, const char *by)
{
	struct changes *ch = arg;
	struct change *c;

	ch->v = pgc_realloc(ch->v, (ch->n + 1) * sizeof(*ch->v));
	c = &ch->v[ch->n++];
	c->what = what;
	c->option = pgc_strdup(option);
	c->old_value = pgc_strdup(old_value);
	c->new_value = pgc_strdup(new_value);
	c->by = pgc_strdup(by);
}

static void log_changes(struct changes *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++) {
		struct change *c = &ch->v[i];
		switch (c->what) {
		case CHANGE_APPLIED:
			log_info("config option changed", "option=%s old=%s new=%s", c->option,
				 log_q(c->old_value), log_q(c->new_value));
			break;
		case CHANGE_RESTART:
			log_warn("config option needs a restart: not applied", "option=%s current=%s new=%s",
				 c->option, log_q(c->old_value), log_q(c->new_value));
			break;
		case CHANGE_OVERRIDDEN:
			log_info("config file value not applied: overridden", "option=%s value=%s file=%s by=%s",
				 c->option, log_q(c->old_value), log_q(c->new_value), log_q(c->by));
			break;
		}
		free(c->option);
		free(c->old_value);
		free(c->new_value);
		free(c->by);
	}
	free(ch->v);
}

/* The live configuration changed: hand the new values to whoever caches them. */
static void reload_propagate(struct sidecar *sc)
{
	const struct config *cfg = sc->cfg;

	log_set_level((enum log_level)cfg->log_level);
	log_set_format((enum log_format)cfg->log_format);
	group_registry_reconfigure(&sc->groups, (double)cfg->max_delay_ms / 1000.0,
				   (size_t)cfg->max_batch_rows, (size_t)cfg->max_batch_bytes,
				   cfg->eager_flush);
	sc->paused_clients = true; /* re-check backpressure with the new limits before sleeping */
}

void reload_config(struct sidecar *sc)
{
	struct config next, file_only;
	struct changes ch = { NULL, 0 };
	char err[1024];
	bool have_file_only;
	size_t applied;

	if (!sc->cfg->config_file) {
		log_info("SIGHUP: no --config file to re-read", "config=%s", "none");
		return;
	}
	if (!config_reload(sc->cfg, &next, err, sizeof(err))) {
		sc->stats.config_reload_errors++;
		sc->stats.config_last_reload_ok = false;
		log_error("config reload failed: the running configuration stays", "file=%s error=%s",
			  log_q(sc->cfg->config_file), log_q(err));
		return;
	}
	have_file_only = config_load_file_only(sc->cfg, &file_only, err, sizeof(err));
	applied = config_apply_reloadable(sc->cfg, &next, have_file_only ? &file_only : NULL,
					  collect_change, &ch);
	reload_propagate(sc);
	sc->stats.config_reloads++;
	sc->stats.config_last_reload_ok = true;
	log_info("config reloaded", "file=%s applied=%zu", log_q(sc->cfg->config_file), applied);
	log_changes(&ch);
	config_free(&next);
	if (have_file_only)
		config_free(&file_only);
}

static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct reload *r = w->data;

	reload_config(r->sc);
}

void reload_start(struct reload *r, struct sidecar *sc)
{
	r->sc = sc;
	ev_signal_init(&r->sig_hup, sighup_cb, SIGHUP);
	r->sig_hup.data = r;
	ev_signal_start(sc->loop, &r->sig_hup);
}

void reload_stop(struct reload *r)
{
	if (r->sc)
		ev_signal_stop(r->sc->loop, &r->sig_hup);
	r->sc = NULL;
}
