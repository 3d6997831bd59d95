/*
 * test_metrics.c — the exposition format writers, histograms, the HTTP
 * request parser of the /metrics endpoint.
 */
#include "unit.h"

#include <math.h>

#include "buf.h"
#include "http.h"
#include "metrics.h"
#include "stats.h"

UNIT_TEST(expo_label_escaping)
{
	struct buf b;

	buf_init(&b);
	expo_label(&b, "table", "public.events");
	expo_label(&b, "code", "a\"b\\c\nd");
	CHECK_STR(buf_cstr(&b), "table=\"public.events\",code=\"a\\\"b\\\\c\\nd\"");
	buf_reset(&b);
	expo_family(&b, "pgcoalesce_x_total", "counter", "Rows \\ with\nnewline \"quoted\"");
	CHECK_STR(buf_cstr(&b), "# HELP pgcoalesce_x_total Rows \\\\ with\\nnewline \"quoted\"\n"
				"# TYPE pgcoalesce_x_total counter\n");
	buf_free(&b);
}

UNIT_TEST(expo_numbers)
{
	struct buf b;

	buf_init(&b);
	expo_number(&b, 0);
	buf_putc(&b, ' ');
	expo_number(&b, 123456789012.0);
	buf_putc(&b, ' ');
	expo_number(&b, 0.1);
	buf_putc(&b, ' ');
	expo_number(&b, 0.0005);
	buf_putc(&b, ' ');
	expo_number(&b, 2.5);
	buf_putc(&b, ' ');
	expo_number(&b, INFINITY);
	buf_putc(&b, ' ');
	expo_number(&b, -INFINITY);
	buf_putc(&b, ' ');
	expo_number(&b, NAN);
	buf_putc(&b, ' ');
	expo_number(&b, 1e300);
	CHECK_STR(buf_cstr(&b), "0 123456789012 0.1 0.0005 2.5 +Inf -Inf NaN 1e+300");
	buf_reset(&b);
	expo_sample(&b, "m", NULL, 3);
	expo_sample(&b, "m", "a=\"1\"", 0.25);
	CHECK_STR(buf_cstr(&b), "m 3\nm{a=\"1\"} 0.25\n");
	buf_free(&b);
}

UNIT_TEST(expo_histogram_cumulative)
{
	static const double bounds[] = { 0.01, 0.1, 1 };
	struct histogram h;
	struct buf b;

	histogram_init(&h, bounds, 3);
	histogram_observe(&h, 0.005);
	histogram_observe(&h, 0.01);   /* le is inclusive */
	histogram_observe(&h, 0.5);
	histogram_observe(&h, 7);
	buf_init(&b);
	expo_histogram(&b, "x_seconds", "X.", &h);
	CHECK_STR(buf_cstr(&b), "# HELP x_seconds X.\n# TYPE x_seconds histogram\n"
				"x_seconds_bucket{le=\"0.01\"} 2\n"
				"x_seconds_bucket{le=\"0.1\"} 2\n"
				"x_seconds_bucket{le=\"1\"} 3\n"
				"x_seconds_bucket{le=\"+Inf\"} 4\n"
				"x_seconds_sum 7.515\n"
				"x_seconds_count 4\n");
	buf_free(&b);
}

UNIT_TEST(stats_rows_and_rejects)
{
	struct stats st;
	struct table_stats t = { 0 };

	stats_init(&st, 1000.0);
	stats_row_received(&st, &t);
	stats_row_received(&st, &t);
	stats_row_received(&st, &t);
	stats_row_done(&st, &t, NULL, 0.002);
	stats_row_done(&st, &t, "23505", 0.003);
	stats_row_done(&st, &t, "23505", -1);   /* clock step: counted as 0 */
	stats_request_rejected(&st, PC_INVALID_JSON);
	stats_request_rejected(&st, PC_UNKNOWN_OP);
	stats_request_rejected(&st, PC_CODES); /* not a PC code: ignored */
	CHECK_INT(st.rows_received, 3);
	CHECK_INT(t.rows_committed, 1);
	CHECK_INT(t.rows_failed, 2);
	CHECK_INT(t.nfailed, 1);
	CHECK_STR(t.failed[0].code, "23505");
	CHECK_INT(t.failed[0].n, 2);
	CHECK_INT(st.rejected[1], 1);
	CHECK_INT(st.rejected[9], 1);
	CHECK_INT(st.ack_seconds.count, 3);
	CHECK_INT(st.ack_seconds.counts[0], 1);
	stats_batch_done(&st, 3, 1, false, true, 0.01);
	stats_batch_done(&st, 2, 0, true, false, 0.01);
	stats_batch_done(&st, 2, 0, false, false, 0.01); /* rows failed on their own: not a failed batch */
	CHECK_INT(st.batches_committed, 1);
	CHECK_INT(st.batches_failed, 1);
	CHECK_INT(st.batches_retried, 1);
	CHECK(st.batch_rows.sum == 7);
	table_stats_free(&t);
}

