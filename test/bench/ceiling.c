/*
 * ceiling.c — the bulk-insert ceiling for `make bench`: one connection
 * inserting client-side generated rows into the demo table, 1000 rows per
 * statement, either as INSERT ... SELECT FROM unnest($1, ...) (the statement
 * the sidecar sends) or as COPY. Prints one line:
 *
 *   ceiling mode=unnest rows=200000 seconds=1.234 rows_per_sec=162074 p50_ms=4.1 p99_ms=6.0 max_ms=9.9
 *
 * (latency here is per statement: what a client batching 1000 rows itself waits.)
 *
 * Usage: bench-ceiling DSN unnest|copy ROWS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"

#define ROWS_PER_STATEMENT 1000

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

/* The same row shape `pgcoalesce-cli bench` sends: device_id, kind, value, payload. */
static void unnest_params(struct buf p[4], long first, int n)
{
	int i, k;

	for (k = 0; k < 4; k++) {
		buf_reset(&p[k]);
		buf_putc(&p[k], '{');
	}
	for (i = 0; i < n; i++) {
		long r = first + i;
		const char *sep = i ? "," : "";
		buf_printf(&p[0], "%s%ld", sep, r % 1000);
		buf_printf(&p[1], "%s\"bench\"", sep);
		buf_printf(&p[2], "%s%ld.5", sep, r);
		buf_printf(&p[3], "%s\"{\\\"n\\\": %ld}\"", sep, r);
	}
	for (k = 0; k < 4; k++)
		buf_putc(&p[k], '}');
}

static int run_unnest(PGconn *pg, long first, int n, struct buf p[4])
{
	const char *vals[4];
	PGresult *res;
	int ok;

	unnest_params(p, first, n);
	vals[0] = p[0].data, vals[1] = p[1].data, vals[2] = p[2].data, vals[3] = p[3].data;
	res = PQexecParams(pg, "INSERT INTO events (device_id, kind, value, payload) "
			   "SELECT * FROM unnest($1::int4[], $2::text[], $3::float8[], $4::jsonb[])",
			   4, NULL, vals, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(pg));
	PQclear(res);
	return ok;
}

static int run_copy(PGconn *pg, long first, int n, struct buf *line)
{
	PGresult *res = PQexec(pg, "COPY events (device_id, kind, value, payload) FROM STDIN");
	int i, ok;

	ok = PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	if (!ok) {
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(pg));
		return 0;
	}
	buf_reset(line);
	for (i = 0; i < n; i++) {
		long r = first + i;
		buf_printf(line, "%ld\tbench\t%ld.5\t{\"n\": %ld}\n", r % 1000, r, r);
	}
	if (PQputCopyData(pg, line->data, (int)line->len) != 1 || PQputCopyEnd(pg, NULL) != 1)
		return 0;
	res = PQgetResult(pg);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(pg));
	PQclear(res);
	while ((res = PQgetResult(pg)))
		PQclear(res);
	return ok;
}

int main(int argc, char **argv)
{
	struct buf p[4], line;
	PGconn *pg;
	long rows, done = 0;
	double t0, dt, *lat;
	size_t nlat = 0, k;
	int copy;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-ceiling DSN unnest|copy ROWS\n");
		return 2;
	}
	copy = strcmp(argv[2], "copy") == 0;
	rows = atol(argv[3]);
	pg = PQconnectdb(argv[1]);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "bench-ceiling: %s", PQerrorMessage(pg));
		return 1;
	}
	for (k = 0; k < 4; k++)
		buf_init(&p[k]);
	buf_init(&line);
	lat = pgc_malloc(sizeof(double) * (size_t)(rows / ROWS_PER_STATEMENT + 1));
	t0 = now_sec();
	while (done < rows) {
		int n = rows - done < ROWS_PER_STATEMENT ? (int)(rows - done) : ROWS_PER_STATEMENT;
		double s = now_sec();
		if (!(copy ? run_copy(pg, done, n, &line) : run_unnest(pg, done, n, p)))
			return 1;
		lat[nlat++] = now_sec() - s;
		done += n;
	}
	dt = now_sec() - t0;
	qsort(lat, nlat, sizeof(double), cmp_double);
	printf("ceiling mode=%s rows=%ld seconds=%.3f rows_per_sec=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	       argv[2], done, dt, (double)done / dt, lat[nlat / 2] * 1e3,
	       lat[(nlat * 99) / 100] * 1e3, lat[nlat - 1] * 1e3);
	for (k = 0; k < 4; k++)
		buf_free(&p[k]);
	buf_free(&line);
	free(lat);
	PQfinish(pg);
	return 0;
}
