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
static void reload_propagate(struct reload *r)
{
	log_set_level((enum log_level)r->cfg->log_level);
	log_set_format((enum log_format)r->cfg->log_format);
	r->on_applied(r->arg);
}

void reload_config(struct reload *r)
{
	struct config next, file_only;
	struct changes ch = { NULL, 0 };
	char err[1024];
	bool have_file_only;
	size_t applied;

	if (!r->cfg->config_file) {
		log_info("SIGHUP: no --config file to re-read", "config=%s", "none");
		return;
	}
	if (!config_reload(r->cfg, &next, err, sizeof(err))) {
		r->stats->config_reload_errors++;
		r->stats->config_last_reload_ok = false;
		log_error("config reload failed: the running configuration stays", "file=%s error=%s",
			  log_q(r->cfg->config_file), log_q(err));
		return;
	}
	have_file_only = config_load_file_only(r->cfg, &file_only, err, sizeof(err));
	applied = config_apply_reloadable(r->cfg, &next, have_file_only ? &file_only : NULL,
					  collect_change, &ch);
	reload_propagate(r);
	r->stats->config_reloads++;
	r->stats->config_last_reload_ok = true;
	log_info("config reloaded", "file=%s applied=%zu", log_q(r->cfg->config_file), applied);
	log_changes(&ch);
	config_free(&next);
	if (have_file_only)
		config_free(&file_only);
}

static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	reload_config(w->data);
}

void reload_start(struct reload *r, struct ev_loop *loop, struct config *cfg, struct stats *stats,
		  void (*on_applied)(void *arg), void *arg)
{
	r->loop = loop;
	r->cfg = cfg;
	r->stats = stats;
	r->on_applied = on_applied;
	r->arg = arg;
	ev_signal_init(&r->sig_hup, sighup_cb, SIGHUP);
	r->sig_hup.data = r;
	ev_signal_start(loop, &r->sig_hup);
	r->started = true;
}

void reload_stop(struct reload *r)
{
	if (r->started)
		ev_signal_stop(r->loop, &r->sig_hup);
	r->started = false;
}
