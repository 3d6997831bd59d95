/*
 * http.h — a tiny HTTP/1.x server on the daemon's libev loop, for GET
 * /metrics.
 *
 * One request per connection (the response says Connection: close), never
 * blocking, and hard to hold hostage: a request head larger than
 * HTTP_MAX_REQUEST gets 431, one not complete within HTTP_TIMEOUT seconds
 * gets 408, a malformed one 400, a method other than GET or HEAD 405, and at
 * most HTTP_MAX_CONNS connections are open at once (more are closed at
 * accept). The owner's handler produces the body for a path (its status: 200
 * or 404).
 */
#ifndef PGC_HTTP_H
#define PGC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "buf.h"
#include "log.h"
#include "netlisten.h"

#define HTTP_MAX_REQUEST 8192   /* bytes of request line and headers */
#define HTTP_MAX_CONNS   32
#define HTTP_TIMEOUT     10.0   /* seconds for a whole exchange */
#define HTTP_LINGER      2.0    /* seconds to drain the peer after the response */
#define HTTP_ACCEPT_PAUSE 0.1   /* seconds without accepting when out of descriptors */

/*
 * Fill `body` (and *content_type, a static string) for `path` (the request
 * target without its query); return the status, 200 or 404.
 */
typedef int (*http_handler)(void *arg, const char *path, struct buf *body,
			    const char **content_type);

struct http_conn;

struct http_server {
	struct ev_loop   *loop;
	struct netlisten  listen;     /* its sockets and the address bound (listen.address) */
	ev_io             accept_io[NETLISTEN_MAX];
	ev_timer          accept_pause; /* out of descriptors: accepting resumes when it fires */
	struct http_conn *conns;      /* open */
	size_t            nconns;
	struct http_conn *dead;       /* closed, freed before the loop sleeps */
	ev_prepare        reaper;
	http_handler      handler;
	void             *arg;
	struct log_limit  refuse_limit;
};

/*
 * Listen on host:port (host "" is every interface; port 0 picks one, see
 * hs->address). Every address `host` resolves to is bound. On failure
 * returns false with one line in err.
 */
bool http_listen(struct http_server *hs, struct ev_loop *loop, const char *host, long port,
		 http_handler handler, void *arg, char *err, size_t errsz);

/* Close the listening sockets and every connection. */
void http_close(struct http_server *hs);

/*
 * Parse a request head (request line and headers, up to and including the
 * blank line). Returns the status to answer with: 200 with method/path set
 * (path without the query, NUL-terminated in `path`), or 400/405/505.
 * Exposed for tests.
 */
int http_parse_request(const char *head, size_t len, char *method, size_t methodsz,
		       char *path, size_t pathsz);

#endif /* PGC_HTTP_H */
