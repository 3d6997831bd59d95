/*
 * describe.c — the `describe` request (see describe.h).
 */
#include "describe.h"

#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "schema.h"

struct describe {
	struct describe *next;
	struct client   *client;     /* a reference taken (client_row_taken) */
	char            *id_json;
	char            *schema;     /* NULL: through search_path */
	char            *table;
	struct pgconn   *pc;         /* while its query runs */
	struct buf       answer;     /* the response line, once the result came */
	struct errdata   error;      /* or the error to answer */
};

void describe_queue_init(struct describe_queue *q)
{
	memset(q, 0, sizeof(*q));
	buf_init(&q->scratch);
}

static void unlink_from(struct describe **list, struct describe *d)
{
	for (; *list; list = &(*list)->next)
		if (*list == d) {
			*list = d->next;
			return;
		}
}

/* Send the answer (or the error), drop the client's reference, free the job. */
static void describe_finish(struct describe_queue *q, struct describe *d)
{
	if (errdata_is_set(&d->error)) {
		buf_reset(&q->scratch);
		ack_error(&q->scratch, d->id_json, &d->error);
		client_send_line(d->client, q->scratch.data, q->scratch.len);
	} else {
		client_send_line(d->client, d->answer.data, d->answer.len);
	}
	unlink_from(&q->waiting, d);
	unlink_from(&q->running, d);
	q->count--;
	client_row_done(d->client);
	errdata_clear(&d->error);
	buf_free(&d->answer);
	free(d->id_json);
	free(d->schema);
	free(d->table);
	free(d);
}

void describe_request(struct describe_queue *q, struct client *c, const char *id_json,
		      const char *schema, const char *table)
{
	struct describe *d = pgc_calloc(1, sizeof(*d)), **tail = &q->waiting;

	d->client = c;
	client_row_taken(c);
	d->id_json = pgc_strdup(id_json);
	d->schema = schema ? pgc_strdup(schema) : NULL;
	d->table = pgc_strdup(table);
	buf_init(&d->answer);
	while (*tail)
		tail = &(*tail)->next;
	*tail = d;
	q->count++;
}

struct describe *describe_next(struct describe_queue *q)
{
	struct describe *d = q->waiting;

	if (d)
		q->waiting = d->next;
	return d;
}

void describe_start(struct describe_queue *q, struct describe *d, struct pgconn *pc)
{
	const char *params[2] = { d->schema, d->table };

	pgconn_acquire(pc, d);
	d->pc = pc;
	d->next = q->running;
	q->running = d;
	if (pgconn_send(pc, DESCRIBE_TAG_QUERY, 0, schema_describe_query, 2, params))
		pgconn_sync(pc, DESCRIBE_TAG_SYNC, 0);
}

bool describe_owns(const struct describe_queue *q, const void *job)
{
	const struct describe *d;

	for (d = q->running; d; d = d->next)
		if (d == job)
			return true;
	return false;
}

/* The answer from the catalog query's result. */
static void describe_render(struct describe *d, const PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		errdata_from_result(&d->error, res);
	} else if (PQntuples(res) == 0) {
		if (d->schema)
			errdata_set(&d->error, "42P01", "relation \"%s.%s\" does not exist", d->schema, d->table);
		else
			errdata_set(&d->error, "42P01", "relation \"%s\" does not exist", d->table);
	} else {
		buf_reset(&d->answer);
		ack_describe(&d->answer, d->id_json, res);
	}
}

void describe_on_result(struct describe_queue *q, struct pgconn *pc, void *job, int tag,
			const PGresult *res)
{
	struct describe *d = job;

	if (tag == DESCRIBE_TAG_QUERY) {
		describe_render(d, res);
		return;
	}
	d->pc = NULL;
	pgconn_release(pc, d);
	describe_finish(q, d);
}

void describe_on_lost(struct describe_queue *q, struct pgconn *pc, void *job)
{
	struct describe *d = job;

	d->pc = NULL;
	errdata_set_pc(&d->error, PC_DATABASE_UNAVAILABLE, "the database connection was lost: %s",
		       pc->last_error);
	describe_finish(q, d);
}

void describe_queue_fail_all(struct describe_queue *q, const struct errdata *e)
{
	struct describe *d;

	while ((d = q->waiting) || (d = q->running)) {
		if (d->pc) {
			pgconn_abort(d->pc, "shutdown"); /* ends it through describe_on_lost */
			continue;
		}
		errdata_copy(&d->error, e);
		describe_finish(q, d);
	}
}

void describe_queue_free(struct describe_queue *q)
{
	buf_free(&q->scratch);
}
