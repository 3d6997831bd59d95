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

/*
 * Called with each response line (NUL-terminated, without its newline).
 * Returns the number of awaited responses this line satisfied (0 or 1).
 */
typedef int (*cli_conn_line_fn)(void *arg, const char *line, size_t len);

void cli_conn_init(struct cli_conn *c, const char *path);
void cli_conn_free(struct cli_conn *c);

/* Connect (closing any previous socket). False with c->err set on failure. */
bool cli_conn_open(struct cli_conn *c);
void cli_conn_close(struct cli_conn *c);

/* Queue one request line; the newline is added. */
void cli_conn_queue(struct cli_conn *c, const char *line, size_t len);

/*
 * Write every queued byte and read responses, passing each line to `fn`,
 * until `fn` has counted `awaited` responses. `interrupt` (may be NULL) is
 * polled after every wake-up: a SIGINT handler sets it to give up waiting.
 * On CLI_CONN_LOST the socket is closed.
 */
enum cli_conn_status cli_conn_exchange(struct cli_conn *c, size_t awaited, cli_conn_line_fn fn,
				       void *arg, volatile sig_atomic_t *interrupt);

#endif /* PGC_CLI_CONN_H */
