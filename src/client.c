/*
 * client.c — per-connection framing and ack output (see client.h).
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define CLIENT_READ_CHUNK 65536
/*
 * Reads or writes per io_uring_enter: more clients take more calls. Each
 * read in flight has its own CLIENT_READ_CHUNK buffer, so this also bounds
 * those buffers (4 MiB).
 */
#define CLIENT_OPS_PER_CALL 64

static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_resume(struct client *c);

void client_set_init(struct client_set *set, struct ev_loop *loop, const struct config *cfg,
		     const struct client_ops *ops)
{
	memset(set, 0, sizeof(*set));
	set->loop = loop;
	set->cfg = cfg;
	set->ops = *ops;
	buf_init(&set->rbuf);
	uring_init(&set->uring, cfg->io_uring, CLIENT_OPS_PER_CALL, &set->uring_err);
	set->io = pgc_calloc(CLIENT_OPS_PER_CALL, sizeof(*set->io));
	set->rslots = pgc_calloc(CLIENT_OPS_PER_CALL, sizeof(*set->rslots));
}

struct client *client_new(struct client_set *set, int fd, bool tcp)
{
	struct client *c = pgc_calloc(1, sizeof(*c));

	c->set = set;
	c->fd = fd;
	c->tcp = tcp;
	set->n_tcp += tcp;
	c->id = ++set->total;
	linebuf_init(&c->in, set->cfg->max_request_bytes);
	buf_init(&c->out);
	ev_io_init(&c->rio, client_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, client_write_cb, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	c->next = set->clients;
	if (set->clients)
		set->clients->prev = c;
	set->clients = c;
	set->n++;
	log_info("client connected", "client=%llu clients=%zu transport=%s", (unsigned long long)c->id,
		 set->n, tcp ? "tcp" : "unix");
	client_resume(c);
	return c;
}

static void client_unlink(struct client *c)
{
	struct client_set *set = c->set;

	if (c->prev)
		c->prev->next = c->next;
	else
		set->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	set->n--;
	set->n_tcp -= c->tcp;
}

/* Schedule for freeing at the loop boundary if nothing refers to it. */
static void client_maybe_free(struct client *c)
{
	if (c->state != CLIENT_CLOSED || c->pending_rows || c->in_free_list)
		return;
	c->in_free_list = true;
	c->free_next = c->set->free_list;
	c->set->free_list = c;
}

void client_close(struct client *c, const char *reason)
{
	struct ev_loop *loop = c->set->loop;

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
	if (!c->in.shared)
		linebuf_free(&c->in); /* else client_read_cb frees it once the shared buffer is back */
	client_maybe_free(c);
}

void client_row_taken(struct client *c)
{
	c->pending_rows++;
}

void client_row_done(struct client *c)
{
	c->pending_rows--;
	client_maybe_free(c);
}

void client_set_reap(struct client_set *set)
{
	struct client *c;

	/* runs after client_set_flush_output emptied out_list, so no list refers to c */
	while ((c = set->free_list)) {
		set->free_list = c->free_next;
		free(c);
	}
}

void client_set_free(struct client_set *set)
{
	size_t i;

	while (set->clients)
		client_close(set->clients, "shutdown");
	client_set_flush_output(set);
	set->read_list = NULL; /* every client in it is closed */
	client_set_reap(set);
	buf_free(&set->rbuf);
	uring_free(&set->uring);
	for (i = 0; i < CLIENT_OPS_PER_CALL; i++)
		buf_free(&set->rslots[i]);
	free(set->rslots);
	free(set->io);
	set->rslots = NULL;
	set->io = NULL;
}

void client_send_line(struct client *c, const char *line, size_t len)
{
	struct client_set *set = c->set;

	if (c->state == CLIENT_CLOSED)
		return;
	buf_reserve(&c->out, len + 1);
	buf_append(&c->out, line, len);
	buf_putc(&c->out, '\n');
	if (c->out.len > set->cfg->max_client_output_bytes) {
		log_warn("client disconnected: not reading its acks", "client=%llu unread_bytes=%zu",
			 (unsigned long long)c->id, c->out.len);
		client_close(c, "output limit");
		return;
	}
	if (!c->in_out_list) {
		c->in_out_list = true;
		c->out_next = set->out_list;
		set->out_list = c;
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
				ev_io_start(c->set->loop, &c->wio);
				return true;
			}
			client_close(c, strerror(errno));
			return false;
		}
		buf_consume(&c->out, (size_t)n);
	}
	ev_io_stop(c->set->loop, &c->wio);
	if (c->read_paused)
		c->set->recheck = true; /* resumed before the loop sleeps, if allowed */
	if (c->state == CLIENT_INPUT_DONE && !c->pending_rows)
		client_close(c, "done");
	return true;
}

