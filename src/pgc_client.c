/*
 * pgc_client.c — libpgcoalesce's non-blocking core (see pgcoalesce.h and
 * pgc_client.h): the connection, the requests in flight, and answers back
 * to their requests.
 *
 * Matching id-less answers. The sidecar answers a line it cannot read far
 * enough to find the id (PC003: longer than its --max-request-bytes) with
 * "id": null, as soon as it reads the line and in the order it reads lines.
 * Every request gets exactly one answer, so when the k-th id-less answer
 * arrives, it and the k-1 before it answer k of the requests still without
 * an answer whose line had started to go out by then. Once exactly k such
 * requests are left, those are the ones, in stream order: each gets its
 * answer (an error that wrote nothing) instead of waiting forever.
 */
#include "pgc_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jsontext.h"

#define PGC_READ_CHUNK 65536

double pgc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ set-up */

PGC_API const char *pgc_version(void)
{
	return PGC_VERSION;
}

PGC_API pgc_client *pgc_new(const char *address)
{
	pgc_client *c = pgc_calloc(1, sizeof(*c));

	if (!address || !*address)
		address = getenv("PGCOALESCE_SOCKET");
	if (!address || !*address)
		address = PGC_DEFAULT_ADDRESS;
	c->addr_ok = pgc_addr_parse(&c->addr, address, c->err, sizeof(c->err));
	if (!c->addr_ok)
		c->addr.display = pgc_strdup(address);
	c->fd = -1;
	c->nslots = PGC_DEFAULT_IN_FLIGHT;
	c->backoff_ms = PGC_BACKOFF_MIN_MS;
	buf_init(&c->out);
	linebuf_init(&c->in, PGC_MAX_LINE);
	pgc_decoder_init(&c->dec);
	pgc_decoder_init(&c->sync_dec);
	jsontok_init(&c->check);
	buf_init(&c->sync_line);
	return c;
}

PGC_API void pgc_free(pgc_client *c)
{
	if (!c)
		return;
	pgc_close(c);
	pgc_addr_free(&c->addr);
	free(c->slots);
	free(c->free);
	buf_free(&c->out);
	linebuf_free(&c->in);
	pgc_decoder_free(&c->dec);
	pgc_decoder_free(&c->sync_dec);
	jsontok_free(&c->check);
	buf_free(&c->sync_line);
	free(c);
}

PGC_API const char *pgc_address(const pgc_client *c)
{
	return c->addr.display;
}

PGC_API void pgc_set_callback(pgc_client *c, pgc_ack_fn fn, void *arg)
{
	c->cb = fn;
	c->cb_arg = arg;
}

PGC_API size_t pgc_in_flight(const pgc_client *c)
{
	return c->slots ? c->nslots - c->nfree : 0;
}

PGC_API int pgc_set_max_in_flight(pgc_client *c, size_t n)
{
	if (n == 0 || n > UINT32_MAX) {
		snprintf(c->err, sizeof(c->err), "max_in_flight must be 1 to %u", UINT32_MAX);
		return PGC_E_INVALID;
	}
	if (pgc_in_flight(c) > 0) {
		snprintf(c->err, sizeof(c->err), "requests are in flight");
		return PGC_E_BUSY;
	}
	free(c->slots);
	free(c->free);
	c->slots = NULL; /* allocated again on the next send */
	c->free = NULL;
	c->nfree = 0;
	c->nslots = n;
	return PGC_OK;
}

PGC_API void pgc_set_timeout(pgc_client *c, int ms)
{
	c->timeout_ms = ms > 0 ? ms : 0;
}

PGC_API const char *pgc_errmsg(const pgc_client *c)
{
	return c->err;
}

PGC_API bool pgc_connected(const pgc_client *c)
{
	return c->fd >= 0;
}

PGC_API int pgc_fd(const pgc_client *c)
{
	return c->fd;
}

