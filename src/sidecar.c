/*
 * sidecar.c — the daemon: request dispatch, backpressure and shutdown
 * (see sidecar.h).
 */
#include "sidecar.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "errdata.h"
#include "log.h"

#define SWEEP_INTERVAL 0.1   /* seconds between retry-timeout checks */
#define STOP_NOW_GRACE 1.0   /* seconds a COMMIT in flight gets after a second signal */

/* ---- responses ---- */

static void reply_error(struct sidecar *sc, struct client *c, const char *id_json,
			enum pc_code pc, const char *message)
{
	struct errdata e = { 0 };

	errdata_set_pc(&e, pc, "%s", message);
	buf_reset(&sc->scratch);
	ack_error(&sc->scratch, id_json, &e);
	client_send_line(c, sc->scratch.data, sc->scratch.len);
	stats_request_rejected(&sc->stats, pc);
	errdata_clear(&e);
}

static void reply_ok(struct sidecar *sc, struct client *c, const char *id_json, const char *extra)
{
	buf_reset(&sc->scratch);
	buf_printf(&sc->scratch, "{\"id\":%s,\"ok\":true%s}", id_json, extra ? extra : "");
	client_send_line(c, sc->scratch.data, sc->scratch.len);
}

/* ---- requests ---- */

static void handle_insert(struct sidecar *sc, struct client *c, struct request *req)
{
	struct row *r = req->row;

	if (sc->shutting_down) {
		reply_error(sc, c, req->id_json, PC_SHUTTING_DOWN, "the sidecar is shutting down");
		return;
	}
	if (sc->cfg->overload == OVERLOAD_REJECT && sc->ledger.pending_rows >= sc->cfg->max_pending_rows) {
		reply_error(sc, c, req->id_json, PC_OVERLOADED,
			    "too many pending rows (--max-pending-rows); retry later");
		return;
	}
	req->row = NULL;
	if (ledger_accept(&sc->ledger, r, req->group, c))
		group_add_row(&sc->groups, req->group, r);
}

static void handle_stats(struct sidecar *sc, struct client *c, struct request *req)
{
	buf_reset(&sc->scratch);
	buf_printf(&sc->scratch, "{\"id\":%s,\"ok\":true", req->id_json);
	metrics_stats_json(&sc->metrics, &sc->scratch);
	buf_putc(&sc->scratch, '}');
	client_send_line(c, sc->scratch.data, sc->scratch.len);
}

static void handle_describe(struct sidecar *sc, struct client *c, struct request *req)
{
	if (sc->shutting_down)
		reply_error(sc, c, req->id_json, PC_SHUTTING_DOWN, "the sidecar is shutting down");
	else if (!flush_db_up(&sc->flusher))
		reply_error(sc, c, req->id_json, PC_DATABASE_UNAVAILABLE,
			    "no database connection is up to describe the table");
	else
		flush_describe(&sc->flusher, c, req->id_json, req->group->schema, req->group->table);
}

/* client_ops.on_line: one request line. */
static void sidecar_on_line(void *arg, struct client *c, const char *line, size_t len)
{
	struct sidecar *sc = arg;
	struct request req;

	request_decode(&sc->decoder, line, len, ev_now(sc->loop), &req);
	if (req.err) {
		reply_error(sc, c, req.id_json, req.err, req.err_message);
	} else {
		switch (req.op) {
		case OP_INSERT:
			handle_insert(sc, c, &req);
			break;
		case OP_PING:
			/* the extensions of v1 this sidecar has (docs/PROTOCOL.md, ping) */
			reply_ok(sc, c, req.id_json, flush_db_up(&sc->flusher) ?
				 ",\"db\":\"up\",\"features\":[\"describe\",\"on_conflict\",\"key\"]" :
				 ",\"db\":\"down\",\"features\":[\"describe\",\"on_conflict\",\"key\"]");
			break;
		case OP_FLUSH:
			ledger_wait(&sc->ledger, c, req.id_json);
			group_make_all_ready(&sc->groups); /* start the flushes now, not at their deadlines */
			break;
		case OP_STATS:
			handle_stats(sc, c, &req);
			break;
		case OP_DESCRIBE:
			handle_describe(sc, c, &req);
			break;
		}
	}
	request_clear(&req);
}

/* client_ops.on_too_long: the line exceeded --max-request-bytes. */
static void sidecar_on_too_long(void *arg, struct client *c)
{
	struct sidecar *sc = arg;
	char msg[128];

	snprintf(msg, sizeof(msg), "request line longer than --max-request-bytes (%zu)",
		 sc->cfg->max_request_bytes);
	reply_error(sc, c, "null", PC_REQUEST_TOO_LARGE, msg);
}

/*
 * client_ops.may_read: backpressure. With --overload block, at
 * --max-pending-rows clients with rows pending are not read; the others
 * are, so ping and stats keep answering.
 */
