/*
 * test_batch.c — the batch machine (batch.c, flush.c) driven with scripted
 * results (fake_pgconn.c): each test queues rows as the sidecar does, lets
 * the flusher start a batch, answers every command it sends, and checks
 * the commands, the states and the acks the client reads.
 */
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "client.h"
#include "fake_pgconn.h"
#include "flush.h"
#include "log.h"
#include "request.h"

struct world {
	struct ev_loop        *loop;
	struct config          cfg;
	struct stats           stats;
	struct group_registry  groups;
	struct request_decoder dec;
	struct ledger          ledger;
	struct client_set      clients;
	struct flusher         fl;
	struct client         *client;
	int                    peer;      /* the application's end of the socket */
};

static void nop_line(void *arg, struct client *c, const char *line, size_t len) { }
static void nop_too_long(void *arg, struct client *c) { }
static bool yes_read(void *arg, const struct client *c) { return true; }

static void world_init(struct world *w, size_t connections)
{
	struct client_ops ops = { nop_line, nop_too_long, yes_read, NULL };
	int sv[2];

	memset(w, 0, sizeof(*w));
	fake_pgconn_reset();
	log_set_level(LOG_ERROR); /* the machine's info and warn lines are expected here */
	w->loop = ev_loop_new(EVFLAG_AUTO);
	config_defaults(&w->cfg);
	w->cfg.connections = connections;
	stats_init(&w->stats, ev_now(w->loop));
	group_registry_init(&w->groups, w->loop, w->cfg.max_delay, w->cfg.max_batch_rows,
			    w->cfg.max_batch_bytes);
	group_registry_set_eager(&w->groups, true);
	request_decoder_init(&w->dec, &w->groups, &w->cfg);
	ledger_init(&w->ledger, w->loop, &w->stats);
	client_set_init(&w->clients, w->loop, &w->cfg, &ops);
	flush_init(&w->fl, w->loop, &w->cfg, &w->stats, &w->ledger, &w->groups);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	w->client = client_new(&w->clients, sv[0], false);
	w->peer = sv[1];
}

static void world_free(struct world *w)
{
	flush_abandon_all(&w->fl); /* a test that stops halfway: its rows get PC005, nothing leaks */
	client_set_free(&w->clients);
	flush_free(&w->fl);
	ledger_free(&w->ledger);
	request_decoder_free(&w->dec);
	group_registry_free(&w->groups);
	config_free(&w->cfg);
	close(w->peer);
	ev_loop_destroy(w->loop);
	fake_pgconn_reset();
}

/* Accept one insert request as the sidecar does. */
static void world_insert(struct world *w, const char *line)
{
	struct request req;

	request_decode(&w->dec, line, strlen(line), ev_now(w->loop), &req);
	CHECK(req.err == PC_NONE && req.row);
	if (req.row) {
		if (ledger_accept(&w->ledger, req.row, req.group, w->client))
			group_add_row(&w->groups, req.group, req.row);
		req.row = NULL;
	}
	request_clear(&req);
}

