/*
 * cli_bench.c — `pgcoalesce-cli bench` (see cli_bench.h).
 */
#include "cli_bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "buf.h"
#include "jsontext.h"
#include "jsontok.h"
#include "pgcoalesce.h"

/* After the last request is sent, how long unanswered ones are waited for. */
#define BENCH_DRAIN_SECONDS 60.0

/* The demo table of sql/demo.sql and a row like make bench's pgbench script. */
#define BENCH_DEFAULT_TABLE "events"
/* --upsert's table (sql/demo.sql), its key domain and skew (pgbench's random_zipfian's s). */
#define BENCH_UPSERT_TABLE "devices"
#define BENCH_DEVICES 10000
#define BENCH_ZIPF_S 1.1

/* --upsert: how a row that finds its device stored updates it. */
enum bench_upsert {
	BENCH_PLAIN = 0,   /* plain inserts */
	BENCH_UPSERT_SET,  /* last seen: SET seen = EXCLUDED.seen, kind = EXCLUDED.kind */
	BENCH_UPSERT_ADD,  /* a counter: SET hits = devices.hits + EXCLUDED.hits */
};

/* Zipf-distributed integers 1..n, P(k) proportional to k^-s, from a table of the
 * distribution function (n doubles) and a xorshift64* generator. */
struct bench_zipf {
	double   *cdf;
	size_t    n;
	uint64_t  state;
};

struct bench;

/* One connection to the sidecar: a libpgcoalesce client on the bench's loop. */
struct bench_client {
	struct bench  *b;
	pgc_client    *pgc;
	ev_io          io;       /* on pgc_fd(), for what pgc_want() says */
	int            events;   /* the watcher's current events */
	bool           alive;
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
	enum bench_upsert upsert;
	long long   devices;     /* --upsert: device_id from 1..devices */
	double      zipf_s;      /* ... Zipf-distributed with this exponent */
	bool        keys;        /* every row with its own idempotency key */
};

struct bench {
	struct bench_opts    o;
	struct ev_loop      *loop;
	struct bench_client *clients;
	size_t               alive;       /* clients still connected */
	pgc_row             *row;         /* the row sent (rebuilt per row for the demo table) */
	struct pgc_insert_opts opts;      /* on_conflict (--upsert), key (--keys) */
	struct pgc_on_conflict oc;
	struct bench_zipf    zipf;        /* --upsert's device_id */
	char                 seen[40];    /* --upsert's seen: the run's start, as text */
	char                 key_prefix[40]; /* --keys: random per run, then -<row number> */
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
		"  --upsert=set|add upserts into \"%s\" (sql/demo.sql): device_id Zipf-distributed\n"
		"                   over --devices ids, ON CONFLICT (device_id) DO UPDATE SET\n"
		"                   seen, kind = the new row's (set) or hits = hits + 1 (add)\n"
		"  --devices=N      --upsert's distinct device ids (default %d)\n"
		"  --zipf=S         --upsert's skew: P(id k) ~ k^-S (default %g, as pgbench's\n"
		"                   random_zipfian(1, N, S))\n"
		"  --keys           send every row with its own idempotency key\n"
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
		"option, an unreachable socket, or a sidecar without upserts or keys.\n",
		BENCH_DEFAULT_TABLE, BENCH_UPSERT_TABLE, BENCH_DEVICES, BENCH_ZIPF_S);
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
	struct jsontok_doc doc;
	bool ok;

	jsontok_init(&doc);
	ok = jsontok_parse(&doc, row, strlen(row)) == JSONTOK_OK && doc.toks[0].type == JSONTOK_OBJECT &&
	     !strchr(row, '\n') && !strchr(row, '\r');
	jsontok_free(&doc);
	if (!ok)
		fprintf(stderr, "pgcoalesce-cli bench: --row must be a JSON object on one line\n");
	return ok;
}

