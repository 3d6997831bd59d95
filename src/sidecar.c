/*
 * sidecar.c — the daemon's context: request dispatch, row completion,
 * backpressure and shutdown (see sidecar.h).
 */
#include "sidecar.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "flush.h"
#include "log.h"

#define SWEEP_INTERVAL 0.1   /* seconds between retry-timeout checks */

/* ---- responses ---- */

static void reply_error(struct sidecar *sc, struct client *c, const char *id_json,
			const char *code, const char *message)
{
	buf_reset(&sc->scratch);
	ack_error(&sc->scratch, id_json, code, message);
	client_send_line(c, sc->scratch.data, sc->scratch.len);
	stats_request_rejected(&sc->stats, code);
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
	if (sc->cfg->overload == OVERLOAD_REJECT && (long)sc->pending_rows >= sc->cfg->max_pending_rows) {
		reply_error(sc, c, req->id_json, PC_OVERLOADED,
			    "too many pending rows (--max-pending-rows); retry later");
		return;
	}
	req->row = NULL;
	r->client = c;
	r->seq = ++sc->next_seq;
	c->pending_rows++;
	sc->pending_rows++;
	req->group->pending++;
	stats_row_received(&sc->stats, &req->group->stats);
	group_add_row(&sc->groups, req->group, r);
}

static void handle_flush(struct sidecar *sc, struct client *c, struct request *req)
{
	struct flush_waiter *w;

	if (!sc->pending_rows) {
		reply_ok(sc, c, req->id_json, NULL);
		return;
	}
	w = pgc_calloc(1, sizeof(*w));
	w->client = c;
	w->id_json = pgc_strdup(req->id_json);
	w->upto_seq = sc->next_seq;
	w->remaining = sc->pending_rows; /* every pending row has seq <= upto_seq */
	c->pending_rows++;               /* keeps the client alive until answered */
	w->next = sc->waiters;
	sc->waiters = w;
	group_make_all_ready(&sc->groups);
}

void sidecar_handle_line(struct sidecar *sc, struct client *c, const char *line, size_t len)
{
	struct request req;

	request_decode(&sc->decoder, line, len, ev_now(sc->loop), &req);
	if (req.err_code) {
		reply_error(sc, c, req.id_json, req.err_code, req.err_message);
	} else {
		switch (req.op) {
		case OP_INSERT:
			handle_insert(sc, c, &req);
			break;
		case OP_PING:
			reply_ok(sc, c, req.id_json, sc->pool.up ? ",\"db\":\"up\"" : ",\"db\":\"down\"");
			break;
		case OP_FLUSH:
			handle_flush(sc, c, &req);
			break;
		case OP_STATS:
			buf_reset(&sc->scratch);
			buf_printf(&sc->scratch, "{\"id\":%s,\"ok\":true", req.id_json);
			metrics_stats_json(sc, &sc->scratch);
			buf_putc(&sc->scratch, '}');
			client_send_line(c, sc->scratch.data, sc->scratch.len);
			break;
		}
	}
	request_clear(&req);
}

void sidecar_line_too_long(struct sidecar *sc, struct client *c)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "request line longer than --max-request-bytes (%ld)",
		 sc->cfg->max_request_bytes);
	reply_error(sc, c, "null", PC_REQUEST_TOO_LARGE, msg);
}

bool sidecar_may_read(struct sidecar *sc, struct client *c)
{
	/* a client not reading its acks is not read either (soft limit: half the hard one) */
	if ((long)c->out.len > sc->cfg->max_client_output_bytes / 2)
		return false;
	if (sc->cfg->overload != OVERLOAD_BLOCK || sc->shutting_down)
		return true;
	return (long)sc->pending_rows < sc->cfg->max_pending_rows || c->pending_rows == 0;
}

/* ---- row completion ---- */

static void waiters_row_done(struct sidecar *sc, uint64_t seq)
{
	struct flush_waiter **pw = &sc->waiters, *w;

	while ((w = *pw)) {
		if (seq <= w->upto_seq && --w->remaining == 0) {
			*pw = w->next;
			reply_ok(sc, w->client, w->id_json, NULL);
			client_row_done(w->client);
			free(w->id_json);
			free(w);
			continue;
		}
		pw = &w->next;
	}
}

void row_complete(struct sidecar *sc, struct row *r, struct group *g, bool ok)
{
	char code[6];

	if (ok) {
		buf_reset(&sc->scratch);
		ack_ok(&sc->scratch, r->id_json, r->result.data, r->result.len);
		client_send_line(r->client, sc->scratch.data, sc->scratch.len);
	} else {
		client_send_line(r->client, r->result.data, r->result.len);
		ack_error_code(r->result.data, r->result.len, code);
	}
	stats_row_done(&sc->stats, &g->stats, ok ? NULL : code, ev_now(sc->loop) - r->accepted_at);
	g->pending--;
	sc->pending_rows--;
	if (sc->waiters)
		waiters_row_done(sc, r->seq);
	client_row_done(r->client);
	row_free(r);
}

void row_fail(struct sidecar *sc, struct row *r, struct group *g, const char *code,
	      const char *message)
{
	buf_reset(&r->result);
	ack_error(&r->result, r->id_json, code, message);
	row_complete(sc, r, g, false);
}

/* ---- the loop ---- */

/* Clients paused by backpressure read again once they may (see sidecar_may_read). */
static void resume_paused_clients(struct sidecar *sc)
{
	struct client *c, *next;

	if (!sc->paused_clients)
		return;
	sc->paused_clients = false;
	for (c = sc->clients; c; c = next) {
		next = c->next;
		if (!c->read_paused)
			continue;
		if (sidecar_may_read(sc, c))
			client_resume(c);
		else
			sc->paused_clients = true;
	}
}