/* The acks the application has read so far, as one string. */
static const char *world_acks(struct world *w)
{
	static char out[8192];
	ssize_t n;

	client_set_flush_output(&w->clients);
	n = recv(w->peer, out, sizeof(out) - 1, MSG_DONTWAIT);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static enum batch_state first_state(const struct world *w)
{
	return w->fl.batches.batches ? batch_state(w->fl.batches.batches) : BATCH_DONE;
}

/* The oldest command must start with `sql` (its tag is the machine's business). */
#define EXPECT(want)                                                                 \
	do {                                                                         \
		const struct fake_cmd *c_ = fake_pgconn_peek();                      \
		CHECK(c_ != NULL);                                                   \
		if (c_ && strncmp(c_->sql, (want), strlen(want)) != 0)               \
			unit_fail(__FILE__, __LINE__, "next command [%.60s], want [%s]", \
				  c_->sql, (want));                                  \
	} while (0)

static void answer(const char *sql, PGresult *res)
{
	EXPECT(sql);
	fake_pgconn_answer(res);
}

/* The catalog query's answer for table public.t (a int4, b text), oid 16384. */
static void answer_catalog(void)
{
	static const char *const v[] = {
		"public", "t", "a", "pg_catalog.int4", "f", "f", "f", "16384", "23", "-1", NULL, "t", "f",
		"public", "t", "b", "pg_catalog.text", "f", "f", "f", "16384", "25", "-1", NULL, "t", "f",
	};

	answer("WITH RECURSIVE rel AS", fake_result_rows(13, 2, v));
}

static void answer_schema(void)
{
	answer_catalog();
	answer("SYNC", fake_result_sync());
}

/* The schema check's answer: the table as cached, or with column b now int8. */
static void answer_check(bool changed)
{
	static const char *const same[] = { "16384", "a", "23", "-1", "t", "f", "16384", "b", "25", "-1", "t", "f" };
	static const char *const altered[] = { "16384", "a", "23", "-1", "t", "f", "16384", "b", "20", "-1", "t", "f" };

	answer("SELECT r.oid", fake_result_rows(6, 2, changed ? altered : same));
}

/* BEGIN; [SET CONSTRAINTS]; xid and statement_timeout — all fine. */
static void answer_begin(bool setcons)
{
	static const char *const xid[] = { "1234", "31500" };

	answer("BEGIN", fake_result_ok("BEGIN"));
	if (setcons)
		answer("SET CONSTRAINTS", fake_result_ok("SET CONSTRAINTS"));
	answer("SELECT pg_catalog.pg_current_xact_id", fake_result_rows(2, 1, xid));
}

static void insert_three(struct world *w)
{
	world_insert(w, "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1,\"b\":\"x\"}}");
	world_insert(w, "{\"id\":2,\"table\":\"t\",\"row\":{\"a\":2,\"b\":\"y\"}}");
	world_insert(w, "{\"id\":3,\"table\":\"t\",\"row\":{\"a\":3,\"b\":\"z\"}}");
}

/* The acks of insert_three's rows, all committed. */
#define ACKS_OK_1_2_3 "{\"id\":1,\"ok\":true}\n{\"id\":2,\"ok\":true}\n{\"id\":3,\"ok\":true}\n"

/* insert_three on one connection, its schema fetched and its transaction begun: the INSERT is next. */
static void start_three(struct world *w)
{
	world_init(w, 1);
	insert_three(w);
	flush_schedule(&w->fl);
	answer_schema();
	answer_begin(false);
}

static void answer_commit_ok(void)
{
	answer("COMMIT", fake_result_ok("COMMIT"));
	answer("SYNC", fake_result_sync());
}

/* After a failed statement: the schema check aborted with it, then the ROLLBACK. */
static void answer_aborted_and_rolled_back(void)
{
	answer("SELECT r.oid", fake_result_aborted());
	answer("SYNC", fake_result_sync());
	answer("ROLLBACK", fake_result_ok("ROLLBACK"));
	answer("SYNC", fake_result_sync());
}

UNIT_TEST(batch_commits_and_acks_every_row)
{
	struct world w;

	world_init(&w, 1);
	insert_three(&w);
	flush_schedule(&w.fl);
	CHECK_INT(first_state(&w), BATCH_SCHEMA);
	answer_schema();
	CHECK_INT(first_state(&w), BATCH_EXEC);
	answer_begin(false);
	answer("INSERT INTO \"public\".\"t\" (\"a\",\"b\") SELECT", fake_result_ok("INSERT 0 3"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_COMMIT);
	CHECK_STR(world_acks(&w), "");                 /* nothing before COMMIT returned */
	answer_commit_ok();
	CHECK_INT(w.fl.batches.count, 0);
	CHECK_INT(fake_pgconn_pending(), 0);
	CHECK_STR(world_acks(&w), ACKS_OK_1_2_3);
	CHECK_INT(w.ledger.pending_rows, 0);
	CHECK_INT(w.stats.batches_committed, 1);
	world_free(&w);
}

/*
 * Let `ms` of the loop's time pass (ev_now moves only here: a phase with
 * no call takes exactly 0 s, which keeps the tests below far from the
 * COMMIT_HOLD_RATIO line whatever the machine's speed).
 */
static void world_wait_ms(struct world *w, long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
	ev_now_update(w->loop);
}

/* Run the batch of insert_three from its INSERTs to COMMIT sent (schema cached). */
static void run_to_commit(struct world *w, long exec_ms)
{
	answer_begin(false);
	answer("INSERT INTO \"public\".\"t\" (\"a\",\"b\") SELECT", fake_result_ok("INSERT 0 3"));
	answer_check(false);
	if (exec_ms)
		world_wait_ms(w, exec_ms);
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(w), BATCH_COMMIT);
}

/* Two connections; the first batch of insert_three has run its INSERTs (exec_ms) and sent COMMIT. */
static void two_connections_first_commit(struct world *w, long exec_ms)
{
	world_init(w, 2);
	insert_three(w);
	flush_schedule(&w->fl);
	answer_schema();
	run_to_commit(w, exec_ms);
}

static void answer_commit(struct world *w, long commit_ms)
{
	if (commit_ms)
		world_wait_ms(w, commit_ms);
	answer_commit_ok();
}

UNIT_TEST(batch_short_commit_holds_the_next_batch_for_its_connection)
{
	struct world w;

	two_connections_first_commit(&w, 20); /* INSERTs took 20 ms, COMMITs (so far) nothing */
	insert_three(&w);
	group_make_all_ready(&w.groups);
	flush_schedule(&w.fl);            /* the second connection is idle ... */
	CHECK_INT(w.fl.batches.count, 1); /* ... but the next batch waits for this COMMIT */
	answer_commit(&w, 0);
	CHECK_INT(w.fl.batches.count, 0);
	flush_schedule(&w.fl);
	CHECK_INT(w.fl.batches.count, 1);
	CHECK_INT(first_state(&w), BATCH_EXEC);
	run_to_commit(&w, 0);
	answer_commit(&w, 0);
	CHECK_STR(world_acks(&w), ACKS_OK_1_2_3
		  ACKS_OK_1_2_3);
	CHECK_INT(w.groups.ready_head != NULL, 0);
	world_free(&w);
}

UNIT_TEST(batch_long_commit_overlaps_the_next_batch_on_another_connection)
{
	struct world w;

	two_connections_first_commit(&w, 0);
	answer_commit(&w, 20);            /* a slow disk: COMMIT 20 ms, INSERTs nothing */
	insert_three(&w);
	flush_schedule(&w.fl);
	run_to_commit(&w, 0);
	insert_three(&w);
	group_make_all_ready(&w.groups);
	flush_schedule(&w.fl);            /* this COMMIT holds nothing: the next batch starts */
	CHECK_INT(w.fl.batches.count, 2);
	answer_commit(&w, 0);
	run_to_commit(&w, 0);
	answer_commit(&w, 0);
	CHECK_INT(w.fl.batches.count, 0);
	CHECK_INT(w.stats.batches_committed, 3);
	world_free(&w);
}

static void find_group(struct group *g, void *arg)
{
	*(struct group **)arg = g;
}

/* The world's one group (table t). */
static struct group *world_group(struct world *w)
{
	struct group *g = NULL;

	group_foreach(&w->groups, find_group, &g);
	return g;
}

UNIT_TEST(batch_commit_holds_again_every_16th_to_measure_itself)
{
	struct world w;
	struct group *g;
	double first;
	int i;

	two_connections_first_commit(&w, 0);
	g = world_group(&w);
	CHECK_INT(g->commit_held, 1);     /* not measured yet: it holds, and is measured */
	answer_commit(&w, 20);
	first = g->commit_avg;            /* 20 ms, or more on a busy machine */
	CHECK_INT(first >= 0.020, 1);
	/* COMMITs that overlap are not measured (they share the server with
	 * the next INSERTs); one in COMMIT_PROBE_EVERY (16) holds and is */
	for (i = 1; i <= 16; i++) {
		insert_three(&w);
		flush_schedule(&w.fl);
		run_to_commit(&w, 0);
		CHECK_INT(g->commit_held, i == 16);
		answer_commit(&w, 0);
	}
	/* the first sample, then one of about 0 s (the 16th) at weight 1/8 */
	CHECK_INT(fabs(g->commit_avg - 0.875 * first) < 0.001, 1);
	CHECK_INT(w.stats.batches_committed, 17);
	world_free(&w);
}

UNIT_TEST(batch_held_commit_lets_go_of_its_table_past_its_limit)
{
	struct world w;
	struct group *g;

	two_connections_first_commit(&w, 100); /* INSERTs 100 ms; COMMIT not measured: limit 50 ms */
	g = world_group(&w);
	CHECK_INT(g->commit_held, 1);
	insert_three(&w);
	group_make_all_ready(&w.groups);
	flush_schedule(&w.fl);
	CHECK_INT(w.fl.batches.count, 1); /* held */
	world_wait_ms(&w, 80);            /* the COMMIT hangs (a standby gone away, say) */
	ev_run(w.loop, EVRUN_NOWAIT);
	CHECK_INT(g->commit_held, 0);
	CHECK_INT(g->commit_avg >= 0.050, 1); /* the wait counted */
	flush_schedule(&w.fl);
	CHECK_INT(w.fl.batches.count, 2); /* the next batch goes on the other connection */
	answer_commit(&w, 0);             /* the first COMMIT returns after all */
	run_to_commit(&w, 0);
	answer_commit(&w, 0);
	CHECK_INT(w.fl.batches.count, 0);
	CHECK_INT(w.stats.batches_committed, 2);
	world_free(&w);
}

UNIT_TEST(batch_one_slow_commit_does_not_end_the_holding)
{
	struct world w;
	struct group *g;

	two_connections_first_commit(&w, 100);
	answer_commit(&w, 5);             /* INSERTs 100 ms, COMMIT 5 ms: holds */
	insert_three(&w);
	flush_schedule(&w.fl);
	run_to_commit(&w, 0);
	g = world_group(&w);
	answer_commit(&w, 600);           /* one outlier (a new WAL segment, say) */
	insert_three(&w);
	flush_schedule(&w.fl);
	run_to_commit(&w, 0);
	/* counted at twice the average, not 600 ms (which would make it ~80) */
	CHECK_INT(g->commit_held, 1);
	CHECK_INT(g->commit_avg < 0.050, 1);
	answer_commit(&w, 0);
	world_free(&w);
}

UNIT_TEST(batch_isolates_a_bad_row_and_commits_the_others)
{
	struct world w;
	int i;

	start_three(&w);
	answer("INSERT", fake_result_error("23505", "duplicate key value"));
	answer("SELECT r.oid", fake_result_aborted());
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_ROLLBACK);
	answer("ROLLBACK", fake_result_ok("ROLLBACK"));
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_ISOLATE);
	answer_begin(true);
	answer("SYNC", fake_result_sync());            /* the header's */
	/* row 1 ok; row 2 fails; row 3 runs in the aborted transaction */
	answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
	answer("INSERT", fake_result_ok("INSERT 0 1"));
	answer("RELEASE", fake_result_ok("RELEASE"));
	answer("SYNC", fake_result_sync());
	answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
	answer("INSERT", fake_result_error("23505", "duplicate key value"));
	answer("RELEASE", fake_result_aborted());
	answer("SYNC", fake_result_sync());
	for (i = 0; i < 3; i++)
		fake_pgconn_answer(fake_result_error("25P02", "current transaction is aborted"));
	answer("SYNC", fake_result_sync());            /* the window's last: recover, go on */
	answer("ROLLBACK TO SAVEPOINT", fake_result_ok("ROLLBACK"));
	answer("RELEASE", fake_result_ok("RELEASE"));
	answer("SYNC", fake_result_sync());            /* the recovery's */
	CHECK_INT(first_state(&w), BATCH_ISOLATE);
	CHECK_INT(fake_pgconn_pending(), 4);           /* row 3 again, sent behind the recovery */
	answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
	answer("INSERT", fake_result_ok("INSERT 0 1"));
	answer("RELEASE", fake_result_ok("RELEASE"));
	CHECK_INT(first_state(&w), BATCH_ISOLATE);
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_ISOLATE);     /* every row tried: the schema check */
	answer_check(false);
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_COMMIT);
	answer_commit_ok();
	CHECK_INT(w.fl.batches.count, 0);
	CHECK_STR(world_acks(&w),
		  "{\"id\":1,\"ok\":true}\n"
		  "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"23505\",\"message\":\"duplicate key value\"}}\n"
		  "{\"id\":3,\"ok\":true}\n");
	world_free(&w);
}

