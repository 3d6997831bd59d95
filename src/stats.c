/*
 * stats.c — counters and histograms (see stats.h).
 */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "group.h"

/* Upper bounds: rows per batch, and seconds (flush duration, ack latency). */
static const double batch_rows_bounds[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
};
static const double seconds_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void histogram_init(struct histogram *h, const double *bounds, size_t nbounds)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds < HISTOGRAM_MAX_BUCKETS ? nbounds : HISTOGRAM_MAX_BUCKETS;
}

void histogram_observe(struct histogram *h, double v)
{
	size_t i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void stats_init(struct stats *st, double now)
{
	memset(st, 0, sizeof(*st));
	st->started_at = now;
	st->config_last_reload_ok = true;
	histogram_init(&st->batch_rows, batch_rows_bounds, NELEM(batch_rows_bounds));
	histogram_init(&st->flush_seconds, seconds_bounds, NELEM(seconds_bounds));
	histogram_init(&st->ack_seconds, seconds_bounds, NELEM(seconds_bounds));
}

void table_stats_free(struct table_stats *t)
{
	free(t->failed);
	memset(t, 0, sizeof(*t));
}

static void codes_add(struct code_count **v, size_t *n, const char *code, size_t codelen, uint64_t k)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strncmp((*v)[i].code, code, codelen) == 0 && !(*v)[i].code[codelen])
			break;
	if (i == *n) {
		*v = pgc_realloc(*v, (*n + 1) * sizeof(**v));
		memset(&(*v)[i], 0, sizeof(**v));
		memcpy((*v)[i].code, code, codelen < 5 ? codelen : 5);
		(*n)++;
	}
	(*v)[i].n += k;
}

void stats_row_received(struct stats *st, struct table_stats *t)
{
	st->rows_received++;
	t->rows_received++;
}

void stats_row_done(struct stats *st, struct table_stats *t, const char *code, double latency)
{
	if (!code) {
		st->rows_committed++;
		t->rows_committed++;
	} else {
		st->rows_failed++;
		t->rows_failed++;
		codes_add(&t->failed, &t->nfailed, code, strlen(code) < 5 ? strlen(code) : 5, 1);
	}
	histogram_observe(&st->ack_seconds, latency < 0 ? 0 : latency);
}

void stats_batch_done(struct stats *st, size_t rows, size_t ok, size_t failed, bool retried,
		      double seconds)
{
	if (ok)
		st->batches_committed++;
	else if (failed)
		st->batches_failed++;
	if (retried)
		st->batches_retried++;
	histogram_observe(&st->batch_rows, (double)rows);
	histogram_observe(&st->flush_seconds, seconds < 0 ? 0 : seconds);
}

void stats_request_rejected(struct stats *st, const char *code)
{
	unsigned n;

	if (code && strncmp(code, "PC", 2) == 0 && code[2] >= '0' && code[2] <= '9' &&
	    code[3] >= '0' && code[3] <= '9' && code[4] >= '0' && code[4] <= '9') {
		n = (unsigned)(code[2] - '0') * 100 + (unsigned)(code[3] - '0') * 10 + (unsigned)(code[4] - '0');
		if (n < STATS_PC_CODES)
			st->rejected[n]++;
	}
}

/* ---- per-table views ---- */

static void collect_group(struct group *g, void *arg)
{
	struct table_views *tv = arg;
	struct table_view *v;

	if (!g->pending && !g->stats.rows_received && !g->stats.rows_committed && !g->stats.rows_failed)
		return;
	tv->v = pgc_realloc(tv->v, (tv->n + 1) * sizeof(*tv->v));
	v = &tv->v[tv->n++];
	memset(v, 0, sizeof(*v));
	v->name = g->display;
	v->received = g->stats.rows_received;
	v->committed = g->stats.rows_committed;
	v->failed = g->stats.rows_failed;
	v->pending = g->pending;
	if (g->stats.nfailed) {
		v->codes = pgc_malloc(g->stats.nfailed * sizeof(*v->codes));
		memcpy(v->codes, g->stats.failed, g->stats.nfailed * sizeof(*v->codes));
		v->ncodes = g->stats.nfailed;
	}
}

static int view_cmp(const void *a, const void *b)
{
	return strcmp(((const struct table_view *)a)->name, ((const struct table_view *)b)->name);
}

static int code_cmp(const void *a, const void *b)
{
	return strcmp(((const struct code_count *)a)->code, ((const struct code_count *)b)->code);
}

/* Add b's figures into a; b's codes are freed. */
static void view_merge(struct table_view *a, struct table_view *b)
{
	size_t k;

	a->received += b->received;
	a->committed += b->committed;
	a->failed += b->failed;
	a->pending += b->pending;
	for (k = 0; k < b->ncodes; k++)
		codes_add(&a->codes, &a->ncodes, b->codes[k].code, strlen(b->codes[k].code), b->codes[k].n);
	free(b->codes);
	b->codes = NULL;
	b->ncodes = 0;
}

void stats_collect_tables(struct group_registry *reg, struct table_views *out)
{
	size_t i, n = 0;

	out->v = NULL;
	out->n = 0;
	group_foreach(reg, collect_group, out);
	if (!out->n)
		return;
	qsort(out->v, out->n, sizeof(*out->v), view_cmp);
	for (i = 0; i < out->n; i++) {
		if (n && strcmp(out->v[n - 1].name, out->v[i].name) == 0) {
			view_merge(&out->v[n - 1], &out->v[i]);
		} else if (n == STATS_MAX_TABLES) {
			out->v[n - 1].name = "(other)";
			view_merge(&out->v[n - 1], &out->v[i]);
		} else {
			out->v[n++] = out->v[i];
		}
	}
	out->n = n;
	for (i = 0; i < n; i++)
		if (out->v[i].ncodes > 1)
			qsort(out->v[i].codes, out->v[i].ncodes, sizeof(*out->v[i].codes), code_cmp);
}

void stats_tables_free(struct table_views *tv)
{
	size_t i;

	for (i = 0; i < tv->n; i++)
		free(tv->v[i].codes);
	free(tv->v);
	tv->v = NULL;
	tv->n = 0;
}

void stats_failed_by_class(const struct table_views *tv, struct code_count **out, size_t *n)
{
	size_t i, k;

	*out = NULL;
	*n = 0;
	for (i = 0; i < tv->n; i++)
		for (k = 0; k < tv->v[i].ncodes; k++)
			codes_add(out, n, tv->v[i].codes[k].code, strlen(tv->v[i].codes[k].code) >= 2 ? 2 : 0,
				  tv->v[i].codes[k].n);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), code_cmp);
}
