/*
 * ceiling.c — the client-side batch contenders of `make bench`: what a careful
 * application does without the sidecar. It inserts ROWS rows into the demo
 * table, N rows per statement (--rows-per-statement, default 1000), each
 * statement its own transaction, as one of:
 *
 *   unnest       INSERT INTO events (...) SELECT * FROM unnest($1::int4[], ...)
 *                prepared once with typed array parameters (int4[], text[],
 *                float8[], jsonb[]; text format) and run with PQexecPrepared:
 *                the statement the sidecar sends, without its BEGIN/COMMIT
 *   copy         COPY events (...) FROM STDIN, text format
 *   copy-binary  the same in COPY's binary format
 *
 * on --connections C connections (default 1), one thread each, every
 * connection with one statement in flight: C = 2 overlaps one statement's
 * COMMIT (its WAL flush) with the next statement's work, as the sidecar's two
 * connections do. The rows are the ones `pgcoalesce-cli bench` sends through
 * the sidecar (device_id = row number mod 1000, 'bench', 1.5, {"n":1}), so the
 * database does the same work per row. Prints one line:
 *
 *   ceiling mode=unnest connections=1 rows_per_statement=1000 rows=300000 statements=300 seconds=1.9 rows_per_sec=157000 p50_ms=6.1 p99_ms=9.8 max_ms=12.0
 *
 * (latency is per statement: what a client batching rows itself waits).
 *
 * With --wait-start it prints "ready" once connected (and prepared) and waits
 * for a line on standard input before the first statement, so that
 * scripts/bench.py can read the server's CPU figures after connection set-up,
 * which can cost the server tens of milliseconds a connection (it does here).
 *
 * Usage: bench-ceiling [--rows-per-statement N] [--connections C] [--wait-start]
 *                      DSN unnest|copy|copy-binary ROWS
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"

#define CEILING_MAX_CONNECTIONS 64

enum ceiling_mode { MODE_UNNEST, MODE_COPY, MODE_COPY_BINARY };

static const char *const mode_names[] = { "unnest", "copy", "copy-binary" };

/* What every worker shares: the options, the next row to hand out, the latencies. */
struct ceiling {
	const char        *dsn;
	enum ceiling_mode  mode;
	long               rows;           /* rows to insert in all */
	int                per_statement;  /* rows per statement */
	int                connections;
	int                wait_start;     /* --wait-start */
	pthread_mutex_t    lock;           /* guards next, lat, nlat, failed */
	long               next;           /* first row not yet handed out */
	double            *lat;            /* seconds per statement */
	size_t             nlat;
	int                failed;
};

/* One connection and its thread. */
struct worker {
	struct ceiling *c;
	PGconn         *pg;
	struct buf      p[4];   /* unnest: the four array parameters */
	struct buf      data;   /* copy: the COPY data */
	pthread_t       thread;
};

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The four array literals for rows first .. first+n-1. */
static void unnest_params(struct buf p[4], long first, int n)
{
	int i, k;

	for (k = 0; k < 4; k++) {
		buf_reset(&p[k]);
		buf_putc(&p[k], '{');
	}
	for (i = 0; i < n; i++) {
		const char *sep = i ? "," : "";

		buf_printf(&p[0], "%s%ld", sep, (first + i) % 1000);
		buf_printf(&p[1], "%sbench", sep);
		buf_printf(&p[2], "%s1.5", sep);
		buf_printf(&p[3], "%s\"{\\\"n\\\":1}\"", sep);
	}
	for (k = 0; k < 4; k++)
		buf_putc(&p[k], '}');
}

/* Prepare the unnest statement on a new connection, typed: int4[], text[], float8[], jsonb[]. */
static int unnest_prepare(PGconn *pg)
{
	static const Oid types[4] = { 1007, 1009, 1022, 3807 };
	PGresult *res = PQprepare(pg, "ins", "INSERT INTO events (device_id, kind, value, payload) "
				  "SELECT * FROM unnest($1::int4[], $2::text[], $3::float8[], $4::jsonb[])",
				  4, types);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "bench-ceiling: prepare: %s", PQerrorMessage(pg));
	PQclear(res);
	return ok;
}