/* --write-path copy: BEGIN and the xid of a script, whose next step is the COPY. */
static void answer_copy_script_head(void)
{
	static const char *const xid[] = { "1234", "31500" };

	CHECK(fake_pgconn_peek() && fake_pgconn_peek()->script);
	answer("BEGIN", fake_result_ok("BEGIN"));
	answer("SELECT pg_catalog.pg_current_xact_id", fake_result_rows(2, 1, xid));
	CHECK(fake_pgconn_peek() && fake_pgconn_peek()->script);
	EXPECT("COPY \"public\".\"t\" (\"a\",\"b\") FROM STDIN");
}

/* Plain rows go as one COPY, its data one text line per row; COMMIT as always. */
UNIT_TEST(batch_copy_writes_plain_rows_with_one_copy)
{
	struct world w;

	world_init(&w, 1);
	w.cfg.write_path = WRITE_COPY;
	world_insert(&w, "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1,\"b\":\"x\\ty\"}}");
	world_insert(&w, "{\"id\":2,\"table\":\"t\",\"row\":{\"a\":null,\"b\":\"back\\\\slash\"}}");
	flush_schedule(&w.fl);
	answer_schema();
	CHECK_INT(first_state(&w), BATCH_EXEC);
	answer_copy_script_head();
	CHECK(fake_pgconn_peek() && fake_pgconn_peek()->param1 &&
	      strcmp(fake_pgconn_peek()->param1, "1\tx\\ty\n\\N\tback\\\\slash\n") == 0);
	answer("COPY", fake_result_ok("COPY 2"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_COMMIT);
	answer_commit_ok();
	CHECK_STR(world_acks(&w), "{\"id\":1,\"ok\":true}\n{\"id\":2,\"ok\":true}\n");
	CHECK_INT(w.stats.copy_statements, 1);
	CHECK_INT(w.stats.copy_failed, 0);
	world_free(&w);
}

/*
 * A COPY that fails on a row's data: rolled back, then row by row with
 * INSERT as any batch; a row fails alone with the INSERT's error. Some row
 * failed, so the table keeps COPY.
 */
UNIT_TEST(batch_copy_failure_goes_row_by_row_with_insert)
{
	struct world w;

	world_init(&w, 1);
	w.cfg.write_path = WRITE_COPY;
	insert_three(&w);
	flush_schedule(&w.fl);
	answer_schema();
	answer_copy_script_head();
	answer("COPY", fake_result_error("23505", "duplicate key value"));
	answer("SELECT r.oid", fake_result_aborted()); /* the check, skipped */
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_ROLLBACK);
	CHECK_INT(w.stats.copy_failed, 1);
	answer("ROLLBACK", fake_result_ok("ROLLBACK"));
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_ISOLATE);
	answer_begin(true);
	answer("SYNC", fake_result_sync());
	answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
	answer("INSERT INTO \"public\".\"t\"", fake_result_ok("INSERT 0 1"));
	answer("RELEASE", fake_result_ok("RELEASE"));
	answer("SYNC", fake_result_sync());
	answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
	answer("INSERT INTO \"public\".\"t\"", fake_result_error("23505", "duplicate key value"));
	answer("RELEASE", fake_result_aborted());
	answer("SYNC", fake_result_sync());
	answer("SAVEPOINT", fake_result_aborted());
	answer("INSERT", fake_result_aborted());
	answer("RELEASE", fake_result_aborted());
	answer("SYNC", fake_result_sync());
	answer("ROLLBACK TO SAVEPOINT", fake_result_ok("ROLLBACK"));
	answer("RELEASE", fake_result_ok("RELEASE"));
	answer("SYNC", fake_result_sync());
	answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
	answer("INSERT INTO \"public\".\"t\"", fake_result_ok("INSERT 0 1"));
	answer("RELEASE", fake_result_ok("RELEASE"));
	answer("SYNC", fake_result_sync());
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w),
		  "{\"id\":1,\"ok\":true}\n"
		  "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"23505\",\"message\":\"duplicate key value\"}}\n"
		  "{\"id\":3,\"ok\":true}\n");
	CHECK_INT(w.fl.batches.count, 0);
	CHECK(!group_get(&w.groups, NULL, "t")->copy_off);
	world_free(&w);
}

