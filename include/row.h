/*
 * row.h — one accepted insert: its values, who to ack, and its outcome.
 *
 * A row is created by request decoding, accepted by the ledger, waits in its
 * table's group, travels in a batch to PostgreSQL and is completed exactly
 * once (ledger_complete), which writes its ack and frees it.
 */
#ifndef PGC_ROW_H
#define PGC_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errdata.h"

struct client;
struct colset;
struct conflict;

enum value_kind {
	VALUE_NULL = 0,
	VALUE_STRING,   /* text: the decoded string */
	VALUE_NUMBER,   /* text: the number exactly as the client wrote it */
	VALUE_BOOL,     /* text: "true" or "false" */
	VALUE_OBJECT,   /* text: compact JSON text */
	VALUE_ARRAY,    /* text: compact JSON text (a PostgreSQL array for array columns) */
};

struct value {
	enum value_kind kind;
	const char     *text;  /* into the row's storage; NULL for VALUE_NULL */
	size_t          len;
};

/* What is known about a row's fate while its batch runs. */
enum row_outcome {
	ROW_PENDING = 0,  /* not yet written */
	ROW_WRITTEN,      /* its statement ran in the batch's open transaction; ok once it commits */
	ROW_FAILED,       /* failed on its own: `error` says why */
};

/* What its INSERT did, for the ack of a row with on_conflict or a key. */
enum row_action {
	ACTION_NONE_YET = 0, /* a plain insert: the ack says nothing more */
	ACTION_INSERT,       /* "action":"insert" */
	ACTION_UPDATE,       /* "action":"update" */
	ACTION_NOTHING,      /* "action":"none": ON CONFLICT DO NOTHING did nothing */
	ACTION_DUPLICATE,    /* its key was already stored: "duplicate":true, not written */
};

struct row {
	struct row     *next;        /* in its group's queue */
	struct client  *client;      /* who to ack (holds a reference) */
	const char     *id_json;     /* the request id as JSON text ("null" if absent), in the row's storage */
	uint64_t        seq;         /* acceptance order, for `flush` */
	double          accepted_at; /* ev_now() when decoded */
	struct colset  *colset;      /* its columns, sorted by name; values in that order */
	struct conflict *conflict;   /* its on_conflict, interned in its group, or NULL */
	const char     *key;         /* its idempotency key (in the row's storage), or NULL */
	size_t          key_len;
	struct row     *followers;   /* requests with the same key that came while it was
	                              * pending: they get its answer (ledger.c) */
	struct group   *follower_group; /* a follower's own table (keys span tables) */
	bool            returning_all;   /* "returning": ["*"] */
	char          **returning;   /* requested columns (NULL-terminated) or NULL */
	size_t          n_returning;
	size_t          bytes;       /* size of values, for --max-batch-bytes */
	enum row_outcome outcome;
	enum row_action action;
	struct buf      returned;    /* the RETURNING object's JSON text, if it asked for one */
	struct errdata  error;       /* why it failed (set once outcome is ROW_FAILED) */
	struct value    values[];    /* colset->n values */
};

/* Does the row want RETURNING data? */
static inline bool row_wants_returning(const struct row *r)
{
	return r->returning_all || r->n_returning > 0;
}

void row_free(struct row *r);

#endif /* PGC_ROW_H */