static int run_unnest(struct worker *w, long first, int n)
{
	const char *vals[4];
	PGresult *res;
	int ok;

	unnest_params(w->p, first, n);
	vals[0] = w->p[0].data, vals[1] = w->p[1].data, vals[2] = w->p[2].data, vals[3] = w->p[3].data;
	res = PQexecPrepared(w->pg, "ins", 4, vals, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(w->pg));
	PQclear(res);
	return ok;
}

static void put_be16(struct buf *b, uint16_t v)
{
	v = htons(v);
	buf_append(b, &v, 2);
}

static void put_be32(struct buf *b, uint32_t v)
{
	v = htonl(v);
	buf_append(b, &v, 4);
}

/* COPY's binary format: signature, flags, header extension, then per row the
 * field count and each field as length + bytes in the type's send format
 * (int4 and float8 big-endian, text raw, jsonb a version byte 1 and its text). */
static void copy_binary_data(struct buf *b, long first, int n)
{
	static const char sig[11] = "PGCOPY\n\377\r\n";
	const double value = 1.5;
	uint64_t bits;
	int i;

	buf_append(b, sig, sizeof sig);
	put_be32(b, 0);
	put_be32(b, 0);
	memcpy(&bits, &value, 8);
	for (i = 0; i < n; i++) {
		put_be16(b, 4);
		put_be32(b, 4);
		put_be32(b, (uint32_t)((first + i) % 1000));
		put_be32(b, 5);
		buf_append(b, "bench", 5);
		put_be32(b, 8);
		put_be32(b, (uint32_t)(bits >> 32));
		put_be32(b, (uint32_t)bits);
		put_be32(b, 8);
		buf_append(b, "\001{\"n\":1}", 8);
	}
	put_be16(b, 0xffff);
}

static void copy_text_data(struct buf *b, long first, int n)
{
	int i;

	for (i = 0; i < n; i++)
		buf_printf(b, "%ld\tbench\t1.5\t{\"n\":1}\n", (first + i) % 1000);
}

static int run_copy(struct worker *w, long first, int n, int binary)
{
	PGresult *res = PQexec(w->pg, binary ?
			       "COPY events (device_id, kind, value, payload) FROM STDIN (FORMAT binary)" :
			       "COPY events (device_id, kind, value, payload) FROM STDIN");
	int ok = PQresultStatus(res) == PGRES_COPY_IN;

	PQclear(res);
	if (!ok) {
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(w->pg));
		return 0;
	}
	buf_reset(&w->data);
	if (binary)
		copy_binary_data(&w->data, first, n);
	else
		copy_text_data(&w->data, first, n);
	if (PQputCopyData(w->pg, w->data.data, (int)w->data.len) != 1 || PQputCopyEnd(w->pg, NULL) != 1) {
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(w->pg));
		return 0;
	}
	res = PQgetResult(w->pg);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(w->pg));
	PQclear(res);
	while ((res = PQgetResult(w->pg)))
		PQclear(res);
	return ok;
}

/* Hand out the next statement's rows: its first row and count, 0 when done
 * (or when another worker failed). */
