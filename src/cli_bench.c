/*
 * cli_bench.c — `pgcoalesce-cli bench` (see cli_bench.h).
 */
#include "cli_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "buf.h"
#include "cli_conn.h"
#include "jsontext.h"
#include "linebuf.h"

#define BENCH_READ_CHUNK 65536
/* After the last request is sent, how long unanswered ones are waited for. */
#define BENCH_DRAIN_SECONDS 60.0

/* The demo table of sql/demo.sql and a row like make bench's pgbench script. */
#define BENCH_DEFAULT_TABLE "events"

struct bench;

/* One connection to the sidecar. */
struct bench_client {
	struct bench  *b;
	int            fd;       /* -1 once closed */
	ev_io          rio;
	ev_io          wio;
	struct linebuf in;
	struct buf     out;      /* requests not yet written */
	double        *sent_at;  /* per slot: when its request was queued (ms) */
	int           *free_slots; /* free slots (a stack) */
	size_t         nfree;
	size_t         inflight;
};

struct bench_opts {
	const char *socket_path;
	const char *table;
	const char *row;         /* --row, "{}" for a table other than the demo's; NULL: the demo row */
	long        clients;
	long        pipeline;
	long long   rows;        /* 0: run for `duration` */
	double      duration;    /* seconds */
};

struct bench {
	struct bench_opts    o;
	struct ev_loop      *loop;
	struct bench_client *clients;
	size_t               alive;       /* clients still connected */
	char                *table_json;  /* the table name as a JSON string */
	bool                 sending;     /* false once the rows or the time are up */
	long long            sent;
	long long            ok;
	long long            failed;
	double               t_start;     /* ms, CLOCK_MONOTONIC */
	double               t_last_ack;
	uint32_t            *lat_us;      /* every ack's latency */
	size_t               nlat;
	size_t               lat_cap;
	char                 first_error[512];
	char                 lost[256];   /* why a connection ended, when one did */
	ev_timer             deadline;    /* end of --duration, then of draining */
	ev_timer             progress;    /* the live line, on a terminal */
	long long            last_ok;     /* acked ok at the previous progress tick */
	bool                 show_progress;
};

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"pgcoalesce-cli bench drives insert load through the sidecar and measures it.\n"
		"\n"
		"Usage: pgcoalesce-cli [-s SOCKET] bench [OPTION]...\n"
		"\n"
		"  --table=T        table to insert into, named as in the protocol (exact;\n"
		"                   \"schema.table\" splits at the first dot); default \"%s\"\n"
		"  --row=JSON       the row object to send; default for the demo table\n"
		"                   {\"device_id\": <row number mod 1000>, \"kind\": \"bench\",\n"
		"                   \"value\": 1.5, \"payload\": {\"n\": 1}}, for others {} (defaults)\n"
		"  --clients=C      connections (default 8)\n"
		"  --pipeline=K     requests in flight per connection (default 16)\n"
		"  --rows=N         send N rows in total, then wait for their acks\n"
		"  --duration=S     send for S seconds (default 10 without --rows)\n"
		"  -s, --socket=PATH  the sidecar's socket\n"
		"  --help           show this help and exit\n"
		"\n"
		"Prints rows/s (rows acked ok per second), acked ok/failed and the ack latency\n"
		"p50/p99/max; a progress line on stderr while it runs, on a terminal.\n"
		"Exit status: 0 every row acked ok, 1 some failed or got no answer, 2 a bad\n"
		"option or the socket cannot be reached.\n",
		BENCH_DEFAULT_TABLE);
}

static bool parse_long(const char *name, const char *v, long long min, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < min) {
		fprintf(stderr, "pgcoalesce-cli bench: invalid value \"%s\" for --%s\n", v, name);
		return false;
	}
	*out = n;
	return true;
}

static bool check_row(const char *row)
{
	cJSON *j = cJSON_ParseWithOpts(row, NULL, 1); /* 1: nothing may follow the object */
	bool ok = cJSON_IsObject(j) && !strchr(row, '\n') && !strchr(row, '\r');

	cJSON_Delete(j);
	if (!ok)
		fprintf(stderr, "pgcoalesce-cli bench: --row must be a JSON object on one line\n");
	return ok;
}

