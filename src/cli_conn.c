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

#include "jsontext.h"

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
static long conn_read_some(struct cli_conn *c, const struct cli_conn_io *io)
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
		seen += io->on_line(io->arg, line, len);
	}
	linebuf_compact(&c->in);
	return seen;
}

enum cli_conn_status cli_conn_exchange(struct cli_conn *c, size_t awaited,
				       const struct cli_conn_io *io,
				       volatile sig_atomic_t *interrupt)
{
	size_t seen = 0;
	bool more = io->fill != NULL;

	if (c->fd < 0)
		return conn_lost(c, "not connected");
	for (;;) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		long got;

		while (more && c->out.len < CLI_CONN_LOW_WATER)
			more = io->fill(io->arg, c);
		if (c->out.len == 0 && !more && seen >= awaited)
			return CLI_CONN_OK;
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
			got = conn_read_some(c, io);
			if (got < 0)
				return conn_lost(c, c->err);
			seen += (size_t)got;
		}
	}
}

/* The common ack {"id":<digits>,"ok":true}, without a parser. */
static bool ack_fast(struct cli_ack *a, const char *line, size_t len)
{
	static const char head[] = "{\"id\":", tail[] = ",\"ok\":true}";
	size_t i = sizeof(head) - 1, start;
	long long id = 0;

	if (len < sizeof(head) + sizeof(tail) - 1 || memcmp(line, head, i) != 0)
		return false;
	for (start = i; i < len && line[i] >= '0' && line[i] <= '9' && i - start < 18; i++)
		id = id * 10 + (line[i] - '0');
	if (i == start || (line[start] == '0' && i - start > 1) || len - i != sizeof(tail) - 1 ||
	    memcmp(line + i, tail, sizeof(tail) - 1) != 0)
		return false;
	a->int_id = true;
	a->id = id;
	a->ok = true;
	return true;
}

static const char *error_field(const cJSON *err, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(err, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool cli_ack_decode(struct cli_ack *a, const char *line, size_t len)
{
	const cJSON *id, *err;
	struct buf key;
	size_t pos = 0, vlen;
	const char *val;

	memset(a, 0, sizeof(*a));
	if (ack_fast(a, line, len))
		return true;
	a->tree = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(a->tree)) {
		cli_ack_free(a);
		return false;
	}
	id = cJSON_GetObjectItemCaseSensitive(a->tree, "id");
	if (cJSON_IsNumber(id) && id->valuedouble == (double)(long long)id->valuedouble) {
		a->int_id = true;
		a->id = (long long)id->valuedouble;
	}
	a->ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a->tree, "ok"));
	err = cJSON_GetObjectItemCaseSensitive(a->tree, "error");
	a->code = error_field(err, "code");
	a->message = error_field(err, "message");
	a->detail = error_field(err, "detail");
	a->hint = error_field(err, "hint");
	a->column = error_field(err, "column");
	a->constraint = error_field(err, "constraint");
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a->tree, "row"))) {
		/* the raw text, so values keep PostgreSQL's exact spelling */
		buf_init(&key);
		while (jsontext_object_next(line, len, &pos, &key, &val, &vlen))
			if (strcmp(buf_cstr(&key), "row") == 0) {
				a->row = val;
				a->row_len = vlen;
			}
		buf_free(&key);
	}
	return true;
}

void cli_ack_free(struct cli_ack *a)
{
	cJSON_Delete(a->tree);
	memset(a, 0, sizeof(*a));
}
