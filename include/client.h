/*
 * client.h — application connections: input framing, output of acks.
 *
 * Each client reads large chunks into the set's one shared read buffer,
 * frames them into lines there (linebuf_read_shared: only a partial line,
 * or lines held back by backpressure, are copied into the client's own
 * buffer, so 256 idle connections do not hold 256 cold 64 KiB buffers) and
 * hands each line to its set's ops->on_line (the sidecar's dispatch: a callback
 * table, like PgBouncer's sbuf_cb_t, so this module never calls up). Acks are
 * appended to the client's output buffer and written once per loop iteration
 * (client_set_flush_output, from the sidecar's before-sleep hook), so a flush
 * of 1000 rows costs one write per client. Where io_uring is in use
 * (uring.h), the reads of all readable clients go to the kernel in one
 * system call (client_set_read_ready, before the loop sleeps), and so do the
 * writes: a row costs no system call of its own.
 *
 * Reading pauses while the client holds more than half of
 * --max-client-output-bytes of unread acks (it is disconnected past all of
 * it), and while ops->may_read says no (the sidecar's backpressure); paused
 * clients are re-checked by client_set_resume_paused before the loop sleeps.
 *
 * A client is reference-counted by the rows (and `flush` requests) the
 * ledger holds for it: when the peer goes away its fd is closed at once, but
 * the struct lives until the last of them completes, and is freed at the loop
 * boundary (client_set_reap).
 */
#ifndef PGC_CLIENT_H
#define PGC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "buf.h"
#include "config.h"
#include "linebuf.h"
#include "uring.h"

struct client;

/* What a client calls back (the owner's handlers). */
struct client_ops {
	/* One framed request line (NUL at line[len]). */
	void (*on_line)(void *arg, struct client *c, const char *line, size_t len);
	/* A line longer than --max-request-bytes was skipped. */
	void (*on_too_long)(void *arg, struct client *c);
	/* May `c` be read now (backpressure)? */
	bool (*may_read)(void *arg, const struct client *c);
	void *arg;
};

enum client_state {
	CLIENT_OPEN = 0,  /* reading requests, writing acks */
	CLIENT_INPUT_DONE,/* peer half-closed: no more requests; acks still written */
	CLIENT_CLOSED,    /* fd closed; waits for its pending rows, then freed */
};

struct client_set {
	struct ev_loop     *loop;
	const struct config *cfg;         /* max-request-bytes, max-client-output-bytes */
	struct client_ops   ops;
	struct client      *clients;       /* live clients */
	size_t              n;
	size_t              n_tcp;         /* of those, over TCP (--listen) */
	uint64_t            total;         /* clients accepted since start */
	struct client      *out_list;      /* clients with output to write */
	struct client      *free_list;     /* closed, to free at the loop boundary */
	bool                recheck;       /* some client is paused: re-check before sleeping */
	struct buf          rbuf;          /* the read buffer every client's linebuf borrows in turn */
	struct uring        uring;         /* one system call for many reads or writes (uring.h) */
	int                 uring_err;     /* why it is not in use (errno; 0: in use or turned off) */
	struct client      *read_list;     /* readable, to read through the ring before sleeping */
	struct uring_op    *io;            /* the reads or writes of one uring_run */
	struct buf         *rslots;        /* the read buffers lent to the clients in `io` */
};

struct client {
	struct client_set *set;
	struct client     *prev, *next;   /* set->clients */
	struct client     *out_next;      /* set->out_list */
	struct client     *free_next;     /* set->free_list */
	struct client     *read_next;     /* set->read_list */
	bool               in_out_list;
	bool               in_read_list;
	bool               read_paused;   /* backpressure: not reading */
	bool               in_free_list;
	uint64_t           id;
	int                fd;
	bool               tcp;           /* came through the TCP listener */
	enum client_state  state;
	ev_io              rio, wio;
	struct linebuf     in;
	struct buf         out;           /* acks not yet written */
	size_t             pending_rows;  /* rows (and flush requests) held for it, not yet answered */
};

void client_set_init(struct client_set *set, struct ev_loop *loop, const struct config *cfg,
		     const struct client_ops *ops);
/* Close every client, write nothing more, free them all (exit). */
void client_set_free(struct client_set *set);

/* Take ownership of an accepted socket (`tcp`: from the TCP listener). */
struct client *client_new(struct client_set *set, int fd, bool tcp);

/* Queue one response line (the caller's text, without the newline). */
void client_send_line(struct client *c, const char *line, size_t len);

/*
 * Read every client that was readable in this loop iteration, in one
 * system call (before-sleep hook, first): with io_uring in use the read
 * watchers only note a client as readable.
 */
void client_set_read_ready(struct client_set *set);
/* For the startup line: "on", "off", or off and why the kernel refused (buf holds it). */
const char *client_set_io_uring_state(const struct client_set *set, char *buf, size_t size);
/* Write queued output of every client that has some (before-sleep hook). */
void client_set_flush_output(struct client_set *set);
/* Does any client still have output queued? */
bool client_set_output_pending(const struct client_set *set);
/* Resume paused clients that may read now (before-sleep hook). */
void client_set_resume_paused(struct client_set *set);
/* Limits changed (reload): re-check paused clients before sleeping. */
void client_set_recheck(struct client_set *set);
/* Free clients that are closed and referenced by nothing (loop boundary). */
void client_set_reap(struct client_set *set);

/* The ledger holds one more row (or flush request) for `c` / one less. */
void client_row_taken(struct client *c);
void client_row_done(struct client *c);

/* Close the connection now (error, output limit, shutdown). */
void client_close(struct client *c, const char *reason);

#endif /* PGC_CLIENT_H */