/* Returns -1 to go on, else the exit status. */
static int bench_options(struct bench_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "row", required_argument, NULL, 'R' },
		{ "clients", required_argument, NULL, 'c' },
		{ "pipeline", required_argument, NULL, 'k' },
		{ "rows", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	char *end;
	int opt;

	o->table = BENCH_DEFAULT_TABLE;
	o->clients = 8;
	o->pipeline = 16;
	o->duration = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
		switch (opt) {
		case 't': o->table = optarg; break;
		case 'R': if (!check_row(optarg)) return 2; o->row = optarg; break;
		case 'c': if (!parse_long("clients", optarg, 1, &v) || v > 10000) return 2; o->clients = (long)v; break;
		case 'k': if (!parse_long("pipeline", optarg, 1, &v) || v > 100000) return 2; o->pipeline = (long)v; break;
		case 'n': if (!parse_long("rows", optarg, 1, &v)) return 2; o->rows = v; break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (end == optarg || *end || !(o->duration > 0)) {
				fprintf(stderr, "pgcoalesce-cli bench: invalid value \"%s\" for --duration\n", optarg);
				return 2;
			}
			break;
		case 's': o->socket_path = optarg; break;
		case 'h': bench_usage(stdout); return 0;
		default:
			fprintf(stderr, "Try \"pgcoalesce-cli bench --help\" for more information.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pgcoalesce-cli bench: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (o->rows && o->duration > 0) {
		fprintf(stderr, "pgcoalesce-cli bench: give --rows or --duration, not both\n");
		return 2;
	}
	if (!o->rows && !(o->duration > 0))
		o->duration = 10;
	/* the demo row has the demo table's columns; elsewhere every column takes its default */
	if (!o->row && strcmp(o->table, BENCH_DEFAULT_TABLE) != 0)
		o->row = "{}";
	return -1;
}

/* ------------------------------------------------------------ the load */

static void bench_client_close(struct bench_client *c, const char *why)
{
	struct bench *b = c->b;

	if (c->fd < 0)
		return;
	ev_io_stop(b->loop, &c->rio);
	ev_io_stop(b->loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	if (!b->lost[0])
		snprintf(b->lost, sizeof(b->lost), "%s", why);
	if (--b->alive == 0)
		ev_break(b->loop, EVBREAK_ALL);
}

/* No more requests: the rows or the time are up. Unanswered ones get
 * BENCH_DRAIN_SECONDS more. */
static void bench_stop_sending(struct bench *b)
{
	b->sending = false;
	ev_timer_stop(b->loop, &b->deadline);
	ev_timer_set(&b->deadline, BENCH_DRAIN_SECONDS, 0.);
	ev_timer_start(b->loop, &b->deadline);
}

/* Queue one request in a free slot. */
static void bench_queue_row(struct bench_client *c)
{
	struct bench *b = c->b;
	int slot = c->free_slots[--c->nfree];

	if (b->o.row)
		buf_printf(&c->out, "{\"id\":%d,\"table\":%s,\"row\":%s}\n", slot, b->table_json, b->o.row);
	else
		buf_printf(&c->out, "{\"id\":%d,\"table\":%s,\"row\":{\"device_id\":%lld,\"kind\":\"bench\","
			   "\"value\":1.5,\"payload\":{\"n\":1}}}\n", slot, b->table_json, b->sent % 1000);
	c->sent_at[slot] = mono_ms();
	c->inflight++;
	b->sent++;
}

/* Fill the pipeline and write what the socket takes. */
static void bench_client_pump(struct bench_client *c)
{
	struct bench *b = c->b;
	ssize_t n;

	while (b->sending && c->nfree > 0) {
		if (b->o.rows && b->sent >= b->o.rows) {
			bench_stop_sending(b);
			break;
		}
		bench_queue_row(c);
	}
	while (c->out.len > 0) {
		n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				bench_client_close(c, strerror(errno));
			break;
		}
		buf_consume(&c->out, (size_t)n);
	}
	if (c->fd < 0)
		return;
	if (c->out.len > 0)
		ev_io_start(b->loop, &c->wio);
	else
		ev_io_stop(b->loop, &c->wio);
}

static void bench_record(struct bench *b, double ms)
{
	if (b->nlat == b->lat_cap) {
		b->lat_cap = b->lat_cap ? b->lat_cap * 2 : 65536;
		b->lat_us = pgc_realloc(b->lat_us, b->lat_cap * sizeof(*b->lat_us));
	}
	b->lat_us[b->nlat++] = ms < 0 ? 0 : ms * 1000.0 > 4e9 ? 4000000000u : (uint32_t)(ms * 1000.0);
}

/* True when nothing more will be sent or answered: the run is over. */
static bool bench_done(const struct bench *b)
{
	size_t i;

	if (b->sending)
		return false;
	for (i = 0; i < (size_t)b->o.clients; i++)
		if (b->clients[i].fd >= 0 && b->clients[i].inflight > 0)
			return false;
	return true;
}

static void bench_first_error(struct bench *b, const struct cli_ack *a, const char *line)
{
	if (!b->first_error[0])
		snprintf(b->first_error, sizeof(b->first_error), "%s %s", a->code ? a->code : "?",
			 a->message ? a->message : line);
}

/*
 * An answer naming no request in flight: the sidecar could not read one of
 * this connection's lines (PC001, PC003 answer with "id": null). It answers
 * one of them, but which one is unknown, so its slot is never freed: count
 * it as failed and stop sending, or the run would wait for it forever.
 */
static void bench_unmatched(struct bench_client *c, const struct cli_ack *a, const char *line)
{
	struct bench *b = c->b;

	if (c->inflight == 0)
		return;
	c->inflight--;
	b->failed++;
	bench_first_error(b, a, line);
	if (b->sending)
		bench_stop_sending(b);
}

static void bench_ack(struct bench_client *c, const char *line, size_t len, double now)
{
	struct bench *b = c->b;
	struct cli_ack a;
	long long slot;

	if (!cli_ack_decode(&a, line, len)) {
		bench_unmatched(c, &a, line);
		return;
	}
	slot = a.int_id ? a.id : -1;
	if (slot < 0 || slot >= b->o.pipeline || c->sent_at[slot] < 0) {
		bench_unmatched(c, &a, line);
		cli_ack_free(&a);
		return;
	}
	bench_record(b, now - c->sent_at[slot]);
	c->sent_at[slot] = -1;
	c->free_slots[c->nfree++] = (int)slot;
	c->inflight--;
	b->t_last_ack = now;
	if (a.ok) {
		b->ok++;
	} else {
		b->failed++;
		bench_first_error(b, &a, "");
	}
	cli_ack_free(&a);
}

static void bench_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct bench_client *c = w->data;
	const char *line;
	size_t len;
	ssize_t n = linebuf_read(&c->in, c->fd, BENCH_READ_CHUNK);
	double now = mono_ms();

	(void)loop;
	(void)revents;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		bench_client_close(c, n == 0 ? "the sidecar closed the connection" : strerror(errno));
		return;
	}
	for (;;) {
		enum linebuf_status st = linebuf_next(&c->in, &line, &len);
		if (st == LINEBUF_NEED_MORE)
			break;
		if (st == LINEBUF_LINE)
			bench_ack(c, line, len, now);
	}
	linebuf_compact(&c->in);
	bench_client_pump(c);
	if (bench_done(c->b))
		ev_break(c->b->loop, EVBREAK_ALL);
}

