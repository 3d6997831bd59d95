/*
 * cli_conn.c — the CLI's connection to the sidecar (see cli_conn.h).
 */
#include "cli_conn.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The one libpgcoalesce callback: answers go to the running handler. */
static void conn_on_ack(void *arg, const struct pgc_ack *a)
{
	struct cli_conn *c = arg;

	if (c->handler)
		c->handler(c->handler_arg, a);
}

void cli_conn_init(struct cli_conn *c, const char *address)
{
	memset(c, 0, sizeof(*c));
	c->pgc = pgc_new(address);
	pgc_set_callback(c->pgc, conn_on_ack, c);
	/* a statement's tuples go out pipelined: many in flight keep the
	 * sidecar's batches full; the bound keeps memory flat */
	pgc_set_max_in_flight(c->pgc, 10000);
}

void cli_conn_free(struct cli_conn *c)
{
	pgc_free(c->pgc);
	c->pgc = NULL;
}

bool cli_conn_open(struct cli_conn *c)
{
	return pgc_connect(c->pgc) == PGC_OK;
}

enum cli_conn_status cli_conn_wait(struct cli_conn *c)
{
	int rc;

	if (c->interrupt && *c->interrupt)
		return CLI_CONN_INTERRUPTED;
	rc = pgc_wait(c->pgc, -1);
	if (c->interrupt && *c->interrupt)
		return CLI_CONN_INTERRUPTED;
	return rc == PGC_E_LOST || rc == PGC_E_NOT_CONNECTED ? CLI_CONN_LOST : CLI_CONN_OK;
}

static char *dup_or_null(const char *s)
{
	return s ? pgc_strdup(s) : NULL;
}

void cli_answer_copy(struct cli_answer *dst, const struct pgc_ack *a)
{
	cli_answer_free(dst);
	dst->done = true;
	dst->ok = a->ok;
	dst->cls = a->error.cls;
	dst->not_written = a->error.not_written;
	dst->line = a->line ? pgc_strndup(a->line, a->line_len) : NULL;
	dst->row = a->row ? pgc_strndup(a->row, a->row_len) : NULL;
	if (a->ok)
		return;
	dst->code = dup_or_null(a->error.code);
	dst->message = dup_or_null(a->error.message);
	dst->detail = dup_or_null(a->error.detail);
	dst->hint = dup_or_null(a->error.hint);
}

void cli_answer_free(struct cli_answer *a)
{
	free(a->line);
	free(a->row);
	free(a->code);
	free(a->message);
	free(a->detail);
	free(a->hint);
	memset(a, 0, sizeof(*a));
}

static void answer_handler(void *arg, const struct pgc_ack *a)
{
	cli_answer_copy(arg, a);
}

enum cli_conn_status cli_conn_request(struct cli_conn *c, struct cli_answer *ans,
				      int (*send)(pgc_client *pgc, void *user, const void *arg),
				      const void *arg)
{
	enum cli_conn_status st = CLI_CONN_OK;

	cli_answer_free(ans);
	if (send(c->pgc, ans, arg) != PGC_OK)
		return CLI_CONN_LOST;
	c->handler = answer_handler;
	c->handler_arg = ans;
	while (!ans->done && st == CLI_CONN_OK)
		st = cli_conn_wait(c);
	c->handler = NULL;
	return ans->done ? CLI_CONN_OK : st;
}

/* The ping's answer of cli_conn_features(). */
struct features_wait {
	bool     done;
	bool     lost;
	unsigned bits;
};

static void features_handler(void *arg, const struct pgc_ack *a)
{
	struct features_wait *w = arg;

	w->done = true;
	w->lost = !a->ok && a->error.cls == PGC_ERR_CONNECTION_LOST;
	w->bits = (pgc_has_feature(a, "on_conflict") ? CLI_FEATURE_ON_CONFLICT : 0) |
		  (pgc_has_feature(a, "key") ? CLI_FEATURE_KEY : 0);
}

enum cli_conn_status cli_conn_features(struct cli_conn *c, unsigned *features)
{
	struct features_wait w = { false, false, 0 };
	enum cli_conn_status st = CLI_CONN_OK;

	*features = 0;
	if (pgc_send_ping(c->pgc, NULL, NULL) != PGC_OK)
		return CLI_CONN_LOST;
	c->handler = features_handler;
	c->handler_arg = &w;
	while (!w.done && st == CLI_CONN_OK)
		st = cli_conn_wait(c);
	c->handler = NULL;
	if (!w.done)
		return st;
	*features = w.bits;
	return w.lost ? CLI_CONN_LOST : CLI_CONN_OK;
}
