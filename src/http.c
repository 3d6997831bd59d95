/*
 * http.c — a tiny HTTP/1.x server for GET /metrics (see http.h).
 *
 * Each connection runs this state machine:
 *   READING  -> (head complete or refused) -> WRITING -> LINGERING -> closed
 * A connection lives at most HTTP_TIMEOUT seconds before its response is
 * written and HTTP_LINGER seconds after; closed ones are freed before the
 * loop sleeps, never inside their own callback.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum http_state {
	HTTP_READING = 0,  /* waiting for the request line and headers */
	HTTP_WRITING,      /* sending the response */
	HTTP_LINGERING,    /* response sent, our side shut: reading the peer to EOF */
};

struct http_conn {
	struct http_conn   *next, *prev;   /* hs->conns, or hs->dead (next only) */
	struct http_server *hs;
	int                 fd;
	enum http_state     state;
	ev_io               io;
	ev_timer            timer;
	size_t              inlen;
	struct buf          out;
	size_t              outoff;       /* bytes of out already sent */
	char                in[HTTP_MAX_REQUEST];
};

static void http_conn_cb(struct ev_loop *loop, ev_io *w, int revents);
static void http_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default:  return "Error";
	}
}

/* ---- request parsing ---- */

static bool is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

int http_parse_request(const char *head, size_t len, char *method, size_t methodsz,
		       char *path, size_t pathsz)
{
	const char *eol = memchr(head, '\n', len), *p = head, *t, *v, *end;
	size_t n;

	if (!eol)
		return 400;
	end = eol > head && eol[-1] == '\r' ? eol - 1 : eol;
	for (t = p; t < end && is_tchar(*t); t++)
		;
	n = (size_t)(t - p);
	if (!n || n >= methodsz || t >= end || *t != ' ')
		return 400;
	memcpy(method, p, n);
	method[n] = '\0';
	p = t + 1;
	v = memchr(p, ' ', (size_t)(end - p));
	if (!v || v == p)
		return 400;
	if ((size_t)(end - v - 1) < 5 || memcmp(v + 1, "HTTP/", 5) != 0)
		return 400;
	if ((size_t)(end - v - 1) != 8 || memcmp(v + 1, "HTTP/1.", 7) != 0 ||
	    v[8] < '0' || v[8] > '9')
		return 505;
	if (*p != '/') {
		/* absolute-form: http://host/path */
		const char *scheme = memchr(p, ':', (size_t)(v - p));
		if (!scheme || (size_t)(v - scheme) < 3 || memcmp(scheme, "://", 3) != 0)
			return 400;
		p = memchr(scheme + 3, '/', (size_t)(v - scheme - 3));
		if (!p)
			p = "/", v = p + 1;
	}
	for (t = p; t < v && *t != '?' && *t != '#'; t++)
		if ((unsigned char)*t <= ' ' || *t == 0x7f)
			return 400;
	n = (size_t)(t - p);
	if (n >= pathsz)
		return 404; /* longer than any path we serve */
	memcpy(path, p, n);
	path[n] = '\0';
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return 405;
	return 200;
}

/* ---- connections ---- */

static void http_conn_close(struct http_conn *c)
{
	struct http_server *hs = c->hs;

	ev_io_stop(hs->loop, &c->io);
	ev_timer_stop(hs->loop, &c->timer);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		hs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hs->nconns--;
	c->prev = NULL;
	c->next = hs->dead;
	hs->dead = c;
	ev_prepare_start(hs->loop, &hs->reaper);
}

static void http_reap_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct http_server *hs = w->data;
	struct http_conn *c;

	while ((c = hs->dead)) {
		hs->dead = c->next;
		buf_free(&c->out);
		free(c);
	}
	ev_prepare_stop(loop, w);
}

static void http_watch(struct http_conn *c, int events)
{
	ev_io_stop(c->hs->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->hs->loop, &c->io);
}