PGC_API int pgc_want(const pgc_client *c)
{
	if (c->fd < 0)
		return 0;
	return PGC_WANT_READ | (c->out.len > c->out_off ? PGC_WANT_WRITE : 0);
}

PGC_API int pgc_timeout(const pgc_client *c)
{
	double left;

	if (!c->next_deadline)
		return -1;
	left = c->next_deadline - pgc_now_ms();
	return left <= 0 ? 0 : (int)left + 1;
}

/* ------------------------------------------------------------ slots */

static void slots_alloc(pgc_client *c)
{
	size_t i;

	c->slots = pgc_calloc(c->nslots, sizeof(*c->slots));
	c->free = pgc_malloc(c->nslots * sizeof(*c->free));
	for (i = 0; i < c->nslots; i++)
		c->free[i] = (uint32_t)(c->nslots - 1 - i); /* slot 0 first */
	c->nfree = c->nslots;
}

/* The slot of the request with this id, or -1. */
static long slot_of(const pgc_client *c, uint64_t id)
{
	size_t i;

	if (!c->slots || id == 0)
		return -1;
	i = (size_t)((id - 1) % c->nslots);
	return (c->slots[i].flags & PGC_SLOT_USED) && c->slots[i].id == id ? (long)i : -1;
}

static void slot_release(pgc_client *c, size_t i)
{
	c->slots[i].flags = 0;
	c->slots[i].user = NULL;
	c->free[c->nfree++] = (uint32_t)i;
	if (c->slots[i].op == PGC_OP_RAW)
		c->raw = false;
}

void pgc_client_side_ack(const struct pgc_slot *s, enum pgc_error_class cls, bool not_written,
			 const char *message, struct pgc_ack *a)
{
	memset(a, 0, sizeof(*a));
	a->id = s->id;
	a->op = (enum pgc_op)s->op;
	a->user = s->user;
	a->error.cls = cls;
	a->error.code = "";
	a->error.message = message;
	a->error.not_written = not_written;
}

/* The blocking API keeps its own copy: the line may go away after this. */
static void deliver_sync(pgc_client *c, const struct pgc_slot *s, const struct pgc_ack *a)
{
	enum pgc_wire_id kind;
	uint64_t wire_id;

	if (a->line) {
		buf_reset(&c->sync_line);
		buf_append(&c->sync_line, a->line, a->line_len);
		pgc_decode(&c->sync_dec, c->sync_line.data, c->sync_line.len, &c->sync_ack, &kind,
			   &wire_id);
	} else {
		c->sync_ack = *a;
		snprintf(c->sync_msg, sizeof(c->sync_msg), "%s", a->error.message);
		c->sync_ack.error.message = c->sync_msg;
	}
	c->sync_ack.id = s->id;
	c->sync_ack.op = (enum pgc_op)s->op;
	c->sync_ack.user = NULL;
	c->sync_done = true;
}

void pgc_client_deliver(pgc_client *c, const struct pgc_slot *s, struct pgc_ack *a)
{
	if (s->flags & PGC_SLOT_ABANDONED)
		return; /* already answered with a timeout */
	if (s->flags & PGC_SLOT_SYNC) {
		deliver_sync(c, s, a);
		return;
	}
	if (c->cb)
		c->cb(c->cb_arg, a);
}

/* Slot i's request is answered by *a: free the slot, then tell. */
static void finish(pgc_client *c, size_t i, struct pgc_ack *a)
{
	struct pgc_slot s = c->slots[i];

	slot_release(c, i); /* first: the callback may send again */
	a->id = s.id;
	a->op = (enum pgc_op)s.op;
	a->user = s.user;
	pgc_client_deliver(c, &s, a);
}

/* ------------------------------------------------------------ the connection */