static void bench_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	bench_client_pump(w->data);
}

/* --duration is over: stop sending; then give the last acks a while. */
static void bench_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench *b = w->data;

	(void)revents;
	if (b->sending) {
		bench_stop_sending(b);
		if (bench_done(b))
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	ev_break(loop, EVBREAK_ALL); /* draining took too long */
}

static void bench_progress_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bench *b = w->data;
	double secs = (mono_ms() - b->t_start) / 1000.0;

	(void)loop;
	(void)revents;
	fprintf(stderr, "\r%6.1f s  %lld rows acked (%lld failed)  %lld rows/s in the last second\033[K",
		secs, b->ok + b->failed, b->failed, b->ok - b->last_ok);
	b->last_ok = b->ok;
}

/* ------------------------------------------------------------ set-up, report */

static bool bench_connect(struct bench *b)
{
	struct cli_conn conn;
	long i;

	b->clients = pgc_calloc((size_t)b->o.clients, sizeof(*b->clients));
	for (i = 0; i < b->o.clients; i++) {
		struct bench_client *c = &b->clients[i];
		long k;

		cli_conn_init(&conn, b->o.socket_path);
		if (!cli_conn_open(&conn)) {
			fprintf(stderr, "pgcoalesce-cli bench: cannot connect to the sidecar on socket \"%s\": %s\n",
				b->o.socket_path, conn.err);
			cli_conn_free(&conn);
			return false;
		}
		c->b = b;
		c->fd = conn.fd;
		conn.fd = -1; /* the client owns the socket now */
		cli_conn_free(&conn);
		linebuf_init(&c->in, CLI_CONN_MAX_LINE);
		buf_init(&c->out);
		c->sent_at = pgc_malloc((size_t)b->o.pipeline * sizeof(double));
		c->free_slots = pgc_malloc((size_t)b->o.pipeline * sizeof(int));
		for (k = 0; k < b->o.pipeline; k++) {
			c->sent_at[k] = -1;
			c->free_slots[c->nfree++] = (int)(b->o.pipeline - 1 - k);
		}
		ev_io_init(&c->rio, bench_read_cb, c->fd, EV_READ);
		ev_io_init(&c->wio, bench_write_cb, c->fd, EV_WRITE);
		c->rio.data = c->wio.data = c;
		b->alive++;
	}
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The latency at percentile p, in ms, as scripts/bench.py computes one. */
static double bench_pct(const struct bench *b, double p)
{
	size_t i = (size_t)((double)b->nlat * p / 100.0);

	if (b->nlat == 0)
		return 0;
	return b->lat_us[i < b->nlat ? i : b->nlat - 1] / 1000.0;
}

static int bench_report(struct bench *b)
{
	double secs = ((b->nlat ? b->t_last_ack : mono_ms()) - b->t_start) / 1000.0;
	long long unanswered = b->sent - b->ok - b->failed;

	if (b->show_progress)
		fprintf(stderr, "\r\033[K");
	if (b->nlat)
		qsort(b->lat_us, b->nlat, sizeof(*b->lat_us), cmp_u32); /* lat_us is NULL until the first ack */
	printf("pgcoalesce-cli bench: table %s, %ld clients x %ld in flight, ", b->table_json,
	       b->o.clients, b->o.pipeline);
	if (b->o.rows)
		printf("%lld rows\n", b->o.rows);
	else
		printf("%g s\n", b->o.duration);
	printf("%lld rows acked in %.2f s: %.0f rows/s\n", b->ok + b->failed, secs,
	       secs > 0 ? (double)b->ok / secs : 0.0);
	printf("acked ok: %lld, failed: %lld\n", b->ok, b->failed);
	printf("ack latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", bench_pct(b, 50),
	       bench_pct(b, 99), b->nlat ? b->lat_us[b->nlat - 1] / 1000.0 : 0.0);
	if (b->failed)
		printf("first error: %s\n", b->first_error);
	if (unanswered)
		printf("unanswered: %lld rows (%s)\n", unanswered, b->lost[0] ? b->lost : "timed out");
	return b->failed || unanswered ? 1 : 0;
}

static void bench_free(struct bench *b)
{
	long i;

	for (i = 0; b->clients && i < b->o.clients; i++) {
		struct bench_client *c = &b->clients[i];
		if (c->b && c->fd >= 0) {
			ev_io_stop(b->loop, &c->rio);
			ev_io_stop(b->loop, &c->wio);
			close(c->fd);
		}
		if (c->b) {
			linebuf_free(&c->in);
			buf_free(&c->out);
		}
		free(c->sent_at);
		free(c->free_slots);
	}
	free(b->clients);
	free(b->lat_us);
	free(b->table_json);
}

int cli_bench_main(int argc, char **argv, const char *socket_path)
{
	struct bench b;
	struct buf name;
	int status;
	long i;

	memset(&b, 0, sizeof(b));
	b.o.socket_path = socket_path;
	if ((status = bench_options(&b.o, argc, argv)) >= 0)
		return status;
	buf_init(&name);
	jsontext_put_string(&name, b.o.table, strlen(b.o.table));
	b.table_json = pgc_strdup(buf_cstr(&name));
	buf_free(&name);
	b.loop = ev_default_loop(EVFLAG_AUTO);
	if (!bench_connect(&b)) {
		bench_free(&b);
		return 2;
	}
	b.show_progress = isatty(STDERR_FILENO);
	b.sending = true;
	b.t_start = mono_ms();
	ev_timer_init(&b.deadline, bench_deadline_cb, b.o.rows ? BENCH_DRAIN_SECONDS : b.o.duration, 0.);
	b.deadline.data = &b;
	if (!b.o.rows)
		ev_timer_start(b.loop, &b.deadline);
	ev_timer_init(&b.progress, bench_progress_cb, 1., 1.);
	b.progress.data = &b;
	if (b.show_progress)
		ev_timer_start(b.loop, &b.progress);
	for (i = 0; i < b.o.clients; i++) {
		ev_io_start(b.loop, &b.clients[i].rio);
		bench_client_pump(&b.clients[i]);
	}
	if (!bench_done(&b))
		ev_run(b.loop, 0);
	ev_timer_stop(b.loop, &b.deadline);
	ev_timer_stop(b.loop, &b.progress);
	status = bench_report(&b);
	bench_free(&b);
	return status;
}