static int take_rows(struct ceiling *c, long *first)
{
	int n = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->failed && c->next < c->rows) {
		n = c->rows - c->next < c->per_statement ? (int)(c->rows - c->next) : c->per_statement;
		*first = c->next;
		c->next += n;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* A worker thread: statements until the rows run out; latencies into c->lat. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ceiling *c = w->c;
	long first;
	int n, ok = 1;

	while (ok && (n = take_rows(c, &first)) > 0) {
		double s = now_sec(), dt;

		ok = c->mode == MODE_UNNEST ? run_unnest(w, first, n)
		   : run_copy(w, first, n, c->mode == MODE_COPY_BINARY);
		dt = now_sec() - s;
		pthread_mutex_lock(&c->lock);
		c->lat[c->nlat++] = dt;
		c->failed |= !ok;
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/* Connect (and prepare) every worker before the clock starts. */
static int workers_connect(struct ceiling *c, struct worker *w)
{
	int i, k;

	for (i = 0; i < c->connections; i++) {
		w[i].c = c;
		for (k = 0; k < 4; k++)
			buf_init(&w[i].p[k]);
		buf_init(&w[i].data);
		w[i].pg = PQconnectdb(c->dsn);
		if (PQstatus(w[i].pg) != CONNECTION_OK) {
			fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(w[i].pg));
			return 0;
		}
		if (c->mode == MODE_UNNEST && !unnest_prepare(w[i].pg))
			return 0;
	}
	return 1;
}

static void workers_free(struct ceiling *c, struct worker *w)
{
	int i, k;

	for (i = 0; i < c->connections; i++) {
		for (k = 0; k < 4; k++)
			buf_free(&w[i].p[k]);
		buf_free(&w[i].data);
		PQfinish(w[i].pg);
	}
}

/* --wait-start: say so, then wait for a line (or EOF) on standard input. */
static int wait_start(void)
{
	char line[64];

	printf("ready\n");
	fflush(stdout);
	return fgets(line, sizeof line, stdin) != NULL || feof(stdin);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-ceiling [--rows-per-statement N] [--connections C] "
		"[--wait-start] DSN unnest|copy|copy-binary ROWS\n");
	return 2;
}

/* Options and arguments into *c; 0 on a bad one (usage printed). */
static int parse_args(int argc, char **argv, struct ceiling *c)
{
	static const struct option longopts[] = {
		{ "rows-per-statement", required_argument, NULL, 'n' },
		{ "connections", required_argument, NULL, 'c' },
		{ "wait-start", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	int opt, m;

	c->per_statement = 1000;
	c->connections = 1;
	while ((opt = getopt_long(argc, argv, "n:c:w", longopts, NULL)) != -1) {
		if (opt == 'n')
			c->per_statement = atoi(optarg);
		else if (opt == 'c')
			c->connections = atoi(optarg);
		else if (opt == 'w')
			c->wait_start = 1;
		else
			return 0;
	}
	if (argc - optind != 3 || c->per_statement < 1 ||
	    c->connections < 1 || c->connections > CEILING_MAX_CONNECTIONS)
		return 0;
	c->dsn = argv[optind];
	for (m = 0; m < 3 && strcmp(argv[optind + 1], mode_names[m]) != 0; m++)
		;
	c->mode = (enum ceiling_mode)m;
	c->rows = atol(argv[optind + 2]);
	return m < 3 && c->rows > 0;
}

static void report(struct ceiling *c, double seconds)
{
	qsort(c->lat, c->nlat, sizeof(double), cmp_double);
	printf("ceiling mode=%s connections=%d rows_per_statement=%d rows=%ld statements=%zu "
	       "seconds=%.3f rows_per_sec=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	       mode_names[c->mode], c->connections, c->per_statement, c->next, c->nlat, seconds,
	       (double)c->next / seconds, c->lat[c->nlat / 2] * 1e3,
	       c->lat[(c->nlat * 99) / 100] * 1e3, c->lat[c->nlat - 1] * 1e3);
}

int main(int argc, char **argv)
{
	struct ceiling c;
	struct worker w[CEILING_MAX_CONNECTIONS];
	double t0;
	int i, ok;

	memset(&c, 0, sizeof c);
	memset(w, 0, sizeof w);
	if (!parse_args(argc, argv, &c))
		return usage();
	pthread_mutex_init(&c.lock, NULL);
	c.lat = pgc_malloc(sizeof(double) * (size_t)(c.rows / c.per_statement + 1));
	ok = workers_connect(&c, w) && (!c.wait_start || wait_start());
	if (ok) {
		t0 = now_sec();
		for (i = 0; i < c.connections; i++)
			pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		for (i = 0; i < c.connections; i++)
			pthread_join(w[i].thread, NULL);
		ok = !c.failed;
		if (ok)
			report(&c, now_sec() - t0);
	}
	workers_free(&c, w);
	free(c.lat);
	pthread_mutex_destroy(&c.lock);
	return ok ? 0 : 1;
}
