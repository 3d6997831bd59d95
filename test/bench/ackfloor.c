/*
 * ackfloor.c — the I/O floor under the sidecar's closed-loop figure (make
 * bench, issue 12 item 5): a libev server on a Unix socket that answers
 * every request line with {"id":<its id>,"ok":true} and does nothing else:
 * no JSON decoding, no batching, no database.
 *
 *   bin/bench-ackfloor SOCKET
 *
 * Its I/O is the sidecar's at 256 x 1, where every read holds one line:
 * one read per readable client and one send of the answers it read. So its
 * CPU per row under `pgcoalesce-cli bench` is what any server written this
 * way pays the kernel per row, the part of the sidecar's figure no change
 * inside the sidecar can remove. Never a contender: its "ok" means nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#define LINE_MAX_BYTES 65536

struct conn {
	ev_io  io;     /* first: the watcher is the connection */
	char   in[LINE_MAX_BYTES];
	size_t len;
};

static void conn_close(struct ev_loop *loop, struct conn *c)
{
	ev_io_stop(loop, &c->io);
	close(c->io.fd);
	free(c);
}

/* Append the answer to the request line [p, end) to out (at most cap bytes). */
static size_t answer(const char *p, const char *end, char *out, size_t cap)
{
	const char *id = memmem(p, (size_t)(end - p), "\"id\":", 5), *e;

	if (!id)
		return 0;
	id += 5;
	for (e = id; e < end && *e != ',' && *e != '}'; e++)
		;
	return (size_t)snprintf(out, cap, "{\"id\":%.*s,\"ok\":true}\n", (int)(e - id), id);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = (struct conn *)w;
	char out[LINE_MAX_BYTES];
	size_t olen = 0, start = 0, i;
	ssize_t n = read(w->fd, c->in + c->len, sizeof(c->in) - c->len);

	(void)revents;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(loop, c);
		return;
	}
	c->len += (size_t)n;
	for (i = 0; i < c->len; i++) {
		if (c->in[i] != '\n')
			continue;
		if (olen < sizeof(out) - 128)
			olen += answer(c->in + start, c->in + i, out + olen, sizeof(out) - olen);
		start = i + 1;
	}
	memmove(c->in, c->in + start, c->len - start);
	c->len -= start;
	if (c->len == sizeof(c->in)) { /* a line longer than the buffer: not a bench client */
		conn_close(loop, c);
		return;
	}
	if (olen && send(w->fd, out, olen, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		conn_close(loop, c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int fd = accept(w->fd, NULL, NULL);
	struct conn *c;

	(void)revents;
	if (fd < 0)
		return;
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	ev_io_init(&c->io, conn_cb, fd, EV_READ);
	ev_io_start(loop, &c->io);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ev_loop *loop = EV_DEFAULT;
	ev_io lw;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: bench-ackfloor SOCKET\n");
		return 2;
	}
	memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		perror("bench-ackfloor");
		return 1;
	}
	ev_io_init(&lw, accept_cb, fd, EV_READ);
	ev_io_start(loop, &lw);
	ev_run(loop, 0);
	return 0;
}