static bool sidecar_may_read(void *arg, const struct client *c)
{
	struct sidecar *sc = arg;

	if (sc->cfg->overload != OVERLOAD_BLOCK || sc->shutting_down)
		return true;
	return sc->ledger.pending_rows < sc->cfg->max_pending_rows || c->pending_rows == 0;
}

/* ---- the loop ---- */

/* The batches ended since the last look: their size says the load (cpusched.h). */
static void sidecar_follow_load(struct sidecar *sc)
{
	const struct histogram *h = &sc->stats.batch_rows;

	if (h->count == sc->seen_batches)
		return;
	cpusched_follow(&sc->cpu, (h->sum - sc->seen_batch_rows) / (double)(h->count - sc->seen_batches),
			sc->cfg->max_batch_rows);
	sc->seen_batches = h->count;
	sc->seen_batch_rows = h->sum;
}

/* Before the loop blocks: read, start flushes, write acks, free, maybe exit. */
static void before_sleep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct sidecar *sc = w->data;

	client_set_read_ready(&sc->clients);
	client_set_resume_paused(&sc->clients);
	flush_schedule(&sc->flusher);
	client_set_flush_output(&sc->clients);
	client_set_reap(&sc->clients);
	group_sweep(&sc->groups, ev_now(loop));
	sidecar_follow_load(sc);
	if (sc->shutting_down && !sc->ledger.pending_rows && !flush_in_flight(&sc->flusher) &&
	    (!client_set_output_pending(&sc->clients) || sc->shutdown_expired)) {
		log_info("shutdown complete", "rows_committed=%llu rows_failed=%llu",
			 (unsigned long long)sc->stats.rows_committed,
			 (unsigned long long)sc->stats.rows_failed);
		ev_break(loop, EVBREAK_ALL);
	}
}

static void shutdown_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sidecar *sc = w->data;

	if (!sc->shutdown_expired) {
		log_warn("shutdown timeout: failing rows not yet written", "pending_rows=%zu",
			 sc->ledger.pending_rows);
		sc->shutdown_expired = true;
		flush_abandon_all(&sc->flusher);
		/* one more second to write the last acks */
		ev_timer_set(w, 1.0, 0.);
		ev_timer_start(loop, w);
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

/*
 * A second SIGTERM/SIGINT while draining means "now" (as PgBouncer and
 * PostgreSQL take it): rows not yet in a COMMIT get PC005 at once, COMMITs
 * in flight get a second to report their outcome (then PC007), the acks
 * another second to be written.
 */
static void stop_now(struct sidecar *sc, int signum)
{
	if (sc->stopping_now || sc->shutdown_expired) {
		log_info("stop already in progress", "signal=%d pending_rows=%zu", signum, sc->ledger.pending_rows);
		return;
	}
	sc->stopping_now = true;
	log_warn("second signal: stopping now", "signal=%d pending_rows=%zu", signum, sc->ledger.pending_rows);
	flush_stop_now(&sc->flusher);
	ev_timer_stop(sc->loop, &sc->shutdown_timer);
	ev_timer_set(&sc->shutdown_timer, STOP_NOW_GRACE, 0.);
	ev_timer_start(sc->loop, &sc->shutdown_timer);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct sidecar *sc = w->data;

	if (sc->shutting_down) {
		stop_now(sc, w->signum);
		return;
	}
	sc->shutting_down = true;
	log_info("shutting down: flushing pending rows", "signal=%d pending_rows=%zu", w->signum,
		 sc->ledger.pending_rows);
	server_close(&sc->server, loop);
	server_close(&sc->tcp, loop);
	group_make_all_ready(&sc->groups);
	ev_timer_set(&sc->shutdown_timer, sc->cfg->shutdown_timeout, 0.);
	ev_timer_start(loop, &sc->shutdown_timer);
}

static void sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sidecar *sc = w->data;

	flush_expire_waiting(&sc->flusher);
}

/* reload's on_applied: hand the reloaded limits to whoever caches them. */
static void sidecar_reloaded(void *arg)
{
	struct sidecar *sc = arg;
	const struct config *cfg = sc->cfg;

	group_registry_reconfigure(&sc->groups, cfg->max_delay, cfg->max_batch_rows,
				   cfg->max_batch_bytes, cfg->eager_flush);
	client_set_recheck(&sc->clients); /* backpressure with the new limits, before sleeping */
	cpusched_set_wanted(&sc->cpu, cfg->sched_batch);
}

static void sidecar_init_hooks(struct sidecar *sc)
{
	ev_prepare_init(&sc->before_sleep, before_sleep_cb);
	sc->before_sleep.data = sc;
	ev_prepare_start(sc->loop, &sc->before_sleep);
	ev_timer_init(&sc->shutdown_timer, shutdown_timeout_cb, 0., 0.);
	sc->shutdown_timer.data = sc;
	ev_timer_init(&sc->sweep_timer, sweep_cb, SWEEP_INTERVAL, SWEEP_INTERVAL);
	sc->sweep_timer.data = sc;
	ev_timer_start(sc->loop, &sc->sweep_timer);
}