/* What one send of c's output returned (bytes, or -errno): account for it. */
static void client_wrote(struct client *c, ssize_t res)
{
	if (res == -EAGAIN || res == -EWOULDBLOCK) {
		ev_io_start(c->set->loop, &c->wio);
		return;
	}
	if (res < 0 && res != -EINTR) {
		client_close(c, strerror((int)-res));
		return;
	}
	if (res > 0)
		buf_consume(&c->out, (size_t)res);
	client_write(c); /* a short send's rest, and what follows an empty buffer */
}

typedef void client_io_done(struct client_set *set, size_t i, struct client *c, ssize_t res);

/* Run the n ops in set->io; then `done` for each, with what it returned. */
static void client_set_run(struct client_set *set, size_t n, client_io_done *done)
{
	bool ring = uring_active(&set->uring);
	size_t i;

	uring_run(&set->uring, set->io, n);
	for (i = 0; i < n; i++)
		done(set, i, set->io[i].arg, set->io[i].res);
	if (ring && !uring_active(&set->uring))
		log_warn("io_uring failed: reading and writing one system call at a time", "ring_ops=%llu",
			 (unsigned long long)set->uring.ops);
}

/* Add op as set->io[n]; run the list once it is full. Returns the new n. */
static size_t client_set_queue(struct client_set *set, size_t n, struct uring_op op, client_io_done *done)
{
	set->io[n++] = op;
	if (n < CLIENT_OPS_PER_CALL)
		return n;
	client_set_run(set, n, done);
	return 0;
}

static void client_sent(struct client_set *set, size_t i, struct client *c, ssize_t res)
{
	client_wrote(c, res);
}

/*
 * Every client with output gets one send, all in one system call where
 * io_uring is in use (uring.h); what a send leaves behind is written as
 * client_write does, when the socket has room.
 */
void client_set_flush_output(struct client_set *set)
{
	struct client *c;
	size_t n = 0;

	while ((c = set->out_list)) {
		set->out_list = c->out_next;
		c->in_out_list = false;
		if (c->state == CLIENT_CLOSED)
			continue;
		if (!c->out.len) {
			client_write(c);
			continue;
		}
		n = client_set_queue(set, n, (struct uring_op){ .fd = c->fd, .data = c->out.data,
							       .len = c->out.len, .arg = c }, client_sent);
	}
	if (n)
		client_set_run(set, n, client_sent);
}

bool client_set_output_pending(const struct client_set *set)
{
	const struct client *c;

	for (c = set->clients; c; c = c->next)
		if (c->out.len)
			return true;
	return false;
}

static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	client_write(w->data);
}

/*
 * May `c` be read now? Not while it holds more than half of
 * --max-client-output-bytes of unread acks (the soft limit: it reads again
 * once it has read them), nor while the owner's backpressure says no.
 */
static bool client_may_read(const struct client *c)
{
	const struct client_set *set = c->set;

	if (c->out.len > set->cfg->max_client_output_bytes / 2)
		return false;
	return set->ops.may_read(set->ops.arg, c);
}

