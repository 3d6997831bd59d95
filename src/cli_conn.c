/*
 * cli_conn.c — the CLI's connection to the sidecar (see cli_conn.h).
 */
#include "cli_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CLI_CONN_READ_CHUNK 65536

void cli_conn_init(struct cli_conn *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = pgc_strdup(path);
	linebuf_init(&c->in, CLI_CONN_MAX_LINE);
	buf_init(&c->out);
}

void cli_conn_free(struct cli_conn *c)
{
	cli_conn_close(c);
	linebuf_free(&c->in);
	buf_free(&c->out);
	free(c->path);
	c->path = NULL;
}

void cli_conn_close(struct cli_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	/* what was buffered belongs to the old connection */
	linebuf_free(&c->in);
	linebuf_init(&c->in, CLI_CONN_MAX_LINE);
	buf_reset(&c->out);
}

bool cli_conn_open(struct cli_conn *c)
{
	struct sockaddr_un sa;
	int fd;

	cli_conn_close(c);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		snprintf(c->err, sizeof(c->err), "socket path is too long");
		return false;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(c->err, sizeof(c->err), "%s", strerror(errno));
		return false;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(c->err, sizeof(c->err), "%s", strerror(errno));
		close(fd);
		return false;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->fd = fd;
	c->err[0] = '\0';
	return true;
}

void cli_conn_queue(struct cli_conn *c, const char *line, size_t len)
{
	buf_append(&c->out, line, len);
	buf_putc(&c->out, '\n');
}

static enum cli_conn_status conn_lost(struct cli_conn *c, const char *why)
{
	if (why != c->err)
		snprintf(c->err, sizeof(c->err), "%s", why);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	return CLI_CONN_LOST;
}

/* Write what the socket takes now. False when the connection failed. */
static bool conn_write_some(struct cli_conn *c)
{
	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		buf_consume(&c->out, (size_t)n);
	}
	return true;
}

/*
 * Read what is there and hand complete lines to fn. Returns the number of
 * awaited responses seen, or -1 when the connection ended (c->err set).
 */
static long conn_read_some(struct cli_conn *c, cli_conn_line_fn fn, void *arg)
{
	long seen = 0;
	const char *line;
	size_t len;
	ssize_t n = linebuf_read(&c->in, c->fd, CLI_CONN_READ_CHUNK);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		snprintf(c->err, sizeof(c->err), "%s",
			 n == 0 ? "the sidecar closed the connection" : strerror(errno));
		return -1;
	}
	for (;;) {
		enum linebuf_status st = linebuf_next(&c->in, &line, &len);
		if (st == LINEBUF_NEED_MORE)
			break;
		if (st == LINEBUF_TOO_LONG) {
			snprintf(c->err, sizeof(c->err), "a response line exceeded %zu bytes",
				 (size_t)CLI_CONN_MAX_LINE);
			return -1;
		}
		seen += fn(arg, line, len);
	}
	linebuf_compact(&c->in);
	return seen;
}

enum cli_conn_status cli_conn_exchange(struct cli_conn *c, size_t awaited, cli_conn_line_fn fn,
				       void *arg, volatile sig_atomic_t *interrupt)
{
	size_t seen = 0;

	if (c->fd < 0)
		return conn_lost(c, "not connected");
	while (c->out.len > 0 || seen < awaited) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		long got;

		if (interrupt && *interrupt)
			return CLI_CONN_INTERRUPTED;
		if (c->out.len > 0)
			p.events |= POLLOUT;
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return conn_lost(c, strerror(errno));
		}
		if ((p.revents & POLLOUT) && !conn_write_some(c))
			return conn_lost(c, strerror(errno));
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			got = conn_read_some(c, fn, arg);
			if (got < 0)
				return conn_lost(c, c->err);
			seen += (size_t)got;
		}
	}
	return CLI_CONN_OK;
}
