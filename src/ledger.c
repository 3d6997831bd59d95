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

	free(l->keyed);
	while ((w = l->waiters)) {
		l->waiters = w->next;
		free(w->id_json);
		free(w);
	}
	buf_free(&l->scratch);
}

/* ---- pending rows by key ---- */

static size_t key_hash(const char *k, size_t n)
{
	size_t h = 1469598103934665603ULL, i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	return h;
}

static bool same_key(const struct row *a, const struct row *b)
{
	return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* The bucket where `r`'s key is, or the empty one where it would go (linear probing). */
static size_t key_slot(const struct ledger *l, const struct row *r)
{
	size_t mask = l->nkeyed_buckets - 1, i = key_hash(r->key, r->key_len) & mask;

	while (l->keyed[i] && !same_key(l->keyed[i], r))
		i = (i + 1) & mask;
	return i;
}

static void keys_grow(struct ledger *l)
{
	struct row **old = l->keyed;
	size_t n = l->nkeyed_buckets, i;

	l->nkeyed_buckets = n ? n * 2 : 64;
	l->keyed = pgc_calloc(l->nkeyed_buckets, sizeof(*l->keyed));
	for (i = 0; i < n; i++)
		if (old[i])
			l->keyed[key_slot(l, old[i])] = old[i];
	free(old);
}

/* Forget a completed leader's key (backward-shift deletion keeps probing right). */
static void keys_remove(struct ledger *l, const struct row *r)
{
	size_t mask = l->nkeyed_buckets - 1, i = key_slot(l, r), j, home;

	if (l->keyed[i] != r)
		return;
	l->keyed[i] = NULL;
	l->nkeyed--;
	for (j = (i + 1) & mask; l->keyed[j]; j = (j + 1) & mask) {
		home = key_hash(l->keyed[j]->key, l->keyed[j]->key_len) & mask;
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			l->keyed[i] = l->keyed[j];
			l->keyed[j] = NULL;
			i = j;
		}
	}
}

/* Register a keyed row, or attach it to the pending row with its key; true if it leads. */
static bool keys_enter(struct ledger *l, struct row *r)
{
	size_t i;

	if ((l->nkeyed + 1) * 2 > l->nkeyed_buckets)
		keys_grow(l);
	i = key_slot(l, r);
	if (l->keyed[i]) {
		struct row *lead = l->keyed[i], **tail = &lead->followers;
		while (*tail)
			tail = &(*tail)->followers;
		*tail = r;   /* answered in arrival order, after the leader */
		return false;
	}
	l->keyed[i] = r;
	l->nkeyed++;
	return true;
}

bool ledger_accept(struct ledger *l, struct row *r, struct group *g, struct client *c)
{
	r->client = c;
	r->seq = ++l->next_seq;
	client_row_taken(c);
	l->pending_rows++;
	g->pending++;
	stats_row_received(l->stats, &g->stats);
	r->follower_group = g;
	return !r->key || keys_enter(l, r);
}

static void send_ok(struct ledger *l, struct client *c, const char *id_json)
{
	buf_reset(&l->scratch);
	ack_ok(&l->scratch, id_json, NULL, 0, ACTION_NONE_YET);
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

/* A follower gets its leader's answer: ok as a duplicate (its row is stored once), or the error. */
static void complete_followers(struct ledger *l, struct row *lead, bool ok)
{
	struct row *f;

	while ((f = lead->followers)) {
		lead->followers = f->followers;
		f->followers = NULL;
		if (ok) {
			f->outcome = ROW_WRITTEN;
			f->action = ACTION_DUPLICATE;
		} else {
			errdata_copy(&f->error, &lead->error);
			f->outcome = ROW_FAILED;
		}
		ledger_complete(l, f, f->follower_group, ok);
	}
}

void ledger_complete(struct ledger *l, struct row *r, struct group *g, bool committed)
{
	bool ok = committed && r->outcome == ROW_WRITTEN;

	if (r->key)
		keys_remove(l, r);
	buf_reset(&l->scratch);
	if (ok) {
		ack_ok(&l->scratch, r->id_json, r->returned.data, r->returned.len, r->action);
	} else {
		if (!errdata_is_set(&r->error)) /* a bug, but never an ok for a row not known committed */
			errdata_set_pc(&r->error, PC_COMMIT_UNKNOWN, "internal error: row outcome unknown");
		ack_error(&l->scratch, r->id_json, &r->error);
	}
	client_send_line(r->client, l->scratch.data, l->scratch.len);
	stats_row_done(l->stats, &g->stats, ok ? NULL : r->error.code, ev_now(l->loop) - r->accepted_at);
	if (ok && r->action == ACTION_DUPLICATE)
		l->stats->rows_duplicate++;
	g->pending--;
	l->pending_rows--;
	if (l->waiters)
		waiters_row_done(l, r->seq);
	if (r->followers)
		complete_followers(l, r, ok);
	client_row_done(r->client);
	row_free(r);
}

void ledger_fail(struct ledger *l, struct row *r, struct group *g, const struct errdata *e)
{
	errdata_copy(&r->error, e);
	r->outcome = ROW_FAILED;
	ledger_complete(l, r, g, false);
}
