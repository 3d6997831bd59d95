/*
 * cli_conn.h — the CLI's connection to the sidecar.
 *
 * One Unix-socket connection, non-blocking underneath but used
 * synchronously: queue request lines, then cli_conn_exchange() writes them
 * while it reads response lines (both at once, so a long pipelined statement
 * never deadlocks against the sidecar's output limit) until the caller has
 * seen every response it waits for. Framing is the shared linebuf.
 */
#ifndef PGC_CLI_CONN_H
#define PGC_CLI_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "linebuf.h"

/* Longest response line the CLI accepts (a RETURNING row can be large). */
#define CLI_CONN_MAX_LINE ((size_t)1 << 30)

struct cli_conn {
	int            fd;      /* -1 when closed */
	char          *path;    /* the socket path, for messages and reconnects */
	struct linebuf in;      /* response bytes, framed into lines */
	struct buf     out;     /* request bytes not yet written */
	char           err[256];/* why the last open/exchange failed */
};

enum cli_conn_status {
	CLI_CONN_OK = 0,        /* every awaited response was read */
	CLI_CONN_LOST,          /* the socket failed or the sidecar closed it (err set) */
	CLI_CONN_INTERRUPTED,   /* *interrupt became non-zero while waiting */
};

/* Queue refills happen while fewer bytes than this wait to be written. */
#define CLI_CONN_LOW_WATER ((size_t)1 << 20)

/* What cli_conn_exchange() calls back. */
struct cli_conn_io {
	/* Each response line (NUL-terminated, without its newline); returns
	 * how many awaited responses it satisfied (0 or 1). */
	int  (*on_line)(void *arg, const char *line, size_t len);
	/* Optional: queue more request lines (cli_conn_queue); called while
	 * fewer than CLI_CONN_LOW_WATER bytes wait. Returns false once
	 * everything is queued. */
	bool (*fill)(void *arg, struct cli_conn *c);
	void *arg;
};

/* One decoded response line (PROTOCOL.md "Responses"). */
struct cli_ack {
	bool        int_id;    /* the id is an integer (the CLI's own ids are) */
	long long   id;
	bool        ok;
	const char *row;       /* raw JSON text of "row", NULL when absent */
	size_t      row_len;
	const char *code;      /* error fields, NULL when absent */
	const char *message;
	const char *detail;
	const char *hint;
	const char *column;
	const char *constraint;
	cJSON      *tree;      /* owned; NULL for the common {"id":N,"ok":true} */
};

void cli_conn_init(struct cli_conn *c, const char *path);
void cli_conn_free(struct cli_conn *c);

/* Connect (closing any previous socket). False with c->err set on failure. */
bool cli_conn_open(struct cli_conn *c);
void cli_conn_close(struct cli_conn *c);

/* Queue one request line; the newline is added. */
void cli_conn_queue(struct cli_conn *c, const char *line, size_t len);

/*
 * Write every queued byte (and what io->fill queues) while reading
 * responses, passing each line to io->on_line, until `awaited` responses
 * were counted. `interrupt` (may be NULL) is checked after every wake-up: a
 * SIGINT handler sets it to give up waiting. On CLI_CONN_LOST the socket
 * is closed.
 */
enum cli_conn_status cli_conn_exchange(struct cli_conn *c, size_t awaited,
				       const struct cli_conn_io *io,
				       volatile sig_atomic_t *interrupt);

/*
 * Decode a response line. False when it is not a JSON object (then *a is
 * cleared). Strings point into a->tree or the line: keep both while using
 * them, then cli_ack_free().
 */
bool cli_ack_decode(struct cli_ack *a, const char *line, size_t len);
void cli_ack_free(struct cli_ack *a);

#endif /* PGC_CLI_CONN_H */