/* --upsert, --devices, --zipf, --keys; false for a bad value (reported). */
static bool upsert_option(struct bench_opts *o, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case 'U':
		if (strcmp(arg, "set") == 0 || strcmp(arg, "add") == 0) {
			o->upsert = arg[0] == 's' ? BENCH_UPSERT_SET : BENCH_UPSERT_ADD;
			return true;
		}
		fprintf(stderr, "pgcoalesce-cli bench: --upsert takes set or add, not \"%s\"\n", arg);
		return false;
	case 'D':
		return parse_long("devices", arg, 1, &o->devices) && o->devices <= 10000000;
	case 'Z':
		o->zipf_s = strtod(arg, &end);
		if (end != arg && !*end && o->zipf_s >= 0 && o->zipf_s <= 100)
			return true;
		fprintf(stderr, "pgcoalesce-cli bench: invalid value \"%s\" for --zipf\n", arg);
		return false;
	default:
		o->keys = true;
		return true;
	}
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
		{ "upsert", required_argument, NULL, 'U' },
		{ "devices", required_argument, NULL, 'D' },
		{ "zipf", required_argument, NULL, 'Z' },
		{ "keys", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	char *end;
	int opt;

	o->table = NULL;
	o->clients = 8;
	o->pipeline = 16;
	o->duration = 0;
	o->devices = BENCH_DEVICES;
	o->zipf_s = BENCH_ZIPF_S;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'U': case 'D': case 'Z': case 'K':
			if (!upsert_option(o, opt, optarg))
				return 2;
			break;
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
	if (o->upsert && o->row) {
		fprintf(stderr, "pgcoalesce-cli bench: --upsert makes its own rows: no --row\n");
		return 2;
	}
	if (!o->table)
		o->table = o->upsert ? BENCH_UPSERT_TABLE : BENCH_DEFAULT_TABLE;
	/* the demo row has the demo table's columns; elsewhere every column takes its default */
	if (!o->row && !o->upsert && strcmp(o->table, BENCH_DEFAULT_TABLE) != 0)
		o->row = "{}";
	return -1;
}

/* ------------------------------------------------------------ the load */

