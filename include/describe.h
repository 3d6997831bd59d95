/*
 * describe.h — the `describe` request: a table's columns, from the catalog.
 *
 * Each request becomes a small job: it waits for an idle database
 * connection (the flusher gives one to describes before new batches, they
 * are short), runs one catalog query (schema_describe_query), renders the
 * answer and gives the connection back. The job holds a reference to its
 * client until answered. The answer is docs/PROTOCOL.md's:
 *
 *   {"id":1,"ok":true,"relation":"public.t","columns":[
 *     {"name":"id","type":"bigint","insertable":true,"generated":"identity always"}, ...]}
 *
 * or, when the name resolves to nothing, PostgreSQL's 42P01.
 */
#ifndef PGC_DESCRIBE_H
#define PGC_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "client.h"
#include "errdata.h"
#include "pgconn.h"

/* Tags of a describe's commands (a batch's tags are below this). */
#define DESCRIBE_TAG_QUERY 1000
#define DESCRIBE_TAG_SYNC  1001

struct describe;

struct describe_queue {
	struct describe *waiting;   /* oldest first */
	struct describe *running;   /* holding a connection */
	size_t           count;     /* waiting and running */
	struct buf       scratch;   /* one answer at a time */
};

void describe_queue_init(struct describe_queue *q);
/* Answer every job still queued or running with `e` (shutdown, exit) and free it. */
void describe_queue_fail_all(struct describe_queue *q, const struct errdata *e);
void describe_queue_free(struct describe_queue *q);

/* Queue a request of `c` for (schema or NULL, table). */
void describe_request(struct describe_queue *q, struct client *c, const char *id_json,
		      const char *schema, const char *table);

/* The oldest waiting job, taken off the queue; NULL if none. */
struct describe *describe_next(struct describe_queue *q);
/* Run it on `pc`, an idle connection it now owns. */
void describe_start(struct describe_queue *q, struct describe *d, struct pgconn *pc);

/* Is `job` (a connection's owner) one of this queue's jobs? */
bool describe_owns(const struct describe_queue *q, const void *job);
/* pgconn_ops callbacks for a describe job. */
void describe_on_result(struct describe_queue *q, struct pgconn *pc, void *job, int tag,
			const PGresult *res);
void describe_on_lost(struct describe_queue *q, struct pgconn *pc, void *job);

#endif /* PGC_DESCRIBE_H */