/*
 * A COPY that fails although every row then goes in alone: COPY itself is
 * what the table refuses, so its next batch is an INSERT.
 */
UNIT_TEST(batch_copy_refused_where_insert_is_not_turns_copy_off)
{
	struct world w;
	int i;

	world_init(&w, 1);
	w.cfg.write_path = WRITE_COPY;
	insert_three(&w);
	flush_schedule(&w.fl);
	answer_schema();
	answer_copy_script_head();
	answer("COPY", fake_result_error("P0001", "no COPY here"));
	answer_aborted_and_rolled_back();
	answer_begin(true);
	answer("SYNC", fake_result_sync());
	for (i = 0; i < 3; i++) {
		answer("SAVEPOINT", fake_result_ok("SAVEPOINT"));
		answer("INSERT INTO \"public\".\"t\"", fake_result_ok("INSERT 0 1"));
		answer("RELEASE", fake_result_ok("RELEASE"));
		answer("SYNC", fake_result_sync());
	}
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w), ACKS_OK_1_2_3);
	insert_three(&w);
	flush_schedule(&w.fl);
	CHECK(fake_pgconn_peek() && !fake_pgconn_peek()->script);
	answer_begin(false);
	answer("INSERT INTO \"public\".\"t\" (\"a\",\"b\") SELECT", fake_result_ok("INSERT 0 3"));
	CHECK_INT(w.stats.copy_failed, 1);
	world_free(&w);
}