static int by_start(const void *x, const void *y)
{
	const struct pgc_slot *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

static void drop_unnamed(pgc_client *c)
{
	size_t i;

	for (i = 0; i < c->nunnamed; i++)
		free(c->unnamed[i].line);
	free(c->unnamed);
	c->unnamed = NULL;
	c->nunnamed = 0;
}

/*
 * The connection is gone: every request in flight is answered
 * CONNECTION_LOST, in the order they were sent. One none of whose bytes
 * went out is certainly not written; anything else may have been.
 */
static void lose(pgc_client *c, const char *why)
{
	struct pgc_slot *lost;
	size_t n = 0, i;
	char msg[sizeof(c->err) + 64];

	if (why != c->err)
		snprintf(c->err, sizeof(c->err), "%s", why);
	snprintf(msg, sizeof(msg), "connection to the sidecar lost: %s", c->err);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_reset(&c->out); /* unsent bytes belong to the failed requests */
	c->out_off = 0;
	linebuf_free(&c->in);
	linebuf_init(&c->in, PGC_MAX_LINE);
	drop_unnamed(c);
	c->next_deadline = 0;
	lost = pgc_malloc((pgc_in_flight(c) + 1) * sizeof(*lost));
	for (i = 0; c->slots && i < c->nslots; i++)
		if (c->slots[i].flags & PGC_SLOT_USED) {
			lost[n++] = c->slots[i];
			slot_release(c, i);
		}
	qsort(lost, n, sizeof(*lost), by_start);
	for (i = 0; i < n; i++) {
		struct pgc_ack a;
		bool rows = lost[i].op == PGC_OP_INSERT || lost[i].op == PGC_OP_RAW;
		pgc_client_side_ack(&lost[i], PGC_ERR_CONNECTION_LOST,
				    !rows || lost[i].start >= c->sent, msg, &a);
		pgc_client_deliver(c, &lost[i], &a);
	}
	free(lost);
}

/* Connect now; on failure, no automatic attempt before the backoff ends. */
static int connect_now(pgc_client *c)
{
	char why[256];

	if (!c->addr_ok)
		return PGC_E_INVALID; /* c->err says why since pgc_new() */
	c->fd = pgc_addr_connect(&c->addr, why, sizeof(why));
	if (c->fd < 0) {
		snprintf(c->err, sizeof(c->err), "cannot connect to the sidecar at \"%s\": %s",
			 c->addr.display, why);
		c->retry_at = pgc_now_ms() + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > PGC_BACKOFF_MAX_MS ? PGC_BACKOFF_MAX_MS
								       : c->backoff_ms * 2;
		return PGC_E_CONNECT;
	}
	c->backoff_ms = PGC_BACKOFF_MIN_MS;
	c->retry_at = 0;
	c->err[0] = '\0';
	return PGC_OK;
}

PGC_API void pgc_close(pgc_client *c)
{
	if (c->fd >= 0 || pgc_in_flight(c) > 0)
		lose(c, "closed by the application");
}

PGC_API int pgc_connect(pgc_client *c)
{
	pgc_close(c);
	return connect_now(c);
}

/* A send found no connection: reconnect, unless a failed attempt was recent. */
static int auto_connect(pgc_client *c)
{
	double now = pgc_now_ms();
	char last[sizeof(c->err)];

	if (c->retry_at && now < c->retry_at) {
		snprintf(last, sizeof(last), "%s", c->err);
		snprintf(c->err, sizeof(c->err), "not connected (%.200s); next attempt in %d ms", last,
			 (int)(c->retry_at - now) + 1);
		return PGC_E_NOT_CONNECTED;
	}
	return connect_now(c);
}

/* ------------------------------------------------------------ sending */

int pgc_client_send(pgc_client *c, enum pgc_op op, uint8_t flags, void *user, uint64_t *id,
		    void (*fill)(struct buf *out, uint64_t id, const void *arg), const void *arg)
{
	struct pgc_slot *s;
	int rc;

	if (c->raw) {
		snprintf(c->err, sizeof(c->err), "a raw request is in flight");
		return PGC_E_BUSY;
	}
	if (c->fd < 0 && (rc = auto_connect(c)) != PGC_OK)
		return rc;
	if (!c->slots)
		slots_alloc(c);
	if (c->nfree == 0) {
		snprintf(c->err, sizeof(c->err), "%zu requests in flight (the limit)", c->nslots);
		return PGC_E_FULL;
	}
	s = &c->slots[c->free[--c->nfree]];
	s->id = s->id ? s->id + c->nslots : (uint64_t)(s - c->slots) + 1;
	s->start = c->sent + (c->out.len - c->out_off);
	s->op = (uint8_t)op;
	s->flags = PGC_SLOT_USED | flags;
	s->user = user;
	s->deadline = c->timeout_ms ? pgc_now_ms() + c->timeout_ms : 0;
	if (s->deadline && (!c->next_deadline || s->deadline < c->next_deadline))
		c->next_deadline = s->deadline;
	if (op == PGC_OP_RAW)
		c->raw = true;
	fill(&c->out, s->id, arg);
	if (id)
		*id = s->id;
	return PGC_OK;
}

struct insert_args {
	const char                   *table;
	const pgc_row                *row;
	const struct pgc_insert_opts *opts;
};

static void fill_insert(struct buf *out, uint64_t id, const void *arg)
{
	const struct insert_args *ia = arg;
	size_t len;
	const char *row = pgc_row_json(ia->row, &len);

	pgc_wire_insert(out, id, ia->table, row, len, ia->opts);
}

static bool valid_name(const char *s)
{
	return s && pgc_valid_text(s, strlen(s));
}

/* The arguments of an insert, checked (the message names the bad one). */
static bool insert_args_ok(pgc_client *c, const struct insert_args *ia)
{
	if (!valid_name(ia->table)) {
		snprintf(c->err, sizeof(c->err), "the table (and schema) must be UTF-8 text");
		return false;
	}
	if (!ia->row) {
		snprintf(c->err, sizeof(c->err), "no row");
		return false;
	}
	return pgc_wire_opts_ok(ia->opts, c->err, sizeof(c->err));
}

int pgc_client_send_insert(pgc_client *c, uint8_t flags, const char *table, const pgc_row *row,
			   const struct pgc_insert_opts *opts, void *user, uint64_t *id)
{
	struct insert_args ia = { table, row, opts };

	if (!insert_args_ok(c, &ia))
		return PGC_E_INVALID;
	return pgc_client_send(c, PGC_OP_INSERT, flags, user, id, fill_insert, &ia);
}

PGC_API int pgc_send_insert(pgc_client *c, const char *table, const pgc_row *row,
			    const char *const *returning, const char *schema, void *user,
			    uint64_t *id)
{
	struct pgc_insert_opts opts = { .schema = schema, .returning = returning };

	return pgc_client_send_insert(c, 0, table, row, &opts, user, id);
}

PGC_API int pgc_send_insert_ex(pgc_client *c, const char *table, const pgc_row *row,
			       const struct pgc_insert_opts *opts, void *user, uint64_t *id)
{
	return pgc_client_send_insert(c, 0, table, row, opts, user, id);
}

struct op_args {
	const char *op;
	const char *members;
};

static void fill_op(struct buf *out, uint64_t id, const void *arg)
{
	const struct op_args *oa = arg;

	pgc_wire_op(out, oa->op, id, oa->members);
}

enum pgc_op pgc_op_kind(const char *op)
{
	if (strcmp(op, "ping") == 0)
		return PGC_OP_PING;
	if (strcmp(op, "flush") == 0)
		return PGC_OP_FLUSH;
	if (strcmp(op, "stats") == 0)
		return PGC_OP_STATS;
	return strcmp(op, "insert") == 0 ? PGC_OP_INSERT : PGC_OP_OTHER;
}

/* The members must make the request one valid JSON object on one line. */
static bool op_args_ok(pgc_client *c, const struct op_args *oa)
{
	struct buf line;
	bool ok;

	if (!valid_name(oa->op)) {
		snprintf(c->err, sizeof(c->err), "the op must be UTF-8 text");
		return false;
	}
	buf_init(&line);
	pgc_wire_op(&line, oa->op, 1, oa->members);
	line.len--; /* the newline */
	ok = !memchr(line.data, '\n', line.len) &&
	     jsontok_parse(&c->check, line.data, line.len) == JSONTOK_OK;
	buf_free(&line);
	if (!ok)
		snprintf(c->err, sizeof(c->err), "the members do not make one JSON object line");
	return ok;
}

int pgc_client_send_op(pgc_client *c, uint8_t flags, const char *op, const char *members,
		       void *user, uint64_t *id)
{
	struct op_args oa = { op, members };

	if (members && !op_args_ok(c, &oa))
		return PGC_E_INVALID;
	if (!members && !valid_name(op)) {
		snprintf(c->err, sizeof(c->err), "the op must be UTF-8 text");
		return PGC_E_INVALID;
	}
	return pgc_client_send(c, pgc_op_kind(op), flags, user, id, fill_op, &oa);
}

PGC_API int pgc_send_ping(pgc_client *c, void *user, uint64_t *id)
{
	return pgc_client_send_op(c, 0, "ping", NULL, user, id);
}

PGC_API int pgc_send_flush(pgc_client *c, void *user, uint64_t *id)
{
	return pgc_client_send_op(c, 0, "flush", NULL, user, id);
}

PGC_API int pgc_send_stats(pgc_client *c, void *user, uint64_t *id)
{
	return pgc_client_send_op(c, 0, "stats", NULL, user, id);
}

PGC_API int pgc_send_op(pgc_client *c, const char *op, const char *members, void *user,
			uint64_t *id)
{
	return pgc_client_send_op(c, 0, op, members, user, id);
}

struct raw_args {
	const char *line;
	size_t      len;
};

static void fill_raw(struct buf *out, uint64_t id, const void *arg)
{
	const struct raw_args *ra = arg;

	(void)id;
	buf_append(out, ra->line, ra->len);
	buf_putc(out, '\n');
}

PGC_API int pgc_send_raw(pgc_client *c, const char *line, size_t len, void *user)
{
	struct raw_args ra = { line, len };

	if (!line || memchr(line, '\n', len) || memchr(line, '\0', len)) {
		snprintf(c->err, sizeof(c->err), "a raw request is one line of text");
		return PGC_E_INVALID;
	}
	if (pgc_in_flight(c) > 0) {
		snprintf(c->err, sizeof(c->err), "requests are in flight");
		return PGC_E_BUSY;
	}
	return pgc_client_send(c, PGC_OP_RAW, 0, user, NULL, fill_raw, &ra);
}

/* ------------------------------------------------------------ answers */

/* The used slots whose line had started to go out at `seen_at`, in stream order. */
static size_t candidates(const pgc_client *c, uint64_t seen_at, size_t *idx)
{
	size_t i, n = 0, j;

	for (i = 0; i < c->nslots; i++) {
		const struct pgc_slot *s = &c->slots[i];
		if (!(s->flags & PGC_SLOT_USED) || s->start >= seen_at)
			continue;
		for (j = n++; j > 0 && c->slots[idx[j - 1]].start > s->start; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	return n;
}

/* Answer the first k unnamed answers' requests (see the top of the file). */
static void match_first(pgc_client *c, size_t k, const size_t *idx)
{
	struct pgc_unnamed *u = pgc_malloc(k * sizeof(*u));
	size_t i;

	memcpy(u, c->unnamed, k * sizeof(*u));
	memmove(c->unnamed, c->unnamed + k, (c->nunnamed - k) * sizeof(*u));
	c->nunnamed -= k;
	for (i = 0; i < k; i++) {
		struct pgc_ack a;
		enum pgc_wire_id kind;
		uint64_t wire_id;
		pgc_decode(&c->dec, u[i].line, u[i].len, &a, &kind, &wire_id);
		finish(c, idx[i], &a);
		free(u[i].line);
	}
	free(u);
}

static void match_unnamed(pgc_client *c)
{
	size_t *idx = pgc_malloc(c->nslots * sizeof(*idx)), k;
	bool again = true;

	while (again && c->nunnamed > 0) {
		again = false;
		for (k = 1; k <= c->nunnamed; k++)
			if (candidates(c, c->unnamed[k - 1].seen_at, idx) == k) {
				match_first(c, k, idx);
				again = true;
				break;
			}
	}
	free(idx);
}

static void keep_unnamed(pgc_client *c, const char *line, size_t len)
{
	struct pgc_unnamed *u;

	c->unnamed = pgc_realloc(c->unnamed, (c->nunnamed + 1) * sizeof(*c->unnamed));
	u = &c->unnamed[c->nunnamed++];
	u->line = pgc_strndup(line, len);
	u->len = len;
	u->seen_at = c->sent;
}

/* The raw request's slot: the only one in use. */
static long raw_slot(const pgc_client *c)
{
	size_t i;

	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].flags & PGC_SLOT_USED)
			return (long)i;
	return -1;
}

/* One answer line. False when the stream is broken (the connection is lost then). */
static bool on_line(pgc_client *c, const char *line, size_t len)
{
	struct pgc_ack a;
	enum pgc_wire_id kind;
	uint64_t wire_id = 0;
	long i;

	if (!pgc_decode(&c->dec, line, len, &a, &kind, &wire_id)) {
		lose(c, "the sidecar sent a line that is not a JSON object");
		return false;
	}
	if (c->raw && (i = raw_slot(c)) >= 0) {
		finish(c, (size_t)i, &a);
		return true;
	}
	if (kind == PGC_WIRE_ID_NUMBER && (i = slot_of(c, wire_id)) >= 0) {
		finish(c, (size_t)i, &a);
		if (c->nunnamed)
			match_unnamed(c);
		return true;
	}
	keep_unnamed(c, line, len);
	match_unnamed(c);
	return true;
}

/* ------------------------------------------------------------ I/O */

static bool write_some(pgc_client *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			lose(c, strerror(errno));
			return false;
		}
		c->out_off += (size_t)n;
		c->sent += (uint64_t)n;
	}
	if (c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
	} else if (c->out_off > ((size_t)1 << 16) && c->out_off * 2 > c->out.len) {
		buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	return true;
}

