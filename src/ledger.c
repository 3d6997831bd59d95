/*
 * ledger.c — accepted rows until their acks (see ledger.h).
 */
#include "ledger.h"

#include <stdlib.h>

#include "ack.h"
#include "client.h"
#include "group.h"

/* A `flush` request waiting for earlier rows. */
struct ledger_waiter {
	struct ledger_waiter *next;
	struct client        *client;
	char                 *id_json;
	uint64_t              upto_seq;   /* rows with seq <= this must complete */
	size_t                remaining;  /* of those, still pending */
};

void ledger_init(struct ledger *l, struct ev_loop *loop, struct stats *stats)
{
	memset(l, 0, sizeof(*l));
	l->loop = loop;
	l->stats = stats;
	buf_init(&l->scratch);
}

void ledger_free(struct ledger *l)
{
	struct ledger_waiter *w;

	while ((w = l->waiters)) {
		l->waiters = w->next;
		free(w->id_json);
		free(w);
	}
	buf_free(&l->scratch);
}

void ledger_accept(struct ledger *l, struct row *r, struct group *g, struct client *c)
{
	r->client = c;
	r->seq = ++l->next_seq;
	client_row_taken(c);
	l->pending_rows++;
	g->pending++;
	stats_row_received(l->stats, &g->stats);
}

static void send_ok(struct ledger *l, struct client *c, const char *id_json)
{
	buf_reset(&l->scratch);
	ack_ok(&l->scratch, id_json, NULL, 0);
	client_send_line(c, l->scratch.data, l->scratch.len);
}

void ledger_wait(struct ledger *l, struct client *c, const char *id_json)
{
	struct ledger_waiter *w;

	if (!l->pending_rows) {
		send_ok(l, c, id_json);
		return;
	}
	w = pgc_calloc(1, sizeof(*w));
	w->client = c;
	w->id_json = pgc_strdup(id_json);
	w->upto_seq = l->next_seq;
	w->remaining = l->pending_rows; /* every pending row has seq <= upto_seq */
	client_row_taken(c);            /* keeps the client alive until answered */
	w->next = l->waiters;
	l->waiters = w;
}

static void waiters_row_done(struct ledger *l, uint64_t seq)
{
	struct ledger_waiter **pw = &l->waiters, *w;

	while ((w = *pw)) {
		if (seq <= w->upto_seq && --w->remaining == 0) {
			*pw = w->next;
			send_ok(l, w->client, w->id_json);
			client_row_done(w->client);
			free(w->id_json);
			free(w);
			continue;
		}
		pw = &w->next;
	}
}

void ledger_complete(struct ledger *l, struct row *r, struct group *g, bool committed)
{
	bool ok = committed && r->outcome == ROW_WRITTEN;

	buf_reset(&l->scratch);
	if (ok) {
		ack_ok(&l->scratch, r->id_json, r->returned.data, r->returned.len);
	} else {
		if (!errdata_is_set(&r->error)) /* a bug, but never an ok for a row not known committed */
			errdata_set_pc(&r->error, PC_COMMIT_UNKNOWN, "internal error: row outcome unknown");
		ack_error(&l->scratch, r->id_json, &r->error);
	}
	client_send_line(r->client, l->scratch.data, l->scratch.len);
	stats_row_done(l->stats, &g->stats, ok ? NULL : r->error.code, ev_now(l->loop) - r->accepted_at);
	g->pending--;
	l->pending_rows--;
	if (l->waiters)
		waiters_row_done(l, r->seq);
	client_row_done(r->client);
	row_free(r);
}

void ledger_fail(struct ledger *l, struct row *r, struct group *g, const struct errdata *e)
{
	errdata_copy(&r->error, e);
	r->outcome = ROW_FAILED;
	ledger_complete(l, r, g, false);
}
