/*
 * stats.h — counters and histograms since start.
 *
 * The figures behind both the `stats` request and GET /metrics (metrics.c
 * renders them both, so they always agree). Global figures live in the
 * sidecar's struct stats, per-table ones in each group's struct
 * table_stats. They are updated where things happen: a row accepted
 * (stats_row_received), a row acked (stats_row_done, from row_complete), a
 * batch ended (stats_batch_done, from batch_finish), a request refused
 * before a row was accepted (stats_request_rejected). Per-table views for
 * rendering are built by metrics.c, their only reader.
 */
#ifndef PGC_STATS_H
#define PGC_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errdata.h"

#define HISTOGRAM_MAX_BUCKETS 20

/* A Prometheus-style histogram with fixed upper bounds (+Inf implied). */
struct histogram {
	const double *bounds;         /* increasing upper bounds */
	size_t        nbounds;        /* <= HISTOGRAM_MAX_BUCKETS */
	uint64_t      counts[HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
	uint64_t      count;
	double        sum;
};

void histogram_init(struct histogram *h, const double *bounds, size_t nbounds);
void histogram_observe(struct histogram *h, double v);

/* Failed rows of one SQLSTATE ("" when the code could not be read). */
struct code_count {
	char     code[6];
	uint64_t n;
};

/* One table's counters (in its group). */
struct table_stats {
	uint64_t           rows_received;
	uint64_t           rows_committed;
	uint64_t           rows_failed;
	struct code_count *failed;    /* rows_failed by SQLSTATE */
	size_t             nfailed;
};

void table_stats_free(struct table_stats *t);

struct stats {
	double   started_at;         /* ev_now() at start (seconds since the epoch) */
	uint64_t rows_received;      /* accepted into a group */
	uint64_t rows_committed;
	uint64_t rows_failed;
	uint64_t batches_committed;  /* at least one row committed */
	uint64_t batches_failed;     /* failed as a whole: PC005/6/7, or an error no row caused alone */
	uint64_t batches_retried;    /* ended after at least one retry */
	uint64_t retries;            /* batch attempts retried after a transient failure */
	uint64_t in_doubt_resolved;
	uint64_t copy_statements;    /* COPY statements that ran without error (--write-path copy) */
	uint64_t copy_failed;        /* COPY statements that failed (their batch goes on as an INSERT's would) */
	uint64_t rows_duplicate;     /* acked ok as duplicates: their key was already stored */
	int64_t  keys_stored;        /* rows of pgcoalesce.keys at the last pruning step (keys.h) */
	uint64_t keys_pruned;        /* keys deleted past --key-retention */
	uint64_t rejected[PC_CODES]; /* requests answered PC00N before a row was accepted */
	uint64_t config_reloads;     /* SIGHUP reloads that succeeded */
	uint64_t config_reload_errors;
	bool     config_last_reload_ok;
	struct histogram batch_rows;     /* rows per batch */
	struct histogram flush_seconds;  /* a batch, from taking its rows to its acks */
	struct histogram ack_seconds;    /* a row, from acceptance to its ack */
};

void stats_init(struct stats *st, double now);

void stats_row_received(struct stats *st, struct table_stats *t);
/* A row completed: ok when `code` is NULL, else failed with that SQLSTATE. */
void stats_row_done(struct stats *st, struct table_stats *t, const char *code, double latency);
/* A batch ended: `ok` rows committed; `failed_whole`: it failed as a whole (not row by row). */
void stats_batch_done(struct stats *st, size_t rows, size_t ok, bool failed_whole, bool retried,
		      double seconds);
/* A request answered with a PC error before any row was accepted. */
void stats_request_rejected(struct stats *st, enum pc_code pc);

/* Add k to the count of `code` (its first codelen characters) in *v[*n], growing it. */
void code_counts_add(struct code_count **v, size_t *n, const char *code, size_t codelen, uint64_t k);

#endif /* PGC_STATS_H */
