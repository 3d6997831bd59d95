/*
 * pgc_check.c — drives libpgcoalesce against the real sidecar for
 * test_client_c.py, which builds it with `cc $(pkg-config --cflags --libs
 * pgcoalesce)` against an installed library, like any application.
 *
 *   pgc_check ADDRESS SCENARIO [N]
 *
 * Each scenario prints what it saw, one "key value" line per fact, for the
 * Python test to check against the database:
 *   basic     the blocking API: ping, inserts with returning, a row error,
 *             exact numbers, flush, stats
 *   pipeline  N inserts through the non-blocking API and a poll() loop,
 *             with a small in-flight bound (so sends hit PGC_E_FULL)
 *   classes   N inserts; prints how many answers of each error class and
 *             how many said not_written (PC004, PC005, PC008 runs)
 *   lost      pipelines inserts until the connection is lost (the test kills
 *             the sidecar after "started"), then tries to send again
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pgcoalesce.h>

struct counts {
	long ok;
	long by_class[16];
	long not_written;
	long in_doubt;
	long answered;
};

static void on_ack(void *arg, const struct pgc_ack *a)
{
	struct counts *n = arg;

	n->answered++;
	if (a->ok) {
		n->ok++;
		return;
	}
	n->by_class[a->error.cls]++;
	if (a->error.not_written)
		n->not_written++;
	else
		n->in_doubt++;
}

/* Wait for the socket and process, as an application's loop would. */
static int loop_once(pgc_client *c, int timeout_ms)
{
	struct pollfd p = { pgc_fd(c), 0, 0 };
	int want = pgc_want(c), ready = 0, t = pgc_timeout(c);

	if (p.fd < 0)
		return PGC_E_NOT_CONNECTED;
	p.events = (short)((want & PGC_WANT_READ ? POLLIN : 0) | (want & PGC_WANT_WRITE ? POLLOUT : 0));
	if (poll(&p, 1, t >= 0 && t < timeout_ms ? t : timeout_ms) < 0)
		return PGC_OK;
	if (p.revents & (POLLIN | POLLHUP | POLLERR))
		ready |= PGC_WANT_READ;
	if (p.revents & POLLOUT)
		ready |= PGC_WANT_WRITE;
	return pgc_process(c, ready);
}

static void print_error(const char *what, const struct pgc_ack *a)
{
	printf("%s %s %s %s %d\n", what, a->ok ? "ok" : pgc_error_class_name(a->error.cls),
	       a->ok ? "-" : a->error.code, a->ok ? "-" : (a->error.constraint ? a->error.constraint : "-"),
	       a->ok ? 0 : a->error.not_written);
}

static int scenario_basic(pgc_client *c)
{
	const char *ret[] = { "n", "b", "t", NULL };
	const struct pgc_ack *a;
	pgc_row *r = pgc_row_new();
	char *v;

	a = pgc_ping(c);
	printf("ping %d %d\n", a->ok, a->db_up);
	pgc_row_add_number(r, "n", "12345678901234567890.123456789012345678");
	pgc_row_add_int(r, "b", 9223372036854775807LL);
	pgc_row_add_text(r, "t", "it's \"quoted\"\n\xc3\xa9");
	pgc_row_add_json(r, "jb", "{\"a\": [1, 2]}", 13);
	a = pgc_insert(c, "t_values", r, ret, NULL);
	print_error("insert", a);
	v = pgc_json_get(a->row, a->row_len, "n");
	printf("returned_n %s\n", v);
	free(v);
	v = pgc_json_get(a->row, a->row_len, "b");
	printf("returned_b %s\n", v);
	free(v);
	v = pgc_json_get(a->row, a->row_len, "t");
	printf("returned_t_ok %d\n", v && strcmp(v, "it's \"quoted\"\n\xc3\xa9") == 0);
	free(v);
	pgc_row_clear(r);
	pgc_row_add_int(r, "id", 1);
	pgc_row_add_int(r, "v", 1);
	print_error("first", pgc_insert(c, "t_checks", r, NULL, NULL));
	print_error("duplicate", pgc_insert(c, "t_checks", r, NULL, NULL));
	print_error("nosuch", pgc_insert(c, "nosuch", r, NULL, NULL));
	print_error("flush", pgc_flush(c));
	a = pgc_stats(c);
	v = pgc_json_get(a->stats, a->stats_len, "rows_committed");
	printf("stats %d %s\n", a->ok, v);
	free(v);
	pgc_row_free(r);
	return 0;
}