/* Response sent: shut our side, read the peer to EOF so it sees all of it. */
static void http_linger(struct http_conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = HTTP_LINGERING;
	http_watch(c, EV_READ);
	ev_timer_stop(c->hs->loop, &c->timer);
	ev_timer_set(&c->timer, HTTP_LINGER, 0.);
	ev_timer_start(c->hs->loop, &c->timer);
}

/* Send what the socket takes; false if the connection was closed. */
static bool http_write(struct http_conn *c)
{
	ssize_t n;

	while (c->outoff < c->out.len) {
		n = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			http_watch(c, EV_WRITE);
			return true;
		}
		if (n <= 0) {
			http_conn_close(c);
			return false;
		}
		c->outoff += (size_t)n;
	}
	http_linger(c);
	return true;
}

static void http_respond(struct http_conn *c, int status, const char *ctype, const struct buf *body,
			 bool head_only)
{
	buf_reset(&c->out);
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Connection: close\r\n%s\r\n", status, http_reason(status), ctype, body->len,
		   status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only)
		buf_append(&c->out, body->data, body->len);
	c->outoff = 0;
	c->state = HTTP_WRITING;
	http_write(c);
}

static void http_respond_error(struct http_conn *c, int status, const char *text)
{
	struct buf body;

	buf_init(&body);
	buf_printf(&body, "%d %s: %s\n", status, http_reason(status), text);
	http_respond(c, status, "text/plain; charset=utf-8", &body, false);
	buf_free(&body);
}

/* The head is complete: answer it. */
static void http_dispatch(struct http_conn *c, size_t headlen)
{
	char method[16], path[256];
	const char *ctype = "text/plain; charset=utf-8";
	struct buf body;
	int status = http_parse_request(c->in, headlen, method, sizeof(method), path, sizeof(path));

	if (status == 400) {
		http_respond_error(c, 400, "malformed request line");
		return;
	}
	if (status == 505) {
		http_respond_error(c, 505, "only HTTP/1.x is served");
		return;
	}
	if (status == 405) {
		http_respond_error(c, 405, "only GET and HEAD are served");
		return;
	}
	buf_init(&body);
	if (status == 200)
		status = c->hs->handler(c->hs->arg, path, &body, &ctype);
	if (status != 200) {
		buf_reset(&body);
		buf_printf(&body, "%d %s: %s\n", status, http_reason(status), "see /metrics");
		ctype = "text/plain; charset=utf-8";
	}
	log_debug("http request", "method=%s path=%s status=%d bytes=%zu", method, log_q(path), status,
		  body.len);
	http_respond(c, status, ctype, &body, strcmp(method, "HEAD") == 0);
	buf_free(&body);
}

/* Length of the head (through its blank line) if complete, else 0. */
static size_t http_head_len(const char *s, size_t n)
{
	const char *a = memmem(s, n, "\r\n\r\n", 4), *b = memmem(s, n, "\n\n", 2);

	if (a && (!b || a < b))
		return (size_t)(a - s) + 4;
	if (b)
		return (size_t)(b - s) + 2;
	return 0;
}

static void http_read(struct http_conn *c)
{
	size_t headlen;
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* gone before asking anything complete */
			http_conn_close(c);
			return;
		}
		c->inlen += (size_t)n;
		if ((headlen = http_head_len(c->in, c->inlen))) {
			ev_io_stop(c->hs->loop, &c->io);
			http_dispatch(c, headlen);
			return;
		}
		if (c->inlen == sizeof(c->in)) {
			ev_io_stop(c->hs->loop, &c->io);
			http_respond_error(c, 431, "request head too large");
			return;
		}
	}
}

static void http_drain(struct http_conn *c)
{
	char scratch[4096];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, scratch, sizeof(scratch), 0);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		http_conn_close(c);
		return;
	}
}

static void http_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;

	switch (c->state) {
	case HTTP_READING:
		http_read(c);
		break;
	case HTTP_WRITING:
		http_write(c);
		break;
	case HTTP_LINGERING:
		http_drain(c);
		break;
	}
}