bool sidecar_init(struct sidecar *sc, struct ev_loop *loop, struct config *cfg)
{
	struct client_ops ops = {
		.on_line = sidecar_on_line, .on_too_long = sidecar_on_too_long,
		.may_read = sidecar_may_read, .arg = sc,
	};
	struct metrics_src src = {
		.loop = loop, .cfg = cfg, .stats = &sc->stats, .groups = &sc->groups,
		.ledger = &sc->ledger, .flusher = &sc->flusher, .clients = &sc->clients,
	};

	memset(sc, 0, sizeof(*sc));
	sc->loop = loop;
	sc->cfg = cfg;
	stats_init(&sc->stats, ev_time());
	cpusched_init(&sc->cpu, cfg->sched_batch);
	buf_init(&sc->scratch);
	/* signals first: once the socket accepts, a SIGTERM or SIGHUP must not kill us */
	ev_signal_init(&sc->sig_term, signal_cb, SIGTERM);
	ev_signal_init(&sc->sig_int, signal_cb, SIGINT);
	sc->sig_term.data = sc->sig_int.data = sc;
	ev_signal_start(loop, &sc->sig_term);
	ev_signal_start(loop, &sc->sig_int);
	reload_start(&sc->reload, loop, cfg, &sc->stats, sidecar_reloaded, sc);
	if (!server_listen(&sc->server, cfg->socket_path, cfg->socket_mode))
		return false;
	if (cfg->listen && !server_listen_tcp(&sc->tcp, cfg->listen, cfg->listen_remote)) {
		server_close(&sc->server, loop);
		return false;
	}
	src.listen_address = cfg->listen ? sc->tcp.socks.address : NULL;
	if (!metrics_start(&sc->metrics, &src)) {
		server_close(&sc->server, loop);
		server_close(&sc->tcp, loop);
		return false;
	}
	client_set_init(&sc->clients, loop, cfg, &ops);
	group_registry_init(&sc->groups, loop, cfg->max_delay, cfg->max_batch_rows, cfg->max_batch_bytes);
	group_registry_set_eager(&sc->groups, cfg->eager_flush);
	request_decoder_init(&sc->decoder, &sc->groups, cfg);
	ledger_init(&sc->ledger, loop, &sc->stats);
	flush_init(&sc->flusher, loop, cfg, &sc->stats, &sc->ledger, &sc->groups);
	server_start(&sc->server, loop, cfg, &sc->clients);
	if (cfg->listen)
		server_start(&sc->tcp, loop, cfg, &sc->clients);
	sidecar_init_hooks(sc);
	return true;
}

int sidecar_run(struct sidecar *sc)
{
	const char *metrics = metrics_address(&sc->metrics);
	char uring[160];
	char sched[96];

	log_info("listening", "socket=%s listen=%s connections=%zu max_batch_rows=%zu max_delay_ms=%.0f "
		 "eager_flush=%s write_path=%s io_uring=%s sched_batch=%s dsn_from=%s config=%s metrics=%s version=%s",
		 log_q(sc->cfg->socket_path), log_q(sc->cfg->listen ? sc->tcp.socks.address : "off"),
		 sc->cfg->connections, sc->cfg->max_batch_rows,
		 sc->cfg->max_delay * 1000.0, sc->cfg->eager_flush ? "on" : "off",
		 sc->cfg->write_path == WRITE_COPY ? "copy" : "unnest", log_q(client_set_io_uring_state(&sc->clients, uring, sizeof(uring))),
		 log_q(cpusched_state(&sc->cpu, sched, sizeof(sched))),
		 log_q(sc->cfg->dsn_source),
		 log_q(sc->cfg->config_file ? sc->cfg->config_file : ""),
		 log_q(metrics ? metrics : "off"), PGC_VERSION);
	ev_run(sc->loop, 0);
	return 0;
}

void sidecar_free(struct sidecar *sc)
{
	server_close(&sc->server, sc->loop);
	server_close(&sc->tcp, sc->loop);
	metrics_stop(&sc->metrics);
	reload_stop(&sc->reload);
	client_set_free(&sc->clients);
	flush_free(&sc->flusher);
	client_set_flush_output(&sc->clients);
	client_set_reap(&sc->clients);
	ledger_free(&sc->ledger);
	request_decoder_free(&sc->decoder);
	group_registry_free(&sc->groups);
	ev_timer_stop(sc->loop, &sc->sweep_timer);
	ev_timer_stop(sc->loop, &sc->shutdown_timer);
	ev_prepare_stop(sc->loop, &sc->before_sleep);
	ev_signal_stop(sc->loop, &sc->sig_term);
	ev_signal_stop(sc->loop, &sc->sig_int);
	buf_free(&sc->scratch);
}
