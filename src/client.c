/*
 * client.c — per-connection framing and ack output (see client.h).
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sidecar.h"

#define CLIENT_READ_CHUNK 65536

static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents);

struct client *client_new(struct sidecar *sc, int fd)
{
	struct client *c = pgc_calloc(1, sizeof(*c));

	c->sc = sc;
	c->fd = fd;
	c->id = ++sc->next_client_id;
	linebuf_init(&c->in, (size_t)sc->cfg->max_request_bytes);
	buf_init(&c->out);
	ev_io_init(&c->rio, client_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, client_write_cb, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	c->next = sc->clients;
	if (sc->clients)
		sc->clients->prev = c;
	sc->clients = c;
	sc->nclients++;
	sc->stats.clients_total++;
	log_info("client connected", "client=%llu clients=%zu", (unsigned long long)c->id, sc->nclients);
	client_resume(c);
	return c;
}

static void client_unlink(struct client *c)
{
	struct sidecar *sc = c->sc;

	if (c->prev)
		c->prev->next = c->next;
	else
		sc->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	sc->nclients--;
}

/* Schedule for freeing at the loop boundary if nothing refers to it. */
static void client_maybe_free(struct client *c)
{
	if (c->state != CLIENT_CLOSED || c->pending_rows || c->in_free_list)
		return;
	c->in_free_list = true;
	c->free_next = c->sc->free_list;
	c->sc->free_list = c;
}

void client_close(struct client *c, const char *reason)
{
	struct ev_loop *loop = c->sc->loop;

	if (c->state == CLIENT_CLOSED)
		return;
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	c->state = CLIENT_CLOSED;
	client_unlink(c);
	log_info("client closed", "client=%llu reason=%s pending_rows=%zu",
		  (unsigned long long)c->id, log_q(reason), c->pending_rows);
	buf_free(&c->out);
	linebuf_free(&c->in);
	client_maybe_free(c);
}

void client_row_done(struct client *c)
{
	c->pending_rows--;
	client_maybe_free(c);
}

void client_reap(struct sidecar *sc)
{
	struct client *c;

	/* runs after client_flush_output emptied out_list, so no list refers to c */
	while ((c = sc->free_list)) {
		sc->free_list = c->free_next;
		free(c);
	}
}

void client_send_line(struct client *c, const char *line, size_t len)
{
	if (c->state == CLIENT_CLOSED)
		return;
	buf_reserve(&c->out, len + 1);
	buf_append(&c->out, line, len);
	buf_putc(&c->out, '\n');
	if ((long)c->out.len > c->sc->cfg->max_client_output_bytes) {
		log_warn("client disconnected: not reading its acks", "client=%llu unread_bytes=%zu",
			 (unsigned long long)c->id, c->out.len);
		client_close(c, "output limit");
		return;
	}
	if (!c->in_out_list) {
		c->in_out_list = true;
		c->out_next = c->sc->out_list;
		c->sc->out_list = c;
	}
}

/* Write what we can; true if the client is still usable. */
static bool client_write(struct client *c)
{
	ssize_t n;

	while (c->out.len) {
		n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ev_io_start(c->sc->loop, &c->wio);
				return true;
			}
			client_close(c, strerror(errno));
			return false;
		}
		buf_consume(&c->out, (size_t)n);
	}
	ev_io_stop(c->sc->loop, &c->wio);
	if (c->read_paused)
		c->sc->paused_clients = true; /* resumed before the loop sleeps, if allowed */
	if (c->state == CLIENT_INPUT_DONE && !c->pending_rows)
		client_close(c, "done");
	return true;
}

void client_flush_output(struct sidecar *sc)
{
	struct client *c;

	while ((c = sc->out_list)) {
		sc->out_list = c->out_next;
		c->in_out_list = false;
		if (c->state != CLIENT_CLOSED)
			client_write(c);
	}
}

static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	client_write(w->data);
}

/* Hand buffered lines to the sidecar while it lets us. */
static void client_process_lines(struct client *c)
{
	const char *line;
	size_t len;
	enum linebuf_status st;

	while (c->state != CLIENT_CLOSED && sidecar_may_read(c->sc, c)) {
		st = linebuf_next(&c->in, &line, &len);
		if (st == LINEBUF_NEED_MORE)
			break;
		if (st == LINEBUF_TOO_LONG)
			sidecar_line_too_long(c->sc, c);
		else
			sidecar_handle_line(c->sc, c, line, len);
	}
}

/* Peer closed its side: a last line without newline is still a request. */
static void client_input_done(struct client *c)
{
	const char *line;
	size_t len;

	if (linebuf_pending(&c->in)) {
		linebuf_feed(&c->in, "\n", 1);
		client_process_lines(c);
		if (c->state == CLIENT_CLOSED)
			return;
		if (linebuf_next(&c->in, &line, &len) != LINEBUF_NEED_MORE)
			return; /* paused with lines left: resumed later */
	}
	c->state = CLIENT_INPUT_DONE;
	ev_io_stop(c->sc->loop, &c->rio);
	if (!c->pending_rows && !c->out.len)
		client_close(c, "peer closed");
}

static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;
	ssize_t n;

	n = linebuf_read(&c->in, c->fd, CLIENT_READ_CHUNK);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			client_close(c, strerror(errno));
		return;
	}
	if (n == 0) {
		client_input_done(c);
		return;
	}
	client_process_lines(c);
	if (c->state != CLIENT_CLOSED && !sidecar_may_read(c->sc, c))
		client_pause(c);
}

void client_pause(struct client *c)
{
	if (c->state != CLIENT_OPEN || c->read_paused)
		return;
	c->read_paused = true;
	c->sc->paused_clients = true;
	ev_io_stop(c->sc->loop, &c->rio);
}

void client_resume(struct client *c)
{
	if (c->state != CLIENT_OPEN)
		return;
	c->read_paused = false;
	client_process_lines(c);
	if (c->state != CLIENT_OPEN)
		return;
	if (!sidecar_may_read(c->sc, c)) {
		client_pause(c);
		return;
	}
	ev_io_start(c->sc->loop, &c->rio);
}