static bool read_some(pgc_client *c)
{
	ssize_t n = linebuf_read(&c->in, c->fd, PGC_READ_CHUNK);
	const char *line;
	size_t len;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		lose(c, n == 0 ? "the sidecar closed the connection" : strerror(errno));
		return false;
	}
	for (;;) {
		enum linebuf_status st = linebuf_next(&c->in, &line, &len);
		if (st == LINEBUF_NEED_MORE)
			break;
		if (st == LINEBUF_TOO_LONG) {
			lose(c, "an answer line longer than 1 GiB");
			return false;
		}
		/* the callback may have closed the connection */
		if (!on_line(c, line, len) || c->fd < 0)
			return c->fd >= 0;
	}
	linebuf_compact(&c->in);
	return true;
}

/* Requests whose deadline passed get PGC_ERR_TIMEOUT; their slots stay used. */
static void expire(pgc_client *c, double now)
{
	size_t i;

	if (!c->next_deadline || now < c->next_deadline)
		return;
	c->next_deadline = 0;
	for (i = 0; i < c->nslots; i++) {
		struct pgc_slot *s = &c->slots[i];
		struct pgc_ack a;
		if (!(s->flags & PGC_SLOT_USED) || !s->deadline)
			continue;
		if (s->deadline > now) {
			if (!c->next_deadline || s->deadline < c->next_deadline)
				c->next_deadline = s->deadline;
			continue;
		}
		s->deadline = 0;
		pgc_client_side_ack(s, PGC_ERR_TIMEOUT,
				    s->op != PGC_OP_INSERT && s->op != PGC_OP_RAW,
				    "no answer from the sidecar in time", &a);
		pgc_client_deliver(c, s, &a);
		s->flags |= PGC_SLOT_ABANDONED; /* after: a blocking call gets the timeout */
	}
}