static bool output_pending(const struct sidecar *sc)
{
	const struct client *c;

	for (c = sc->clients; c; c = c->next)
		if (c->out.len)
			return true;
	return false;
}

/* Before the loop blocks: start flushes, write acks, free, maybe exit. */
static void before_sleep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct sidecar *sc = w->data;

	resume_paused_clients(sc);
	flush_schedule(sc);
	client_flush_output(sc);
	client_reap(sc);
	group_sweep(&sc->groups, ev_now(loop));
	if (sc->shutting_down && !sc->pending_rows && !flush_in_flight(sc) &&
	    (!output_pending(sc) || sc->shutdown_expired)) {
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
			 sc->pending_rows);
		sc->shutdown_expired = true;
		flush_abandon_all(sc);
		/* one more second to write the last acks */
		ev_timer_set(w, 1.0, 0.);
		ev_timer_start(loop, w);
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct sidecar *sc = w->data;

	if (sc->shutting_down) {
		log_info("shutdown already in progress", "signal=%d pending_rows=%zu", w->signum,
			 sc->pending_rows);
		return;
	}
	sc->shutting_down = true;
	log_info("shutting down: flushing pending rows", "signal=%d pending_rows=%zu", w->signum,
		 sc->pending_rows);
	server_close(&sc->server, loop);
	group_make_all_ready(&sc->groups);
	ev_timer_set(&sc->shutdown_timer, (double)sc->cfg->shutdown_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &sc->shutdown_timer);
}

static void sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	flush_expire_waiting(w->data);
}

static void on_group_ready(void *arg)
{
	(void)arg; /* flushes start in before_sleep_cb, never from inside a callback */
}

bool sidecar_init(struct sidecar *sc, struct ev_loop *loop, struct config *cfg)
{
	memset(sc, 0, sizeof(*sc));
	sc->loop = loop;
	sc->cfg = cfg;
	stats_init(&sc->stats, ev_time());
	buf_init(&sc->scratch);
	/* signals first: once the socket accepts, a SIGTERM or SIGHUP must not kill us */
	ev_signal_init(&sc->sig_term, signal_cb, SIGTERM);
	ev_signal_init(&sc->sig_int, signal_cb, SIGINT);
	sc->sig_term.data = sc->sig_int.data = sc;
	ev_signal_start(loop, &sc->sig_term);
	ev_signal_start(loop, &sc->sig_int);
	reload_start(&sc->reload, sc);
	if (!server_listen(&sc->server, cfg->socket_path, cfg->socket_mode))
		return false;
	if (!metrics_start(&sc->metrics, sc)) {
		server_close(&sc->server, loop);
		return false;
	}
	group_registry_init(&sc->groups, loop, (double)cfg->max_delay_ms / 1000.0,
			    (size_t)cfg->max_batch_rows, (size_t)cfg->max_batch_bytes,
			    on_group_ready, sc);
	group_registry_set_eager(&sc->groups, cfg->eager_flush);
	request_decoder_init(&sc->decoder, &sc->groups, cfg);
	flush_init(sc);
	server_start(&sc->server, sc);

	ev_prepare_init(&sc->before_sleep, before_sleep_cb);
	sc->before_sleep.data = sc;
	ev_prepare_start(loop, &sc->before_sleep);
	ev_timer_init(&sc->shutdown_timer, shutdown_timeout_cb, 0., 0.);
	sc->shutdown_timer.data = sc;
	ev_timer_init(&sc->sweep_timer, sweep_cb, SWEEP_INTERVAL, SWEEP_INTERVAL);
	sc->sweep_timer.data = sc;
	ev_timer_start(loop, &sc->sweep_timer);
	return true;
}

int sidecar_run(struct sidecar *sc)
{
	const char *metrics = metrics_address(&sc->metrics);

	log_info("listening", "socket=%s connections=%ld max_batch_rows=%ld max_delay_ms=%ld "
		 "eager_flush=%s dsn_from=%s config=%s metrics=%s version=%s",
		 log_q(sc->cfg->socket_path), sc->cfg->connections, sc->cfg->max_batch_rows,
		 sc->cfg->max_delay_ms, sc->cfg->eager_flush ? "on" : "off", log_q(sc->cfg->dsn_source),
		 log_q(sc->cfg->config_file ? sc->cfg->config_file : ""),
		 log_q(metrics ? metrics : "off"), PGC_VERSION);
	ev_run(sc->loop, 0);
	return 0;
}

void sidecar_free(struct sidecar *sc)
{
	struct client *c, *next;

	server_close(&sc->server, sc->loop);
	metrics_stop(&sc->metrics);
	reload_stop(&sc->reload);
	for (c = sc->clients; c; c = next) {
		next = c->next;
		client_close(c, "shutdown");
	}
	flush_free(sc);
	client_flush_output(sc);
	client_reap(sc);
	request_decoder_free(&sc->decoder);
	group_registry_free(&sc->groups);
	ev_timer_stop(sc->loop, &sc->sweep_timer);
	ev_timer_stop(sc->loop, &sc->shutdown_timer);
	ev_prepare_stop(sc->loop, &sc->before_sleep);
	ev_signal_stop(sc->loop, &sc->sig_term);
	ev_signal_stop(sc->loop, &sc->sig_int);
	buf_free(&sc->scratch);
}