static void http_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_conn *c = w->data;

	if (c->state == HTTP_READING) {
		/* one attempt at a 408, never waiting for a peer that does not read */
		static const char r408[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
					   "Connection: close\r\n\r\n";
		if (send(c->fd, r408, sizeof(r408) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0; /* closing anyway */
	}
	http_conn_close(c);
}

/* Out of descriptors: stop accepting for HTTP_ACCEPT_PAUSE seconds. */
static void http_pause_accepts(struct http_server *hs)
{
	size_t i;

	for (i = 0; i < hs->listen.nfds; i++)
		ev_io_stop(hs->loop, &hs->accept_io[i]);
	ev_timer_set(&hs->accept_pause, HTTP_ACCEPT_PAUSE, 0.); /* afresh after firing */
	ev_timer_start(hs->loop, &hs->accept_pause);
}

static void http_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *hs = w->data;
	size_t i;

	for (i = 0; i < hs->listen.nfds; i++)
		ev_io_start(loop, &hs->accept_io[i]);
}

static void http_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_server *hs = w->data;
	struct http_conn *c;
	unsigned long dropped;
	int fd, k;

	for (k = 0; k < 64; k++) {
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				http_pause_accepts(hs); /* else the loop spins on the readable socket */
			return;
		}
		if (hs->nconns >= HTTP_MAX_CONNS) {
			close(fd);
			if (log_limit_check(&hs->refuse_limit, ev_now(loop), 10.0, &dropped))
				log_warn("metrics connection refused: too many open", "max=%d suppressed=%lu",
					 HTTP_MAX_CONNS, dropped);
			continue;
		}
		c = pgc_calloc(1, sizeof(*c));
		c->hs = hs;
		c->fd = fd;
		buf_init(&c->out);
		ev_io_init(&c->io, http_conn_cb, fd, EV_READ);
		ev_timer_init(&c->timer, http_timer_cb, HTTP_TIMEOUT, 0.);
		c->io.data = c->timer.data = c;
		ev_io_start(loop, &c->io);
		ev_timer_start(loop, &c->timer);
		c->next = hs->conns;
		if (hs->conns)
			hs->conns->prev = c;
		hs->conns = c;
		hs->nconns++;
	}
}

/* ---- listening ---- */

bool http_listen(struct http_server *hs, struct ev_loop *loop, const char *host, long port,
		 http_handler handler, void *arg, char *err, size_t errsz)
{
	size_t i;

	memset(hs, 0, sizeof(*hs));
	hs->loop = loop;
	hs->handler = handler;
	hs->arg = arg;
	ev_prepare_init(&hs->reaper, http_reap_cb);
	hs->reaper.data = hs;
	ev_timer_init(&hs->accept_pause, http_resume_cb, HTTP_ACCEPT_PAUSE, 0.);
	hs->accept_pause.data = hs;
	if (!netlisten_open(&hs->listen, host, port, 64, false, err, errsz)) {
		hs->loop = NULL;
		return false;
	}
	for (i = 0; i < hs->listen.nfds; i++) {
		ev_io_init(&hs->accept_io[i], http_accept_cb, hs->listen.fds[i], EV_READ);
		hs->accept_io[i].data = hs;
		ev_io_start(loop, &hs->accept_io[i]);
	}
	return true;
}

void http_close(struct http_server *hs)
{
	size_t i;

	if (!hs->loop)
		return;
	ev_timer_stop(hs->loop, &hs->accept_pause);
	for (i = 0; i < hs->listen.nfds; i++)
		ev_io_stop(hs->loop, &hs->accept_io[i]);
	netlisten_close(&hs->listen);
	while (hs->conns)
		http_conn_close(hs->conns);
	http_reap_cb(hs->loop, &hs->reaper, 0);
	hs->loop = NULL;
}
