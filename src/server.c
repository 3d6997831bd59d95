/*
 * server.c — the listening sockets: Unix and TCP (see server.h).
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
	int fd;

	memset(srv, 0, sizeof(*srv));
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(path, mode) != 0 || listen(fd, 1024) != 0) {
		fprintf(stderr, "pgcoalesce: cannot listen on %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	srv->socks.fds[srv->socks.nfds++] = fd;
	snprintf(srv->socks.address, sizeof(srv->socks.address), "%s", path);
	srv->path = pgc_strdup(path);
	return true;
}

bool server_listen_tcp(struct server *srv, const char *spec, bool remote)
{
	char host[256], err[512] = "expected HOST:PORT";
	long port;

	memset(srv, 0, sizeof(*srv));
	srv->tcp = true;
	if (!config_split_listen(spec, host, sizeof(host), &port) ||
	    !netlisten_open(&srv->socks, host, port, 1024, !remote, err, sizeof(err))) {
		fprintf(stderr, "pgcoalesce: --listen %s: %s\n", spec, err);
		return false;
	}
	return true;
}

/* Out of descriptors: stop watching the sockets for a while instead of spinning. */
static void server_pause(struct server *srv, struct ev_loop *loop, int err)
{
	unsigned long dropped;
	size_t i;

	if (log_limit_check(&srv->accept_limit, ev_now(loop), SERVER_WARN_EVERY, &dropped))
		log_warn("accept failed: pausing accepts", "error=%s pause_s=%.1f suppressed=%lu",
			 log_q(strerror(err)), SERVER_ACCEPT_PAUSE, dropped);
	for (i = 0; i < srv->socks.nfds; i++)
		ev_io_stop(loop, &srv->accept_io[i]);
	ev_timer_set(&srv->accept_pause, SERVER_ACCEPT_PAUSE, 0.); /* afresh after firing */
	ev_timer_start(loop, &srv->accept_pause);
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = w->data;
	unsigned long dropped;
	int fd, n, one = 1;

	for (n = 0; n < 256; n++) {
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* the pending connection stays in the backlog and the socket readable */
			if (errno == EMFILE || errno == ENFILE)
				server_pause(srv, loop, errno);
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
		/* acks are small lines written once per loop iteration: no Nagle delay */
		if (srv->tcp)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		client_new(srv->clients, fd, srv->tcp);
	}
}

static void server_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;
	size_t i;

	for (i = 0; srv->listening && i < srv->socks.nfds; i++)
		ev_io_start(loop, &srv->accept_io[i]);
}

void server_start(struct server *srv, struct ev_loop *loop, const struct config *cfg,
		  struct client_set *clients)
{
	size_t i;

	srv->loop = loop;
	srv->cfg = cfg;
	srv->clients = clients;
	ev_timer_init(&srv->accept_pause, server_resume_cb, SERVER_ACCEPT_PAUSE, 0.);
	srv->accept_pause.data = srv;
	for (i = 0; i < srv->socks.nfds; i++) {
		ev_io_init(&srv->accept_io[i], server_accept_cb, srv->socks.fds[i], EV_READ);
		srv->accept_io[i].data = srv;
		ev_io_start(loop, &srv->accept_io[i]);
	}
	srv->listening = true;
}

void server_close(struct server *srv, struct ev_loop *loop)
{
	size_t i;

	if (srv->listening) {
		for (i = 0; i < srv->socks.nfds; i++)
			ev_io_stop(loop, &srv->accept_io[i]);
		ev_timer_stop(loop, &srv->accept_pause);
	}
	srv->listening = false;
	netlisten_close(&srv->socks);
	if (srv->path)
		unlink(srv->path);
	free(srv->path);
	srv->path = NULL;
}
