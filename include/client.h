/*
 * client.h — one application connection: input framing, output of acks.
 *
 * Reads large chunks, frames them into lines (linebuf) and hands each line to
 * sidecar_handle_line(). Acks are appended to the output buffer and written
 * once per loop iteration (sidecar's before-sleep hook calls
 * client_flush_output), so a flush of 1000 rows costs one write per client.
 *
 * A client is reference-counted by its pending rows: when the peer goes away
 * its fd is closed at once, but the struct lives until its last row is
 * completed, and is freed at the loop boundary.
 */
#ifndef PGC_CLIENT_H
#define PGC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "buf.h"
#include "linebuf.h"

struct sidecar;

enum client_state {
	CLIENT_OPEN = 0,  /* reading requests, writing acks */
	CLIENT_INPUT_DONE,/* peer half-closed: no more requests; acks still written */
	CLIENT_CLOSED,    /* fd closed; waits for its pending rows, then freed */
};

struct client {
	struct sidecar   *sc;
	struct client    *prev, *next;   /* sidecar's list of live clients */
	struct client    *out_next;      /* in the list of clients with output to write */
	struct client    *free_next;     /* in the list of clients to free */
	bool              in_out_list;
	bool              read_paused;   /* backpressure: not reading */
	bool              in_free_list;
	uint64_t          id;
	int               fd;
	enum client_state state;
	ev_io             rio, wio;
	struct linebuf    in;
	struct buf        out;           /* acks not yet written */
	size_t            pending_rows;  /* rows accepted, not yet completed */
};

/* Take ownership of an accepted socket. */
struct client *client_new(struct sidecar *sc, int fd);

/* Queue one response line (the caller's text, without the newline). */
void client_send_line(struct client *c, const char *line, size_t len);

/* Write queued output of every client that has some (before-sleep hook). */
void client_flush_output(struct sidecar *sc);

/* Process buffered lines and (re)start reading, unless blocked again. */
void client_resume(struct client *c);

/* Stop reading (backpressure); buffered lines wait. */
void client_pause(struct client *c);

/* A row of this client completed. */
void client_row_done(struct client *c);

/* Close the connection now (error, output limit, shutdown). */
void client_close(struct client *c, const char *reason);

/* Free clients that are closed and have no pending rows (loop boundary). */
void client_reap(struct sidecar *sc);

#endif /* PGC_CLIENT_H */