PGC_API int pgc_process(pgc_client *c, int ready)
{
	if (c->fd < 0)
		return PGC_OK;
	if (c->out.len > c->out_off && !write_some(c))
		return PGC_E_LOST;
	if ((ready & PGC_WANT_READ) && !read_some(c))
		return PGC_E_LOST;
	if (c->fd >= 0 && c->out.len > c->out_off && !write_some(c))
		return PGC_E_LOST; /* the callbacks may have queued more */
	expire(c, pgc_now_ms());
	return PGC_OK;
}

/* ------------------------------------------------------------ helpers */

PGC_API const char *pgc_error_class_name(enum pgc_error_class cls)
{
	static const char *const names[] = {
		[PGC_ERR_NONE] = "",
		[PGC_ERR_ROW] = "row_error",
		[PGC_ERR_INVALID_REQUEST] = "invalid_request",
		[PGC_ERR_TABLE_NOT_ALLOWED] = "table_not_allowed",
		[PGC_ERR_OVERLOADED] = "overloaded",
		[PGC_ERR_SHUTTING_DOWN] = "shutting_down",
		[PGC_ERR_UNAVAILABLE] = "unavailable",
		[PGC_ERR_COMMIT_UNKNOWN] = "commit_unknown",
		[PGC_ERR_CONNECTION_LOST] = "connection_lost",
		[PGC_ERR_TIMEOUT] = "timeout",
		[PGC_ERR_SIDECAR] = "sidecar_error",
	};

	return (size_t)cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "";
}