static int parse(const char *req, char *path)
{
	char method[16];

	return http_parse_request(req, strlen(req), method, sizeof(method), path, 64);
}

UNIT_TEST(http_request_parsing)
{
	char path[64];

	CHECK_INT(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", path), 200);
	CHECK_STR(path, "/metrics");
	CHECK_INT(parse("HEAD /metrics?name[]=x HTTP/1.0\n\n", path), 200);
	CHECK_STR(path, "/metrics");
	CHECK_INT(parse("GET http://host:9187/metrics HTTP/1.1\r\n\r\n", path), 200);
	CHECK_STR(path, "/metrics");
	CHECK_INT(parse("GET http://host HTTP/1.1\r\n\r\n", path), 200);
	CHECK_STR(path, "/");
	CHECK_INT(parse("POST /metrics HTTP/1.1\r\n\r\n", path), 405);
	CHECK_INT(parse("GET /metrics HTTP/2.0\r\n\r\n", path), 505);
	CHECK_INT(parse("GET /metrics HTTP/1.12\r\n\r\n", path), 505);
	CHECK_INT(parse("GET /metrics\r\n\r\n", path), 400);
	CHECK_INT(parse("GET  /metrics HTTP/1.1\r\n\r\n", path), 400);
	CHECK_INT(parse("G@T /metrics HTTP/1.1\r\n\r\n", path), 400);
	CHECK_INT(parse("GET metrics HTTP/1.1\r\n\r\n", path), 400);
	CHECK_INT(parse("GET /a\x01b HTTP/1.1\r\n\r\n", path), 400);
	CHECK_INT(parse("\r\n\r\n", path), 400);
	CHECK_INT(parse("GET /metrics FTP/1.1\r\n\r\n", path), 400);
	CHECK_INT(parse("GET /0123456789012345678901234567890123456789012345678901234567890123456789"
			" HTTP/1.1\r\n\r\n", path), 404);
}

UNIT_TEST(proc_stat_parsing)
{
	/* a command name with spaces and parentheses: fields count from the last ')' */
	static const char stat[] =
		"4242 (pg (x) y) S 1 4242 4242 0 -1 4194560 812 0 0 0 "
		"250 130 0 0 20 -5 1 0 123456 73728000 1500 18446744073709551615 "
		"1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	struct proc_stat_figures pf = { 0 };

	CHECK(metrics_parse_proc_stat(stat, 100, 4096, 1700000000.0, &pf));
	CHECK(pf.cpu_seconds == 3.8);                  /* (250 + 130) / 100 */
	CHECK(pf.virtual_bytes == 73728000.0);
	CHECK(pf.resident_bytes == 1500.0 * 4096);
	CHECK(pf.start_time == 1700000000.0 + 1234.56);
	pf.cpu_seconds = -1;
	CHECK(!metrics_parse_proc_stat("4242 (pgcoalesce) S 1 2 3", 100, 4096, 0, &pf));
	CHECK(!metrics_parse_proc_stat("4242 pgcoalesce S 1 2 3", 100, 4096, 0, &pf));
	CHECK(!metrics_parse_proc_stat("", 100, 4096, 0, &pf));
	CHECK(!metrics_parse_proc_stat(stat, 0, 4096, 0, &pf));
	CHECK(pf.cpu_seconds == -1);                   /* untouched on failure */
}