/* Hand buffered lines to the owner while it lets us. */
static void client_process_lines(struct client *c)
{
	const struct client_ops *ops = &c->set->ops;
	const char *line;
	size_t len;
	enum linebuf_status st;

	while (c->state != CLIENT_CLOSED && client_may_read(c)) {
		st = linebuf_next(&c->in, &line, &len);
		if (st == LINEBUF_NEED_MORE)
			break;
		if (st == LINEBUF_TOO_LONG)
			ops->on_too_long(ops->arg, c);
		else
			ops->on_line(ops->arg, c, line, len);
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
	ev_io_stop(c->set->loop, &c->rio);
	if (!c->pending_rows && !c->out.len)
		client_close(c, "peer closed");
}

/* Stop reading (backpressure); buffered lines wait. */
static void client_pause(struct client *c)
{
	if (c->state != CLIENT_OPEN || c->read_paused)
		return;
	c->read_paused = true;
	c->set->recheck = true;
	ev_io_stop(c->set->loop, &c->rio);
}

/*
 * After a read that returned n (or -1 and err) and whose lines were handed
 * on: end of input, an error, or backpressure.
 */
static void client_read_done(struct client *c, ssize_t n, int err)
{
	if (c->state == CLIENT_CLOSED) {
		linebuf_free(&c->in); /* closed while it held a shared buffer */
		return;
	}
	if (n < 0) {
		if (err != EAGAIN && err != EWOULDBLOCK)
			client_close(c, strerror(err));
		return;
	}
	if (n == 0) {
		client_input_done(c);
		return;
	}
	if (!client_may_read(c))
		client_pause(c);
}

/*
 * Readable: one read into the set's shared buffer, lines handed on from
 * there, what is left (a partial line, lines held back) kept by the client.
 * With io_uring in use, only noted: client_set_read_ready reads it.
 */
static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;
	struct client_set *set = c->set;
	ssize_t n;
	int err;

	if (uring_active(&set->uring)) {
		if (!c->in_read_list) {
			c->in_read_list = true;
			c->read_next = set->read_list;
			set->read_list = c;
		}
		return;
	}
	n = linebuf_read_shared(&c->in, c->fd, &set->rbuf, CLIENT_READ_CHUNK);
	err = errno;
	if (n > 0)
		client_process_lines(c);
	linebuf_unshare(&c->in, &set->rbuf);
	client_read_done(c, n, err);
}

/* One read of the ring's came back: frame, hand on, give the slot back. */
static void client_received(struct client_set *set, size_t i, struct client *c, ssize_t res)
{
	if (res > 0 && c->state != CLIENT_CLOSED) {
		linebuf_commit(&c->in, (size_t)res);
		client_process_lines(c);
	}
	linebuf_unshare(&c->in, &set->rslots[i]);
	client_read_done(c, res < 0 ? -1 : res, res < 0 ? (int)-res : 0);
}

void client_set_read_ready(struct client_set *set)
{
	struct client *c;
	size_t n = 0;

	while ((c = set->read_list)) {
		set->read_list = c->read_next;
		c->in_read_list = false;
		if (c->state != CLIENT_OPEN || c->read_paused)
			continue; /* a paused client is read again once resumed */
		if (!client_may_read(c)) {
			client_pause(c);
			continue;
		}
		linebuf_lend(&c->in, &set->rslots[n]);
		n = client_set_queue(set, n, (struct uring_op){ .fd = c->fd, .recv = true, .arg = c,
			.data = linebuf_space(&c->in, CLIENT_READ_CHUNK), .len = CLIENT_READ_CHUNK }, client_received);
	}
	if (n)
		client_set_run(set, n, client_received);
}

/* Process buffered lines and (re)start reading, unless blocked again. */
static void client_resume(struct client *c)
{
	if (c->state != CLIENT_OPEN)
		return;
	c->read_paused = false;
	client_process_lines(c);
	if (c->state != CLIENT_OPEN)
		return;
	if (!client_may_read(c)) {
		client_pause(c);
		return;
	}
	ev_io_start(c->set->loop, &c->rio);
}

void client_set_recheck(struct client_set *set)
{
	set->recheck = true;
}

void client_set_resume_paused(struct client_set *set)
{
	struct client *c, *next;

	if (!set->recheck)
		return;
	set->recheck = false;
	for (c = set->clients; c; c = next) {
		next = c->next;
		if (!c->read_paused)
			continue;
		if (client_may_read(c))
			client_resume(c);
		else
			set->recheck = true;
	}
}

const char *client_set_io_uring_state(const struct client_set *set, char *buf, size_t size)
{
	int err = set->uring_err;

	if (uring_active(&set->uring))
		return "on";
	if (!err)
		return "off";
	snprintf(buf, size, "off (io_uring_setup: %s%s)",
		 err == ENOTSUP ? "kernel before 5.7" : strerror(err),
		 err == ENOSYS ? ": an old kernel, or a seccomp profile (podman's)" :
		 err == EPERM ? ": kernel.io_uring_disabled, or a seccomp profile (Docker's)" : "");
	return buf;
}