/* Send n inserts of `table` through the non-blocking API; answers counted. */
static void pipeline(pgc_client *c, const char *table, long n, long *full)
{
	pgc_row *r = pgc_row_new();
	long sent = 0;
	char k[32];

	while (sent < n) {
		int rc;
		snprintf(k, sizeof(k), "k%ld", sent);
		pgc_row_clear(r);
		pgc_row_add_text(r, "k", k);
		rc = pgc_send_insert(c, table, r, NULL, NULL, NULL, NULL);
		if (rc == PGC_OK) {
			sent++;
			continue;
		}
		if (rc != PGC_E_FULL) {
			printf("send_failed %d %s\n", rc, pgc_errmsg(c));
			break;
		}
		(*full)++;
		if (loop_once(c, 1000) == PGC_E_LOST)
			break;
	}
	while (pgc_in_flight(c) > 0 && loop_once(c, 1000) != PGC_E_LOST)
		;
	printf("sent %ld\n", sent);
	pgc_row_free(r);
}

static void print_counts(const struct counts *n)
{
	int i;

	printf("answered %ld\nok %ld\nnot_written %ld\nin_doubt %ld\n", n->answered, n->ok,
	       n->not_written, n->in_doubt);
	for (i = 1; i < 16; i++)
		if (n->by_class[i])
			printf("class %s %ld\n", pgc_error_class_name((enum pgc_error_class)i), n->by_class[i]);
}

static int scenario_pipeline(pgc_client *c, long n, const char *table)
{
	struct counts cnt = { 0 };
	long full = 0;

	pgc_set_max_in_flight(c, 64);
	pgc_set_callback(c, on_ack, &cnt);
	pipeline(c, table, n, &full);
	printf("full %d\n", full > 0);
	print_counts(&cnt);
	pgc_set_callback(c, NULL, NULL);
	return 0;
}

static int scenario_lost(pgc_client *c)
{
	struct counts cnt = { 0 };
	pgc_row *r = pgc_row_new();
	long sent = 0;
	int rc = PGC_OK;

	pgc_set_max_in_flight(c, 256);
	pgc_set_callback(c, on_ack, &cnt);
	pgc_row_add_text(r, "k", "lost");
	while (rc != PGC_E_LOST) {
		while (pgc_send_insert(c, "t_keyed", r, NULL, NULL, NULL, NULL) == PGC_OK)
			sent++;
		if (cnt.ok > 0 && sent > 0 && !cnt.in_doubt) {
			static int once;
			if (!once++) {
				printf("started\n");
				fflush(stdout);
			}
		}
		rc = loop_once(c, 1000);
	}
	printf("sent %ld\n", sent);
	print_counts(&cnt);
	printf("in_flight_after %zu\n", pgc_in_flight(c));
	/* the next send reconnects: the sidecar is gone (once the kernel has
	 * torn its socket down: a connect racing that can still succeed) */
	poll(NULL, 0, 300);
	rc = pgc_send_insert(c, "t_keyed", r, NULL, NULL, NULL, NULL);
	printf("resend %s\n", rc == PGC_E_CONNECT ? "connect_failed" : rc == PGC_OK ? "ok" : "other");
	pgc_set_callback(c, NULL, NULL); /* cnt ends with this function */
	pgc_row_free(r);
	return 0;
}

int main(int argc, char **argv)
{
	pgc_client *c;
	int rc = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: pgc_check ADDRESS SCENARIO [N [TABLE]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0); /* the test reads "started" as it comes */
	c = pgc_new(argv[1]);
	printf("version %s\n", pgc_version());
	if (strcmp(argv[2], "basic") == 0)
		rc = scenario_basic(c);
	else if (strcmp(argv[2], "pipeline") == 0)
		rc = scenario_pipeline(c, argc > 3 ? atol(argv[3]) : 1000, argc > 4 ? argv[4] : "t_keyed");
	else if (strcmp(argv[2], "lost") == 0)
		rc = scenario_lost(c);
	pgc_free(c);
	return rc;
}
