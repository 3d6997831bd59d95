/*
 * pgc_sync.c — libpgcoalesce's blocking API (see pgcoalesce.h, "blocking"),
 * on top of the non-blocking core: poll() on the client's socket, then
 * pgc_process(). A blocking call's own answer is kept in the client (the
 * slot is flagged PGC_SLOT_SYNC) instead of going to the callback.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "pgc_client.h"

PGC_API int pgc_wait(pgc_client *c, int timeout_ms)
{
	struct pollfd p;
	int want = pgc_want(c), deadline = pgc_timeout(c), t = timeout_ms, n, ready = 0;

	if (c->fd < 0)
		return PGC_E_NOT_CONNECTED;
	if (deadline >= 0 && (t < 0 || deadline < t))
		t = deadline; /* wake up for the earliest request deadline */
	p.fd = c->fd;
	p.events = (short)((want & PGC_WANT_READ ? POLLIN : 0) | (want & PGC_WANT_WRITE ? POLLOUT : 0));
	p.revents = 0;
	n = poll(&p, 1, t);
	if (n < 0)
		return errno == EINTR ? PGC_E_INTERRUPTED : PGC_E_LOST;
	if (p.revents & (POLLIN | POLLHUP | POLLERR))
		ready |= PGC_WANT_READ;
	if (p.revents & POLLOUT)
		ready |= PGC_WANT_WRITE;
	if (pgc_process(c, ready) != PGC_OK)
		return PGC_E_LOST;
	return n == 0 && t == timeout_ms ? PGC_E_TIMEOUT : PGC_OK;
}

PGC_API int pgc_drain(pgc_client *c, int timeout_ms)
{
	double end = pgc_now_ms() + timeout_ms;
	int rc;

	while (pgc_in_flight(c) > 0) {
		int left = timeout_ms < 0 ? -1 : (int)(end - pgc_now_ms());
		if (timeout_ms >= 0 && left <= 0)
			return PGC_E_TIMEOUT;
		rc = pgc_wait(c, left);
		if (rc != PGC_OK && rc != PGC_E_INTERRUPTED && rc != PGC_E_TIMEOUT)
			return rc;
	}
	return PGC_OK;
}

/* The answer when the request could not even be sent. */
static const struct pgc_ack *sync_unsent(pgc_client *c, enum pgc_op op)
{
	struct pgc_slot s;

	memset(&s, 0, sizeof(s));
	s.op = (uint8_t)op;
	snprintf(c->sync_msg, sizeof(c->sync_msg), "%s", c->err);
	pgc_client_side_ack(&s, PGC_ERR_CONNECTION_LOST, true, c->sync_msg, &c->sync_ack);
	return &c->sync_ack;
}

/* What a blocking call sends: an insert or an op. */
struct sync_req {
	enum pgc_op                   op;
	const char                   *name;      /* the op */
	const char                   *members;
	const char                   *table;
	const pgc_row                *row;
	const struct pgc_insert_opts *opts;
};

static int sync_send(pgc_client *c, const struct sync_req *r)
{
	if (r->op == PGC_OP_INSERT)
		return pgc_client_send_insert(c, PGC_SLOT_SYNC, r->table, r->row, r->opts, NULL, NULL);
	return pgc_client_send_op(c, PGC_SLOT_SYNC, r->name, r->members, NULL, NULL);
}

/* Send (waiting for room if the pipeline is full), then wait for the answer. */
static const struct pgc_ack *sync_call(pgc_client *c, const struct sync_req *r)
{
	int rc;

	c->sync_done = false;
	while ((rc = sync_send(c, r)) == PGC_E_FULL || rc == PGC_E_BUSY)
		if (pgc_wait(c, -1) == PGC_E_LOST)
			continue; /* the next send reconnects */
	if (rc == PGC_E_INVALID)
		return NULL;
	if (rc != PGC_OK)
		return sync_unsent(c, r->op);
	/* a lost connection answers it too, before pgc_wait() says so */
	while (!c->sync_done && pgc_wait(c, -1) != PGC_E_NOT_CONNECTED)
		;
	return c->sync_done ? &c->sync_ack : sync_unsent(c, r->op);
}

PGC_API const struct pgc_ack *pgc_insert(pgc_client *c, const char *table, const pgc_row *row,
					 const char *const *returning, const char *schema)
{
	struct pgc_insert_opts opts = { .schema = schema, .returning = returning };
	struct sync_req r = { PGC_OP_INSERT, NULL, NULL, table, row, &opts };

	return sync_call(c, &r);
}

PGC_API const struct pgc_ack *pgc_insert_ex(pgc_client *c, const char *table, const pgc_row *row,
					    const struct pgc_insert_opts *opts)
{
	struct sync_req r = { PGC_OP_INSERT, NULL, NULL, table, row, opts };

	return sync_call(c, &r);
}

PGC_API const struct pgc_ack *pgc_op(pgc_client *c, const char *op, const char *members)
{
	struct sync_req r = { pgc_op_kind(op ? op : ""), op, members, NULL, NULL, NULL };

	return sync_call(c, &r);
}

PGC_API const struct pgc_ack *pgc_ping(pgc_client *c)
{
	return pgc_op(c, "ping", NULL);
}

PGC_API const struct pgc_ack *pgc_flush(pgc_client *c)
{
	return pgc_op(c, "flush", NULL);
}

PGC_API const struct pgc_ack *pgc_stats(pgc_client *c)
{
	return pgc_op(c, "stats", NULL);
}
