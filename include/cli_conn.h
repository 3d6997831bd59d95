/*
 * cli_conn.h — the CLI's connection to the sidecar, on libpgcoalesce.
 *
 * The CLI is the library's first user: it sends through the non-blocking
 * API (pgc_send_*), and waits in cli_conn_wait(), which polls the client's
 * socket and gives up when the user presses Ctrl-C (the session's SIGINT
 * flag). Answers come through one callback, which hands them to whatever
 * the session is running (an INSERT's rows, one meta-command's request).
 * struct cli_answer keeps a copy of an answer past the callback.
 */
#ifndef PGC_CLI_CONN_H
#define PGC_CLI_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "pgcoalesce.h"

/* What the session is waiting for: called with each answer. */
typedef void (*cli_conn_handler)(void *arg, const struct pgc_ack *a);

struct cli_conn {
	pgc_client            *pgc;
	cli_conn_handler       handler;   /* NULL: answers are dropped */
	void                  *handler_arg;
	volatile sig_atomic_t *interrupt; /* set by SIGINT (interactive); may be NULL */
};

enum cli_conn_status {
	CLI_CONN_OK = 0,        /* waited, something may have been answered */
	CLI_CONN_LOST,          /* the connection is gone (its requests were answered) */
	CLI_CONN_INTERRUPTED,   /* *interrupt became non-zero */
};

/* One answer, copied. Strings are NULL when absent. */
struct cli_answer {
	bool                 done;
	bool                 ok;
	enum pgc_error_class cls;
	bool                 not_written;
	char                *line;     /* the response line; NULL for client-side errors */
	char                *row;      /* an insert's returned row (JSON object text) */
	char                *code;
	char                *message;
	char                *detail;
	char                *hint;
};

void cli_conn_init(struct cli_conn *c, const char *address);
void cli_conn_free(struct cli_conn *c);

/* Connect (again); false with pgc_errmsg(c->pgc) set. */
bool cli_conn_open(struct cli_conn *c);

/* Wait once for answers (or room to send): see enum cli_conn_status. */
enum cli_conn_status cli_conn_wait(struct cli_conn *c);

/* Copy an answer; free the copy's strings with cli_answer_free(). */
void cli_answer_copy(struct cli_answer *dst, const struct pgc_ack *a);
void cli_answer_free(struct cli_answer *a);

/* Extensions of the protocol a sidecar may have (its ping's features). */
enum cli_feature {
	CLI_FEATURE_ON_CONFLICT = 1,
	CLI_FEATURE_KEY = 2,
};

/*
 * Ask the sidecar which extensions it has (a ping): *features gets
 * enum cli_feature bits (none from a v1 sidecar). CLI_CONN_OK when the
 * ping was answered, CLI_CONN_LOST / CLI_CONN_INTERRUPTED as for
 * cli_conn_request().
 */
enum cli_conn_status cli_conn_features(struct cli_conn *c, unsigned *features);

/*
 * Send one request with `send` (a pgc_send_* wrapper) and wait for its
 * answer into *ans. CLI_CONN_OK when it was answered (ans->done, maybe
 * with a connection-lost error), CLI_CONN_LOST when it could not be sent,
 * CLI_CONN_INTERRUPTED when the user stopped waiting.
 */
enum cli_conn_status cli_conn_request(struct cli_conn *c, struct cli_answer *ans,
				      int (*send)(pgc_client *pgc, void *user, const void *arg),
				      const void *arg);

#endif /* PGC_CLI_CONN_H */