/* The connection ended: its unanswered rows stay unanswered. */
static void bench_client_close(struct bench_client *c, const char *why)
{
	struct bench *b = c->b;

	if (!c->alive)
		return;
	c->alive = false;
	ev_io_stop(b->loop, &c->io);
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

/* ------------------------------------------------------------ Zipf */

static void zipf_init(struct bench_zipf *z, size_t n, double s, uint64_t seed)
{
	double sum = 0;
	size_t k;

	z->n = n;
	z->cdf = pgc_malloc(n * sizeof(double));
	for (k = 0; k < n; k++)
		z->cdf[k] = sum += pow((double)(k + 1), -s);
	for (k = 0; k < n; k++)
		z->cdf[k] /= sum;
	z->state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

/* A uniform double in [0, 1): xorshift64*, the top 53 bits. */
static double zipf_uniform(struct bench_zipf *z)
{
	z->state ^= z->state >> 12;
	z->state ^= z->state << 25;
	z->state ^= z->state >> 27;
	return (double)((z->state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* The next id, 1..n: the first k whose cdf reaches a uniform draw. */
static long long zipf_next(struct bench_zipf *z)
{
	double u = zipf_uniform(z);
	size_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (long long)lo + 1;
}

/* ------------------------------------------------------------ rows */

/* --upsert's on_conflict, a seed and the run's key prefix (random: keys of
 * an earlier run within --key-retention would be duplicates). */
static void bench_setup_options(struct bench *b)
{
	static const char *const target[] = { "device_id", NULL };
	static const char *const set[] = { "seen", "kind", NULL }, *const add[] = { "hits", NULL };
	uint64_t seed = (uint64_t)mono_ms() * 1000003u ^ ((uint64_t)getpid() << 32);
	time_t now = time(NULL);

	if (b->o.upsert) {
		b->oc.action = PGC_DO_UPDATE;
		b->oc.columns = target;
		b->oc.set = b->o.upsert == BENCH_UPSERT_SET ? set : NULL;
		b->oc.add = b->o.upsert == BENCH_UPSERT_ADD ? add : NULL;
		b->opts.on_conflict = &b->oc;
		zipf_init(&b->zipf, (size_t)b->o.devices, b->o.zipf_s, seed);
		strftime(b->seen, sizeof(b->seen), "%Y-%m-%d %H:%M:%S+00", gmtime(&now));
	}
	snprintf(b->key_prefix, sizeof(b->key_prefix), "bench-%016llx",
		 (unsigned long long)(seed * 0x2545F4914F6CDD1Dull ^ (uint64_t)now));
}

/* An --upsert row: a device seen now, one hit. */
static void bench_build_upsert(struct bench *b)
{
	pgc_row_clear(b->row);
	pgc_row_add_int(b->row, "device_id", zipf_next(&b->zipf));
	pgc_row_add_text(b->row, "seen", b->seen);
	pgc_row_add_int(b->row, "hits", 1);
	pgc_row_add_text(b->row, "kind", "bench");
}

/* The demo row, or --row: the library checks it once, then it is reused. */
static void bench_build_row(struct bench *b)
{
	struct buf key;
	size_t pos = 0, vlen;
	const char *val;

	if (b->o.upsert) {
		bench_build_upsert(b);
		return;
	}
	pgc_row_clear(b->row);
	if (b->o.row) {
		buf_init(&key);
		while (jsontext_object_next(b->o.row, strlen(b->o.row), &pos, &key, &val, &vlen))
			pgc_row_add_json(b->row, buf_cstr(&key), val, vlen);
		buf_free(&key);
		return;
	}
	pgc_row_add_int(b->row, "device_id", b->sent % 1000);
	pgc_row_add_text(b->row, "kind", "bench");
	pgc_row_add_number(b->row, "value", "1.5");
	pgc_row_add_json(b->row, "payload", "{\"n\":1}", 7);
}

/* Queue one request in a free slot; false when the library cannot take it. */
static bool bench_queue_row(struct bench_client *c)
{
	struct bench *b = c->b;
	int slot = c->free_slots[c->nfree - 1];
	char key[64];

	if (!b->o.row)
		bench_build_row(b);
	if (b->o.keys) {
		snprintf(key, sizeof(key), "%s-%lld", b->key_prefix, b->sent);
		b->opts.key = key;
	}
	if (pgc_send_insert_ex(c->pgc, b->o.table, b->row, &b->opts, (void *)(intptr_t)slot, NULL) != PGC_OK)
		return false;
	c->nfree--;
	c->sent_at[slot] = mono_ms();
	c->inflight++;
	b->sent++;
	return true;
}

/* Watch for what the library wants now. */
static void bench_client_watch(struct bench_client *c)
{
	int want = pgc_want(c->pgc);
	int events = (want & PGC_WANT_READ ? EV_READ : 0) | (want & PGC_WANT_WRITE ? EV_WRITE : 0);

	if (!c->alive || events == c->events)
		return;
	ev_io_stop(c->b->loop, &c->io);
	ev_io_set(&c->io, pgc_fd(c->pgc), events);
	c->events = events;
	if (events)
		ev_io_start(c->b->loop, &c->io);
}

/* Fill the pipeline; the loop writes it. */
static void bench_client_pump(struct bench_client *c)
{
	struct bench *b = c->b;

	while (c->alive && b->sending && c->nfree > 0) {
		if (b->o.rows && b->sent >= b->o.rows) {
			bench_stop_sending(b);
			break;
		}
		if (!bench_queue_row(c))
			break;
	}
	bench_client_watch(c);
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
		if (b->clients[i].alive && b->clients[i].inflight > 0)
			return false;
	return true;
}

static void bench_first_error(struct bench *b, const struct pgc_ack *a)
{
	if (!b->first_error[0])
		snprintf(b->first_error, sizeof(b->first_error), "%s %s",
			 a->error.code[0] ? a->error.code : pgc_error_class_name(a->error.cls),
			 a->error.message);
}

/* One answer (libpgcoalesce matched it to its request, id-less ones included). */
static void bench_ack(void *arg, const struct pgc_ack *a)
{
	struct bench_client *c = arg;
	struct bench *b = c->b;
	int slot = (int)(intptr_t)a->user;
	double now = mono_ms();

	c->free_slots[c->nfree++] = slot;
	c->inflight--;
	if (!a->ok && a->error.cls == PGC_ERR_CONNECTION_LOST)
		return; /* unanswered: counted as such in the report */
	bench_record(b, now - c->sent_at[slot]);
	c->sent_at[slot] = -1;
	b->t_last_ack = now;
	if (a->ok) {
		b->ok++;
	} else {
		b->failed++;
		bench_first_error(b, a);
	}
}

static void bench_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct bench_client *c = w->data;
	int ready = (revents & EV_READ ? PGC_WANT_READ : 0) | (revents & EV_WRITE ? PGC_WANT_WRITE : 0);

	(void)loop;
	if (pgc_process(c->pgc, ready) != PGC_OK) {
		bench_client_close(c, pgc_errmsg(c->pgc));
		return;
	}
	bench_client_pump(c);
	if (bench_done(c->b))
		ev_break(c->b->loop, EVBREAK_ALL);
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
	long i, k;

	b->clients = pgc_calloc((size_t)b->o.clients, sizeof(*b->clients));
	for (i = 0; i < b->o.clients; i++) {
		struct bench_client *c = &b->clients[i];

		c->b = b;
		c->pgc = pgc_new(b->o.socket_path);
		pgc_set_max_in_flight(c->pgc, (size_t)b->o.pipeline);
		pgc_set_callback(c->pgc, bench_ack, c);
		if (pgc_connect(c->pgc) != PGC_OK) {
			fprintf(stderr, "pgcoalesce-cli bench: %s\n", pgc_errmsg(c->pgc));
			return false;
		}
		c->sent_at = pgc_malloc((size_t)b->o.pipeline * sizeof(double));
		c->free_slots = pgc_malloc((size_t)b->o.pipeline * sizeof(int));
		for (k = 0; k < b->o.pipeline; k++) {
			c->sent_at[k] = -1;
			c->free_slots[c->nfree++] = (int)(b->o.pipeline - 1 - k);
		}
		ev_io_init(&c->io, bench_io_cb, pgc_fd(c->pgc), 0);
		c->io.data = c;
		c->alive = true;
		b->alive++;
	}
	return true;
}

/* --upsert and --keys need a sidecar that has them (its ping's features):
 * one that ignored them would measure plain inserts. */
static bool bench_features(struct bench *b)
{
	const struct pgc_ack *a;
	const char *need = b->o.upsert ? "on_conflict" : "key";

	if (!b->o.upsert && !b->o.keys)
		return true;
	a = pgc_ping(b->clients[0].pgc);
	if (a && a->ok && pgc_has_feature(a, need) && (!b->o.keys || pgc_has_feature(a, "key")))
		return true;
	fprintf(stderr, "pgcoalesce-cli bench: the sidecar at %s does not support %s (its ping lists "
		"no such feature)\n", pgc_address(b->clients[0].pgc),
		b->o.upsert && !(a && pgc_has_feature(a, "on_conflict")) ? "upserts" : "idempotency keys");
	return false;
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
	struct buf table;

	if (b->show_progress)
		fprintf(stderr, "\r\033[K");
	if (b->nlat)
		qsort(b->lat_us, b->nlat, sizeof(*b->lat_us), cmp_u32); /* lat_us is NULL until the first ack */
	buf_init(&table);
	jsontext_put_string(&table, b->o.table, strlen(b->o.table));
	printf("pgcoalesce-cli bench: table %s, %ld clients x %ld in flight, ", buf_cstr(&table),
	       b->o.clients, b->o.pipeline);
	buf_free(&table);
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
		if (c->alive)
			ev_io_stop(b->loop, &c->io);
		if (c->pgc) /* NULL past a client that could not connect */
			pgc_set_callback(c->pgc, NULL, NULL); /* closing answers nothing to the report */
		pgc_free(c->pgc);
		free(c->sent_at);
		free(c->free_slots);
	}
	free(b->clients);
	free(b->lat_us);
	free(b->zipf.cdf);
	pgc_row_free(b->row);
}

int cli_bench_main(int argc, char **argv, const char *socket_path)
{
	struct bench b;
	int status;
	long i;

	memset(&b, 0, sizeof(b));
	b.o.socket_path = socket_path;
	if ((status = bench_options(&b.o, argc, argv)) >= 0)
		return status;
	b.row = pgc_row_new();
	bench_setup_options(&b);
	if (b.o.row)
		bench_build_row(&b);
	b.loop = ev_default_loop(EVFLAG_AUTO);
	if (!bench_connect(&b) || !bench_features(&b)) {
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
	for (i = 0; i < b.o.clients; i++)
		bench_client_pump(&b.clients[i]);
	if (!bench_done(&b))
		ev_run(b.loop, 0);
	ev_timer_stop(b.loop, &b.deadline);
	ev_timer_stop(b.loop, &b.progress);
	status = bench_report(&b);
	bench_free(&b);
	return status;
}