UNIT_TEST(batch_lost_during_commit_is_resolved_before_the_acks)
{
	struct world w;
	struct pgconn *pc;
	static const char *const committed[] = { "committed" };

	start_three(&w);
	answer("INSERT", fake_result_ok("INSERT 0 3"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	pc = &w.fl.pool.conns[0];
	pgconn_abort(pc, "server closed the connection unexpectedly");
	CHECK_INT(first_state(&w), BATCH_IN_DOUBT);
	CHECK_STR(world_acks(&w), "");
	flush_schedule(&w.fl);                         /* no connection: still waiting */
	CHECK_INT(fake_pgconn_pending(), 0);
	fake_pgconn_up(pc);
	flush_schedule(&w.fl);
	CHECK_INT(first_state(&w), BATCH_RESOLVE);
	answer("SELECT CASE WHEN $1::pg_catalog.xid8", fake_result_rows(1, 1, committed));
	answer("SYNC", fake_result_sync());
	CHECK_INT(w.fl.batches.count, 0);
	CHECK_STR(world_acks(&w), ACKS_OK_1_2_3);
	CHECK_INT(w.stats.in_doubt_resolved, 1);
	world_free(&w);
}

UNIT_TEST(batch_transient_error_backs_off_and_runs_again)
{
	struct world w;

	start_three(&w);
	answer("INSERT", fake_result_error("40P01", "deadlock detected"));
	answer_aborted_and_rolled_back();
	CHECK_INT(first_state(&w), BATCH_BACKOFF);
	CHECK_INT(w.stats.retries, 1);
	CHECK(pgpool_idle(&w.fl.pool) != NULL);        /* the connection went back */
	/* the retry timer (10 ms +-20%): one iteration can wake a little early */
	for (int i = 0; i < 100 && first_state(&w) == BATCH_BACKOFF; i++)
		ev_run(w.loop, EVRUN_ONCE);
	CHECK_INT(first_state(&w), BATCH_QUEUED);
	flush_schedule(&w.fl);
	CHECK_INT(first_state(&w), BATCH_EXEC);        /* the schema is cached now */
	answer_begin(false);
	answer("INSERT", fake_result_ok("INSERT 0 3"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w), ACKS_OK_1_2_3);
	CHECK_INT(w.stats.batches_retried, 1);
	world_free(&w);
}

UNIT_TEST(batch_unknown_column_fails_only_its_row_without_a_statement)
{
	struct world w;

	world_init(&w, 1);
	world_insert(&w, "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1}}");
	world_insert(&w, "{\"id\":2,\"table\":\"t\",\"row\":{\"nope\":1}}");
	flush_schedule(&w.fl);
	answer_schema();
	answer_begin(false);
	answer("INSERT INTO \"public\".\"t\" (\"a\")", fake_result_ok("INSERT 0 1"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w),
		  "{\"id\":1,\"ok\":true}\n"
		  "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"42703\",\"message\":"
		  "\"column \\\"nope\\\" of relation \\\"t\\\" does not exist\"}}\n");
	world_free(&w);
}

UNIT_TEST(batch_table_changed_under_it_is_rolled_back_and_rewritten)
{
	struct world w;

	start_three(&w);
	answer("INSERT", fake_result_ok("INSERT 0 3"));
	answer_check(true);                            /* b is int8 now: not what the INSERT cast to */
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_ROLLBACK);    /* never COMMIT */
	answer("ROLLBACK", fake_result_ok("ROLLBACK"));
	answer("SYNC", fake_result_sync());
	CHECK_INT(first_state(&w), BATCH_SCHEMA);      /* refetch, on the same connection */
	answer_schema();
	answer_begin(false);
	answer("INSERT", fake_result_ok("INSERT 0 3"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w), ACKS_OK_1_2_3);
	world_free(&w);
}

UNIT_TEST(batch_error_of_no_known_class_isolates_instead_of_failing_all)
{
	struct world w;

	start_three(&w);
	answer("INSERT", fake_result_error("U0001", "rejected by a trigger"));
	answer_aborted_and_rolled_back();
	CHECK_INT(first_state(&w), BATCH_ISOLATE);
	world_free(&w);
}

/*
 * Upserts on one key go in rounds, each key at most once a statement, in
 * arrival order: no 21000, and each ack says what its row did.
 */
UNIT_TEST(batch_upsert_rounds_each_key_once_per_statement)
{
	static const char *const ins2[] = { "t", "t" }, *const upd[] = { "f" };
	const char *oc = ",\"on_conflict\":{\"columns\":[\"a\"],\"do\":\"update\",\"set\":[\"b\"]}}";
	char line[256];
	struct world w;
	int i;
	const char *rows[] = { "\"a\":1,\"b\":\"x\"", "\"a\":1,\"b\":\"y\"", "\"a\":2,\"b\":\"z\"",
			       "\"a\":1,\"b\":\"w\"" };

	world_init(&w, 1);
	for (i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "{\"id\":%d,\"table\":\"t\",\"row\":{%s}%s", i + 1, rows[i], oc);
		world_insert(&w, line);
	}
	flush_schedule(&w.fl);
	answer_schema();
	answer_begin(false);
	for (i = 0; i < 3; i++) {
		const struct fake_cmd *c = fake_pgconn_peek();
		CHECK(c && c->param1);
		if (c && c->param1)
			CHECK_STR(c->param1, i == 0 ? "{\"1\",\"2\"}" : "{\"1\"}");
		answer("INSERT INTO \"public\".\"t\" AS pgcoalesce_t", i == 0 ? fake_result_rows(1, 2, ins2)
									    : fake_result_rows(1, 1, upd));
	}
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w), "{\"id\":1,\"ok\":true,\"action\":\"insert\"}\n"
				  "{\"id\":2,\"ok\":true,\"action\":\"update\"}\n"
				  "{\"id\":3,\"ok\":true,\"action\":\"insert\"}\n"
				  "{\"id\":4,\"ok\":true,\"action\":\"update\"}\n");
	world_free(&w);
}

