/*
 * server.c — the listening Unix socket (see server.h).
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "log.h"

#define SERVER_WARN_EVERY 10.0  /* seconds between repeated accept warnings */
#define SERVER_ACCEPT_PAUSE 0.1 /* seconds without accepting when out of descriptors */

/* Is something accepting connections at `path`? */
static bool socket_is_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

bool server_listen(struct server *srv, const char *path, mode_t mode)
{
	struct sockaddr_un addr;
	struct stat st;

	memset(srv, 0, sizeof(*srv));
	srv->fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "pgcoalesce: socket path too long (max %zu bytes): %s\n",
			sizeof(addr.sun_path) - 1, path);
		return false;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "pgcoalesce: %s exists and is not a socket; not replacing it\n", path);
			return false;
		}
		if (socket_is_live(&addr)) {
			fprintf(stderr, "pgcoalesce: another process is listening on %s\n", path);
			return false;
		}
		unlink(path); /* stale, from a run that did not clean up */
	}
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0 || bind(srv->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(path, mode) != 0 || listen(srv->fd, 1024) != 0) {
		fprintf(stderr, "pgcoalesce: cannot listen on %s: %s\n", path, strerror(errno));
		if (srv->fd >= 0)
			close(srv->fd);
		srv->fd = -1;
		return false;
	}
	srv->path = pgc_strdup(path);
	return true;
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = w->data;
	unsigned long dropped;
	int fd, n;

	for (n = 0; n < 256; n++) {
		fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EMFILE && errno != ENFILE)
				return;
			/* the pending connection stays in the backlog and the socket
			 * readable: stop watching it for a while instead of spinning */
			if (log_limit_check(&srv->accept_limit, ev_now(loop), SERVER_WARN_EVERY, &dropped))
				log_warn("accept failed: pausing accepts", "error=%s pause_s=%.1f suppressed=%lu",
					 log_q(strerror(errno)), SERVER_ACCEPT_PAUSE, dropped);
			ev_io_stop(loop, &srv->accept_io);
			ev_timer_set(&srv->accept_pause, SERVER_ACCEPT_PAUSE, 0.); /* afresh after firing */
			ev_timer_start(loop, &srv->accept_pause);
			return;
		}
		if (srv->clients->n >= srv->cfg->max_clients) {
			/* no line is written: a v1 client expects responses only to its requests */
			close(fd);
			if (log_limit_check(&srv->refuse_limit, ev_now(loop), SERVER_WARN_EVERY, &dropped))
				log_warn("client refused: --max-clients reached", "max_clients=%zu suppressed=%lu",
					 srv->cfg->max_clients, dropped);
			continue;
		}
		client_new(srv->clients, fd);
	}
}

static void server_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;

	if (srv->listening)
		ev_io_start(loop, &srv->accept_io);
}

void server_start(struct server *srv, struct ev_loop *loop, const struct config *cfg,
		  struct client_set *clients)
{
	srv->loop = loop;
	srv->cfg = cfg;
	srv->clients = clients;
	ev_io_init(&srv->accept_io, server_accept_cb, srv->fd, EV_READ);
	srv->accept_io.data = srv;
	ev_timer_init(&srv->accept_pause, server_resume_cb, SERVER_ACCEPT_PAUSE, 0.);
	srv->accept_pause.data = srv;
	ev_io_start(loop, &srv->accept_io);
	srv->listening = true;
}

void server_close(struct server *srv, struct ev_loop *loop)
{
	if (srv->listening) {
		ev_io_stop(loop, &srv->accept_io);
		ev_timer_stop(loop, &srv->accept_pause);
	}
	srv->listening = false;
	if (srv->fd >= 0) {
		close(srv->fd);
		srv->fd = -1;
		if (srv->path)
			unlink(srv->path);
	}
	free(srv->path);
	srv->path = NULL;
}
