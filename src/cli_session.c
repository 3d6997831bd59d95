/*
 * cli_session.c — input lines to requests, results to psql-style output
 * (see cli_session.h).
 */
#include "cli_session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_output.h"
#include "jsontext.h"

#define CLI_MAX_INCLUDE_DEPTH 16

/* Per-tuple state of an INSERT in flight. */
enum cli_row_state {
	CLI_ROW_PENDING = 0,  /* sent (or to be sent), no answer yet */
	CLI_ROW_OK,           /* acked: committed */
	CLI_ROW_FAILED,       /* answered with an error */
};

/* One INSERT statement in flight: its tuples go out pipelined. */
struct cli_insert_run {
	struct cli_session          *s;
	const struct cli_sql_insert *ins;
	long long                    base_id;  /* tuple i has id base_id + i */
	size_t                       queued;   /* tuples queued so far */
	size_t                       ok;       /* tuples acked ok */
	unsigned char               *state;    /* enum cli_row_state per tuple */
	char                       **lines;    /* responses kept: errors, RETURNING rows */
	size_t                       unmatched;      /* answers without a row's id */
	char                       **unmatched_lines;/* all of them, in arrival order */
	struct buf                   req;      /* scratch for one request line */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void cli_session_init(struct cli_session *s, const char *socket_path)
{
	memset(s, 0, sizeof(*s));
	cli_conn_init(&s->conn, socket_path);
	buf_init(&s->query);
	cli_sql_split_init(&s->split);
	cli_sql_insert_init(&s->ins);
	s->next_id = 1;
}

void cli_session_free(struct cli_session *s)
{
	cli_conn_free(&s->conn);
	buf_free(&s->query);
	cli_sql_insert_free(&s->ins);
}

bool cli_session_connect(struct cli_session *s)
{
	return cli_conn_open(&s->conn);
}

int cli_session_status(const struct cli_session *s)
{
	if (s->stop_status)
		return s->stop_status;
	return s->had_error && !s->interactive ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

/* psql's "psql:FILE:LINE: " in front of a script's errors; "" elsewhere. */
static const char *where(const struct cli_session *s)
{
	static char buf[512];

	if (!s->src || !s->src->file)
		return "";
	snprintf(buf, sizeof(buf), "pgcoalesce-cli:%s:%lu: ", s->src->file, s->src->lineno);
	return buf;
}

/* A statement or request failed: ON_ERROR_STOP ends a script here. */
static void session_failed(struct cli_session *s)
{
	s->had_error = true;
	if (s->on_error_stop && !s->interactive) {
		s->quit = true;
		if (!s->stop_status)
			s->stop_status = CLI_EXIT_SCRIPT;
	}
}

/*
 * The connection broke. Interactive: say so and reconnect (psql's "Attempting
 * reset"); otherwise the session ends with status 2.
 */
static void session_lost(struct cli_session *s)
{
	fprintf(stderr, "%spgcoalesce-cli: connection to the sidecar on socket \"%s\" lost: %s\n",
		where(s), s->conn.path, s->conn.err);
	s->had_error = true;
	if (!s->interactive) {
		s->quit = true;
		s->stop_status = CLI_EXIT_NO_SOCKET;
		return;
	}
	fprintf(stderr, "Attempting reconnect: %s\n", cli_conn_open(&s->conn) ? "Succeeded." : "Failed.");
}

/* Waiting was interrupted (Ctrl-C): drop the connection, its late answers
 * would otherwise be taken for the next statement's. */
static void session_interrupted(struct cli_session *s)
{
	*s->interrupt = 0;
	fprintf(stderr, "pgcoalesce-cli: stopped waiting: requests already sent are still "
		"carried out by the sidecar\n");
	if (!cli_conn_open(&s->conn))
		fprintf(stderr, "pgcoalesce-cli: cannot reconnect to \"%s\": %s\n", s->conn.path,
			s->conn.err);
}

/* Run one exchange and handle its failure modes; true when it completed. */
static bool session_exchange(struct cli_session *s, size_t awaited, const struct cli_conn_io *io)
{
	enum cli_conn_status st;

	if (s->conn.fd < 0 && !cli_conn_open(&s->conn)) {
		session_lost(s);
		return false;
	}
	st = cli_conn_exchange(&s->conn, awaited, io, s->interrupt);
	if (st == CLI_CONN_LOST)
		session_lost(s);
	else if (st == CLI_CONN_INTERRUPTED)
		session_interrupted(s);
	return st == CLI_CONN_OK;
}

/* An error answer from the sidecar, as psql prints a server error. */
static void report_ack_error(struct cli_session *s, const struct cli_ack *a, const char *context)
{
	struct cli_report r = { "ERROR", a->message ? a->message : "(no message)", a->detail,
				a->hint, context, NULL, 0, -1 };
	char msg[64];

	if (!a->message) {
		snprintf(msg, sizeof(msg), "error %s", a->code ? a->code : "without a code");
		r.message = msg;
	}
	cli_report_print(stderr, where(s), &r);
}

/* ------------------------------------------------------------ INSERT */

static bool insert_fill(void *arg, struct cli_conn *c)
{
	struct cli_insert_run *run = arg;
	char id[32];

	if (run->queued == run->ins->ntuples)
		return false;
	snprintf(id, sizeof(id), "%lld", run->base_id + (long long)run->queued);
	buf_reset(&run->req);
	cli_sql_request(run->ins, run->queued, id, &run->req);
	cli_conn_queue(c, run->req.data, run->req.len);
	run->queued++;
	return run->queued < run->ins->ntuples;
}

static int insert_on_line(void *arg, const char *line, size_t len)
{
	struct cli_insert_run *run = arg;
	struct cli_ack a;
	size_t i;

	/*
	 * The connection carries nothing but this statement's requests (the
	 * CLI waits for every answer, and reconnects after an interrupt), so
	 * every line answers one of them. One without a row's id (the sidecar
	 * could not read the request) is kept to report for the rows left
	 * without an answer.
	 */
	if (!cli_ack_decode(&a, line, len) || !a.int_id || a.id < run->base_id ||
	    a.id >= run->base_id + (long long)run->queued ||
	    run->state[a.id - run->base_id] != CLI_ROW_PENDING) {
		run->unmatched_lines = pgc_realloc(run->unmatched_lines,
						   (run->unmatched + 1) * sizeof(char *));
		run->unmatched_lines[run->unmatched++] = pgc_strndup(line, len);
		cli_ack_free(&a);
		return 1;
	}
	i = (size_t)(a.id - run->base_id);
	run->state[i] = a.ok ? CLI_ROW_OK : CLI_ROW_FAILED;
	if (a.ok)
		run->ok++;
	if (!a.ok || (run->ins->nreturning && a.row))
		run->lines[i] = pgc_strndup(line, len);
	cli_ack_free(&a);
	return 1;
}

/* The RETURNING rows of the acked tuples, in tuple order. */
static void print_returning(struct cli_insert_run *run)
{
	const struct cli_sql_insert *ins = run->ins;
	bool star = strcmp(ins->returning[0], "*") == 0;
	struct cli_table t;
	struct buf key;
	size_t i, j;

	cli_table_init(&t, star ? 0 : ins->nreturning);
	for (j = 0; !star && j < ins->nreturning; j++)
		cli_table_set_header(&t, j, ins->returning[j]);
	buf_init(&key);
	for (i = 0; i < ins->ntuples; i++) {
		struct cli_ack a;
		size_t pos = 0, vlen, row, col;
		const char *val;

		if (run->state[i] != CLI_ROW_OK || !run->lines[i] ||
		    !cli_ack_decode(&a, run->lines[i], strlen(run->lines[i])))
			continue;
		if (star && t.ncols == 0)
			while (jsontext_object_next(a.row, a.row_len, &pos, &key, &val, &vlen))
				cli_table_column(&t, buf_cstr(&key), true);
		row = cli_table_add_row(&t);
		for (pos = 0; jsontext_object_next(a.row, a.row_len, &pos, &key, &val, &vlen);)
			if ((col = cli_table_column(&t, buf_cstr(&key), false)) != CLI_TABLE_NO_COLUMN)
				cli_table_set_json(&t, row, col, val, vlen);
		cli_ack_free(&a);
	}
	buf_free(&key);
	cli_table_print(&t, stdout);
	cli_table_free(&t);
}

/* PC007: the one answer after which a row may or may not be stored. */
static bool ack_in_doubt(const struct cli_ack *a)
{
	return a->code && strcmp(a->code, "PC007") == 0;
}

/*
 * The sidecar answers a line it cannot read far enough to see its id
 * (PC003: longer than --max-request-bytes) with "id": null, at once and in
 * the order it reads the lines. Each request gets exactly one answer, so
 * once every answer is in, the rows left without one are exactly the rows
 * those id-less answers are about, in the same order. When every one of
 * them is an error that is not PC007, those rows were refused: certainly
 * not stored. Returns whether they were matched.
 */
static bool match_unnamed_answers(struct cli_insert_run *run, size_t pending)
{
	size_t i, k = 0;

	if (run->unmatched == 0 || run->unmatched != pending)
		return false;
	for (i = 0; i < run->unmatched; i++) {
		struct cli_ack a;
		const char *l = run->unmatched_lines[i];
		bool refused = cli_ack_decode(&a, l, strlen(l)) && !a.ok && a.code && !ack_in_doubt(&a);
		cli_ack_free(&a);
		if (!refused)
			return false;
	}
	for (i = 0; i < run->ins->ntuples; i++)
		if (run->state[i] == CLI_ROW_PENDING) {
			run->state[i] = CLI_ROW_FAILED;
			run->lines[i] = run->unmatched_lines[k];
			run->unmatched_lines[k++] = NULL;
		}
	run->unmatched = 0;
	return true;
}

/*
 * Each failed row as psql prints an error. An ERROR means the row is not in
 * the database, but for PC007, which says that it may or may not be.
 */
static void report_failed_rows(struct cli_insert_run *run)
{
	size_t i, n = run->ins->ntuples;
	char context[96];

	for (i = 0; i < n; i++) {
		struct cli_ack a;
		if (run->state[i] != CLI_ROW_FAILED)
			continue;
		if (!cli_ack_decode(&a, run->lines[i], strlen(run->lines[i])))
			continue;
		if (ack_in_doubt(&a) && !a.detail)
			a.detail = "The row may or may not be in the database.";
		snprintf(context, sizeof(context), "row %zu of %zu of the INSERT", i + 1, n);
		report_ack_error(run->s, &a, n > 1 ? context : NULL);
		cli_ack_free(&a);
	}
}

/* Send every tuple of the parsed statement and print the outcome. */
static void run_insert(struct cli_session *s, const struct cli_sql_insert *ins)
{
	struct cli_insert_run run = { s, ins, s->next_id, 0, 0, NULL, NULL, 0, NULL, { NULL, 0, 0 } };
	struct cli_conn_io io = { insert_on_line, insert_fill, &run };
	size_t i, failed = 0, unanswered = 0;
	bool complete;

	s->next_id += (long long)ins->ntuples;
	run.state = pgc_calloc(ins->ntuples, 1);
	run.lines = pgc_calloc(ins->ntuples, sizeof(char *));
	buf_init(&run.req);
	/* on a lost connection, the rows without an answer are reported below */
	complete = session_exchange(s, ins->ntuples, &io);
	for (i = 0; i < ins->ntuples; i++)
		unanswered += run.state[i] == CLI_ROW_PENDING;
	if (complete && match_unnamed_answers(&run, unanswered))
		unanswered = 0;
	for (i = 0; i < ins->ntuples; i++)
		failed += run.state[i] == CLI_ROW_FAILED;
	report_failed_rows(&run);
	if (run.unmatched)
		fprintf(stderr, "%sERROR:  %zu answers did not name a row of the statement, the first: %s\n",
			where(s), run.unmatched, run.unmatched_lines[0]);
	if (unanswered)
		fprintf(stderr, "%sERROR:  %zu of %zu rows got no answer: they may or may not be in "
			"the database\n", where(s), unanswered, ins->ntuples);
	if (ins->nreturning && run.ok)
		print_returning(&run);
	if (run.ok && !s->quiet)
		printf("INSERT 0 %zu\n", run.ok);
	if (failed || unanswered)
		session_failed(s);
	for (i = 0; i < ins->ntuples; i++)
		free(run.lines[i]);
	free(run.lines);
	for (i = 0; i < run.unmatched; i++)
		free(run.unmatched_lines[i]);
	free(run.unmatched_lines);
	free(run.state);
	buf_free(&run.req);
}

/* Parse and run one statement of the statement buffer. */
static void run_statement(struct cli_session *s, const char *text, size_t len)
{
	struct cli_sql_error err;
	enum cli_sql_result r;
	double t0 = now_ms();
	const char *p, *nl;

	while (len > 0 && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
			   text[len - 1] == '\r'))
		len--;
	r = cli_sql_parse(text, len, &s->ins, &err);
	for (p = buf_cstr(&s->ins.notices); (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		fprintf(stderr, "%sNOTICE:  %.*s\n", where(s), (int)(nl - p), p);
	if (r == CLI_SQL_ERROR) {
		struct cli_report rep = { "ERROR", err.message, NULL, err.hint[0] ? err.hint : NULL,
					  NULL, text, len, err.position };
		cli_report_print(stderr, where(s), &rep);
		session_failed(s);
		return;
	}
	if (r == CLI_SQL_EMPTY)
		return;
	run_insert(s, &s->ins);
	cli_sql_insert_free(&s->ins);
	if (s->timing)
		cli_print_timing(stdout, now_ms() - t0);
}

/* ------------------------------------------------------------ single requests */

/* One request, one answer: the raw-JSON line and the meta-commands. */
struct cli_single {
	long long   id;       /* the id the CLI gave it (0 for a raw request) */
	struct buf  answer;
};

/* The connection carries only this request: the line is its answer. */
static int single_on_line(void *arg, const char *line, size_t len)
{
	struct cli_single *one = arg;

	buf_append(&one->answer, line, len);
	return 1;
}

/*
 * Send `req` and wait for its answer into one->answer. False if the
 * connection failed or waiting was interrupted (already reported).
 */
static bool single_request(struct cli_session *s, struct cli_single *one, const char *req, size_t len)
{
	struct cli_conn_io io = { single_on_line, NULL, one };

	buf_init(&one->answer);
	if (s->conn.fd < 0 && !cli_conn_open(&s->conn)) {
		session_lost(s);
		return false;
	}
	cli_conn_queue(&s->conn, req, len);
	return session_exchange(s, 1, &io);
}

static void run_raw(struct cli_session *s, const char *line, size_t len)
{
	struct cli_single one = { 0, { NULL, 0, 0 } };
	struct cli_ack a;
	double t0 = now_ms();

	if (single_request(s, &one, line, len)) {
		printf("%s\n", buf_cstr(&one.answer));
		if (!cli_ack_decode(&a, one.answer.data, one.answer.len) || !a.ok)
			session_failed(s);
		cli_ack_free(&a);
		if (s->timing)
			cli_print_timing(stdout, now_ms() - t0);
	}
	buf_free(&one.answer);
}

/*
 * Send {"op":<op>,"id":N} and decode the answer into *a (free it after).
 * False when there is no usable answer (reported, session marked failed).
 */
static bool op_request(struct cli_session *s, const char *op, struct cli_single *one, struct cli_ack *a)
{
	char req[96];
	int n;

	one->id = s->next_id++;
	n = snprintf(req, sizeof(req), "{\"op\":\"%s\",\"id\":%lld}", op, one->id);
	if (!single_request(s, one, req, (size_t)n)) {
		session_failed(s);
		return false;
	}
	if (!cli_ack_decode(a, one->answer.data, one->answer.len)) {
		fprintf(stderr, "%sERROR:  the sidecar answered \\%s with something that is not JSON\n",
			where(s), op);
		session_failed(s);
		return false;
	}
	if (!a->ok) {
		report_ack_error(s, a, NULL);
		cli_ack_free(a);
		session_failed(s);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ meta-commands */

static void meta_help(void)
{
	printf("General\n"
	       "  \\q                     quit pgcoalesce-cli (also: quit, exit, Ctrl-D)\n"
	       "  \\?                     show this help\n"
	       "  \\conninfo              show the sidecar socket in use\n"
	       "  \\echo [TEXT]           write TEXT to standard output\n"
	       "  \\i FILE                run the commands of FILE\n"
	       "  \\timing [on|off]       show how long each statement and request takes\n"
	       "\n"
	       "Sidecar\n"
	       "  \\ping                  is the sidecar up, and its database?\n"
	       "  \\flush                 wait until every row accepted so far is committed or failed\n"
	       "  \\stats                 the sidecar's counters, in total and per table\n"
	       "\n"
	       "SQL and raw requests\n"
	       "  INSERT INTO name [(col, ...)] VALUES (...), (...) [RETURNING col, ... | *];\n"
	       "  INSERT INTO name DEFAULT VALUES [RETURNING ...];\n"
	       "                         each tuple goes to the sidecar as one request, pipelined;\n"
	       "                         values are literals: 'text', E'esc\\n', $$text$$, numbers\n"
	       "                         (sent exactly as written), NULL, TRUE, FALSE, DEFAULT\n"
	       "  {\"op\": ...}             a line starting with '{' is sent as a raw protocol\n"
	       "                         request; the response is printed as is\n");
}

static void meta_ping(struct cli_session *s)
{
	struct cli_single one;
	struct cli_ack a;
	const cJSON *db;
	double t0 = now_ms();

	if (!op_request(s, "ping", &one, &a)) {
		buf_free(&one.answer);
		return;
	}
	db = cJSON_GetObjectItemCaseSensitive(a.tree, "db");
	printf("sidecar is up, database is %s\n", cJSON_IsString(db) ? db->valuestring : "unknown");
	if (s->timing)
		cli_print_timing(stdout, now_ms() - t0);
	cli_ack_free(&a);
	buf_free(&one.answer);
}

static void meta_flush(struct cli_session *s)
{
	struct cli_single one;
	struct cli_ack a;
	double t0 = now_ms();

	if (op_request(s, "flush", &one, &a)) {
		if (!s->quiet)
			printf("FLUSH\n");
		if (s->timing)
			cli_print_timing(stdout, now_ms() - t0);
		cli_ack_free(&a);
	}
	buf_free(&one.answer);
}

/* The raw JSON text of a member of the object text obj (NULL if absent). */
static const char *member_text(const char *obj, size_t len, const char *name, size_t *vlen)
{
	struct buf key;
	size_t pos = 0;
	const char *val, *found = NULL;

	buf_init(&key);
	while (jsontext_object_next(obj, len, &pos, &key, &val, vlen))
		if (strcmp(buf_cstr(&key), name) == 0) {
			found = val;
			break;
		}
	buf_free(&key);
	return found;
}

/* A cell holding text (not JSON). */
static void set_text_cell(struct cli_table *t, size_t row, size_t col, const char *text, size_t n)
{
	struct buf json;

	buf_init(&json);
	jsontext_put_string(&json, text, n);
	cli_table_set_json(t, row, col, json.data, json.len);
	buf_free(&json);
}

static void stats_row(struct cli_table *t, const struct buf *name, const char *json, size_t len)
{
	size_t row = cli_table_add_row(t);

	set_text_cell(t, row, 0, name->data ? name->data : "", name->len);
	cli_table_set_json(t, row, 1, json, len);
}

/*
 * A histogram {"count":N,"sum":S,"buckets":{"<le>":cumulative,...}} as rows
 * name.count, name.sum, and name.p50/name.p99: the bound of the first
 * bucket holding that share of the observations ("<= 0.005").
 */
static void stats_histogram(struct cli_table *t, struct buf *name, const char *obj, size_t len)
{
	static const double shares[] = { 0.5, 0.99 };
	static const char *const labels[] = { ".p50", ".p99" };
	size_t pos, vlen, blen, k, base = name->len;
	const char *val, *buckets = NULL;
	double count = 0;
	struct buf key;

	buf_init(&key);
	for (pos = 0; jsontext_object_next(obj, len, &pos, &key, &val, &vlen);) {
		if (strcmp(buf_cstr(&key), "buckets") == 0) {
			buckets = val;
			blen = vlen;
			continue;
		}
		if (strcmp(buf_cstr(&key), "count") == 0)
			count = strtod(val, NULL);
		buf_printf(name, ".%s", buf_cstr(&key));
		stats_row(t, name, val, vlen);
		name->len = base;
	}
	for (k = 0; buckets && count > 0 && k < 2; k++) {
		char bound[96];
		for (pos = 0; jsontext_object_next(buckets, blen, &pos, &key, &val, &vlen);)
			if (strtod(val, NULL) >= shares[k] * count)
				break;
		snprintf(bound, sizeof(bound), "<= %s", buf_cstr(&key));
		buf_puts(name, labels[k]);
		stats_row(t, name, "", 0);
		set_text_cell(t, t->nrows - 1, 1, bound, strlen(bound));
		name->len = base;
	}
	buf_free(&key);
}

/* The members of a stats object as rows; nested objects as name.member. */
static void stats_counters(struct cli_table *t, struct buf *name, const char *obj, size_t len)
{
	size_t pos = 0, vlen, base = name->len;
	const char *val;
	struct buf key;

	buf_init(&key);
	while (jsontext_object_next(obj, len, &pos, &key, &val, &vlen)) {
		if (base)
			buf_putc(name, '.');
		buf_append(name, key.data ? key.data : "", key.len);
		if (vlen && val[0] == '{' && member_text(val, vlen, "buckets", &(size_t){ 0 }))
			stats_histogram(t, name, val, vlen);
		else if (vlen && val[0] == '{')
			stats_counters(t, name, val, vlen);
		else
			stats_row(t, name, val, vlen);
		name->len = base;
		buf_cstr(name);
	}
	buf_free(&key);
}

/* The per-table figures: one row per table, one column per figure. */
static void stats_tables(struct cli_table *t, const char *obj, size_t len)
{
	size_t pos = 0, vlen, pos2, v2len, row;
	const char *tab, *val;
	struct buf key;

	buf_init(&key);
	while (jsontext_object_next(obj, len, &pos, &key, &tab, &vlen)) {
		row = cli_table_add_row(t);
		set_text_cell(t, row, 0, key.data ? key.data : "", key.len);
		for (pos2 = 0; jsontext_object_next(tab, vlen, &pos2, &key, &val, &v2len);)
			cli_table_set_json(t, row, cli_table_column(t, buf_cstr(&key), true), val, v2len);
	}
	buf_free(&key);
}

/* \stats: the counters as a two-column table, then one row per table. */
static void print_stats(const char *stats, size_t len)
{
	struct cli_table counters, tables;
	struct buf key, name;
	size_t pos = 0, vlen;
	const char *val;

	buf_init(&key);
	buf_init(&name);
	cli_table_init(&counters, 2);
	cli_table_set_header(&counters, 0, "counter");
	cli_table_set_header(&counters, 1, "value");
	cli_table_init(&tables, 1);
	cli_table_set_header(&tables, 0, "table");
	while (jsontext_object_next(stats, len, &pos, &key, &val, &vlen)) {
		buf_reset(&name);
		buf_append(&name, key.data ? key.data : "", key.len);
		if (strcmp(buf_cstr(&key), "tables") == 0 && vlen && val[0] == '{')
			stats_tables(&tables, val, vlen);
		else if (vlen && val[0] == '{' && member_text(val, vlen, "buckets", &(size_t){ 0 }))
			stats_histogram(&counters, &name, val, vlen);
		else if (vlen && val[0] == '{')
			stats_counters(&counters, &name, val, vlen);
		else
			stats_row(&counters, &name, val, vlen);
	}
	cli_table_print(&counters, stdout);
	cli_table_print(&tables, stdout);
	cli_table_free(&counters);
	cli_table_free(&tables);
	buf_free(&key);
	buf_free(&name);
}

static void meta_stats(struct cli_session *s)
{
	struct cli_single one;
	struct cli_ack a;
	const char *stats;
	size_t len;

	if (!op_request(s, "stats", &one, &a)) {
		buf_free(&one.answer);
		return;
	}
	stats = member_text(one.answer.data, one.answer.len, "stats", &len);
	if (stats && len && stats[0] == '{')
		print_stats(stats, len);
	else
		printf("%s\n", buf_cstr(&one.answer));
	cli_ack_free(&a);
	buf_free(&one.answer);
}

static void meta_timing(struct cli_session *s, const char *arg)
{
	if (!arg)
		s->timing = !s->timing;
	else if (strcmp(arg, "on") == 0 || strcmp(arg, "true") == 0 || strcmp(arg, "1") == 0)
		s->timing = true;
	else if (strcmp(arg, "off") == 0 || strcmp(arg, "false") == 0 || strcmp(arg, "0") == 0)
		s->timing = false;
	else {
		fprintf(stderr, "%sunrecognized value \"%s\" for \"\\timing\": Boolean expected\n",
			where(s), arg);
		session_failed(s);
		return;
	}
	printf("Timing is %s.\n", s->timing ? "on" : "off");
}

/*
 * Split a meta-command line into words: blanks separate them, '...' quotes
 * one (with '' for a quote). Returns the number of words (at most max).
 */
static int meta_words(char *line, char **words, int max)
{
	int n = 0;
	char *p = line, *out;

	while (*p && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		words[n++] = out = p;
		if (*p == '\'') {
			for (p++; *p && !(*p == '\'' && p[1] != '\''); p++) {
				if (*p == '\'')
					p++;
				*out++ = *p;
			}
			if (*p)
				p++;
		} else {
			while (*p && *p != ' ' && *p != '\t')
				*out++ = *p++;
		}
		if (*p)
			p++;
		*out = '\0';
	}
	return n;
}

static void run_meta(struct cli_session *s, const char *line, size_t len)
{
	char *copy = pgc_strndup(line, len), *w[4] = { NULL, NULL, NULL, NULL };
	int n = meta_words(copy, w, 4);
	const char *cmd = n ? w[0] + 1 : "";

	if (strcmp(cmd, "q") == 0 || strcmp(cmd, "quit") == 0)
		s->quit = true;
	else if (strcmp(cmd, "?") == 0)
		meta_help();
	else if (strcmp(cmd, "ping") == 0)
		meta_ping(s);
	else if (strcmp(cmd, "flush") == 0)
		meta_flush(s);
	else if (strcmp(cmd, "stats") == 0)
		meta_stats(s);
	else if (strcmp(cmd, "timing") == 0)
		meta_timing(s, w[1]);
	else if (strcmp(cmd, "conninfo") == 0)
		printf("You are connected to the sidecar on socket \"%s\".\n", s->conn.path);
	else if (strcmp(cmd, "echo") == 0)
		printf("%.*s\n", len > 6 ? (int)(len - 6) : 0, line + 6);
	else if (strcmp(cmd, "i") == 0 || strcmp(cmd, "include") == 0) {
		if (!w[1]) {
			fprintf(stderr, "%s\\%s: missing required argument\n", where(s), cmd);
			session_failed(s);
		} else if (!cli_session_run_file(s, w[1])) {
			session_failed(s);
		}
	} else {
		fprintf(stderr, "%sinvalid command \\%s\nTry \\? for help.\n", where(s), cmd);
		session_failed(s);
	}
	free(copy);
}

/* ------------------------------------------------------------ input */

static bool query_is_empty(const struct cli_session *s)
{
	return s->split.state == CLI_SQL_TOP && !s->split.nonblank;
}

void cli_session_reset_query(struct cli_session *s)
{
	buf_reset(&s->query);
	cli_sql_split_init(&s->split);
}

/* Run every complete statement in the buffer. */
static void run_complete_statements(struct cli_session *s)
{
	size_t end;

	while (!s->quit && cli_sql_split_next(&s->split, s->query.data, s->query.len, &end)) {
		char *stmt = pgc_strndup(s->query.data, end);
		buf_consume(&s->query, end);
		cli_sql_split_init(&s->split);
		run_statement(s, stmt, end);
		free(stmt);
	}
	/* what is left may be blanks and comments only: forget it */
	if (query_is_empty(s))
		cli_session_reset_query(s);
}

/* Each command's output goes out before the next one runs, as psql does
 * (a script's reader sees results as they happen, stdout and stderr in order). */
static void session_line(struct cli_session *s, const char *line, size_t len);

void cli_session_line(struct cli_session *s, const char *line, size_t len)
{
	session_line(s, line, len);
	fflush(stdout);
}

static void session_line(struct cli_session *s, const char *line, size_t len)
{
	size_t i = 0;

	if (s->src)
		s->src->lineno++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (query_is_empty(s) && i < len && line[i] == '{') {
		run_raw(s, line + i, len - i);
		return;
	}
	if (s->split.state == CLI_SQL_TOP && i < len && line[i] == '\\') {
		run_meta(s, line + i, len - i);
		return;
	}
	if (s->interactive && query_is_empty(s)) {
		/* psql's words for lost users at an empty prompt */
		if ((len - i == 4 && strncmp(line + i, "quit", 4) == 0) ||
		    (len - i == 4 && strncmp(line + i, "exit", 4) == 0)) {
			s->quit = true;
			return;
		}
		if (len - i == 4 && strncmp(line + i, "help", 4) == 0) {
			printf("You are using pgcoalesce-cli, the client of the pgcoalesce sidecar.\n"
			       "Type:  \\? for help\n       \\q to quit\n");
			return;
		}
	}
	buf_append(&s->query, line, len);
	buf_putc(&s->query, '\n');
	run_complete_statements(s);
}

void cli_session_flush_input(struct cli_session *s)
{
	if (!s->quit && !query_is_empty(s) && s->query.len > 0) {
		char *stmt = pgc_strndup(s->query.data, s->query.len);
		size_t n = s->query.len;
		cli_session_reset_query(s);
		run_statement(s, stmt, n);
		free(stmt);
	}
	cli_session_reset_query(s);
	fflush(stdout);
}

void cli_session_run_stream(struct cli_session *s, FILE *in, const char *file)
{
	struct cli_source src = { file, 0, s->src ? s->src->depth + 1 : 0, s->src };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	s->src = &src;
	while (!s->quit && (n = getline(&line, &cap, in)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		cli_session_line(s, line, (size_t)n);
	}
	cli_session_flush_input(s);
	free(line);
	s->src = src.outer;
}

bool cli_session_run_file(struct cli_session *s, const char *path)
{
	FILE *f;
	bool quit_before = s->quit;

	if (s->src && s->src->depth >= CLI_MAX_INCLUDE_DEPTH) {
		fprintf(stderr, "%s%s: \\i nested too deeply\n", where(s), path);
		return false;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s%s%s: %s\n", where(s), s->src ? "" : "pgcoalesce-cli: error: ", path,
			strerror(errno));
		return false;
	}
	cli_session_run_stream(s, f, f == stdin ? "<stdin>" : path);
	if (f != stdin)
		fclose(f);
	/* \q inside an included file ends only that file */
	if (s->quit && !s->stop_status && s->src)
		s->quit = quit_before;
	return true;
}

void cli_session_run_string(struct cli_session *s, const char *text)
{
	struct cli_source src = { NULL, 0, 0, s->src };
	const char *p = text, *nl;

	s->src = &src;
	while (!s->quit) {
		nl = strchr(p, '\n');
		cli_session_line(s, p, nl ? (size_t)(nl - p) : strlen(p));
		if (!nl)
			break;
		p = nl + 1;
	}
	cli_session_flush_input(s);
	s->src = src.outer;
}

const char *cli_session_prompt(const struct cli_session *s)
{
	static char prompt[32];

	snprintf(prompt, sizeof(prompt), "pgcoalesce%c> ", cli_sql_split_prompt(&s->split));
	return prompt;
}