/*
 * Keys: the table is set up before the first keyed batch; a key the keys
 * statement did not store was there already (a duplicate, not written);
 * a request with the key of a pending row follows it and shares its answer.
 */
UNIT_TEST(batch_keys_duplicates_and_followers)
{
	static const char *const stored[] = { "k2" };
	struct world w;

	world_init(&w, 1);
	world_insert(&w, "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1},\"key\":\"k1\"}");
	world_insert(&w, "{\"id\":2,\"table\":\"t\",\"row\":{\"a\":2},\"key\":\"k2\"}");
	world_insert(&w, "{\"id\":3,\"table\":\"t\",\"row\":{\"a\":2},\"key\":\"k2\"}");
	CHECK_INT(w.groups.ready_head ? w.groups.ready_head->nrows : 0, 2); /* id 3 follows id 2 */
	flush_schedule(&w.fl);
	CHECK_INT(first_state(&w), BATCH_SCHEMA);
	answer_catalog();
	answer("DO $pgcoalesce$", fake_result_ok("DO")); /* the key table's setup */
	answer("SYNC", fake_result_sync());
	answer_begin(false);
	answer("INSERT INTO pgcoalesce.keys", fake_result_rows(1, 1, stored));
	answer("INSERT INTO \"public\".\"t\" (\"a\") SELECT", fake_result_ok("INSERT 0 1"));
	answer_check(false);
	answer("SYNC", fake_result_sync());
	answer_commit_ok();
	CHECK_STR(world_acks(&w), "{\"id\":1,\"ok\":true,\"duplicate\":true}\n"
				  "{\"id\":2,\"ok\":true}\n"
				  "{\"id\":3,\"ok\":true,\"duplicate\":true}\n");
	CHECK_INT(w.stats.rows_duplicate, 2);
	CHECK(w.fl.batches.keys_ready);
	world_free(&w);
}