PGC_API const char *pgc_action_name(enum pgc_action action)
{
	static const char *const names[] = {
		[PGC_ACTION_UNKNOWN] = "",
		[PGC_ACTION_INSERT] = "insert",
		[PGC_ACTION_UPDATE] = "update",
		[PGC_ACTION_NONE] = "none",
	};

	return (size_t)action < sizeof(names) / sizeof(names[0]) ? names[action] : "";
}

PGC_API bool pgc_has_feature(const struct pgc_ack *ping, const char *name)
{
	struct jsontok_doc doc;
	bool found = false;
	size_t i;

	if (!ping || !ping->ok || ping->op != PGC_OP_PING || !ping->features || !name)
		return false;
	jsontok_init(&doc);
	if (jsontok_parse(&doc, ping->features, ping->features_len) == JSONTOK_OK && doc.n &&
	    doc.toks[0].type == JSONTOK_ARRAY)
		for (i = 1; i < doc.n && !found; i = doc.toks[i].end)
			found = doc.toks[i].type == JSONTOK_STRING &&
				jsontok_string_is(&doc, i, name, strlen(name));
	jsontok_free(&doc);
	return found;
}

PGC_API const char *pgc_json_member(const char *obj, size_t len, const char *name, size_t *vlen)
{
	struct buf key;
	size_t pos = 0, n;
	const char *val, *found = NULL;

	buf_init(&key);
	while (obj && jsontext_object_next(obj, len, &pos, &key, &val, &n))
		if (strcmp(buf_cstr(&key), name) == 0) {
			found = val;
			if (vlen)
				*vlen = n;
			break;
		}
	buf_free(&key);
	return found;
}

PGC_API char *pgc_json_get(const char *obj, size_t obj_len, const char *name)
{
	size_t len = 0;
	const char *val = pgc_json_member(obj, obj_len, name, &len);
	struct buf b;

	if (!val || (len == 4 && memcmp(val, "null", 4) == 0))
		return NULL;
	if (len && val[0] == '"') {
		buf_init(&b);
		jsontext_unescape(&b, val, len);
		return (char *)buf_cstr(&b);
	}
	return pgc_strndup(val, len);
}
