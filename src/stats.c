/*
 * stats.c — counters and histograms (see stats.h).
 */
#include "stats.h"

#include <stdlib.h>
#include <string.h>


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

void code_counts_add(struct code_count **v, size_t *n, const char *code, size_t codelen, uint64_t k)
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
		code_counts_add(&t->failed, &t->nfailed, code, strlen(code) < 5 ? strlen(code) : 5, 1);
	}
	histogram_observe(&st->ack_seconds, latency < 0 ? 0 : latency);
}

void stats_batch_done(struct stats *st, size_t rows, size_t ok, bool failed_whole, bool retried,
		      double seconds)
{
	if (ok)
		st->batches_committed++;
	if (failed_whole)
		st->batches_failed++;
	if (retried)
		st->batches_retried++;
	histogram_observe(&st->batch_rows, (double)rows);
	histogram_observe(&st->flush_seconds, seconds < 0 ? 0 : seconds);
}

void stats_request_rejected(struct stats *st, enum pc_code pc)
{
	if ((unsigned)pc < PC_CODES)
		st->rejected[pc]++;
}
