/*
 * request.h — decode and validate one request line (PROTOCOL.md "Requests").
 *
 * An insert becomes a struct row attached to its table's group; any problem
 * becomes a PC error with the request's id when it could be read.
 */
#ifndef PGC_REQUEST_H
#define PGC_REQUEST_H

#include <stddef.h>

#include "config.h"
#include "errdata.h"
#include "group.h"
#include "jsontext.h"
#include "jsontok.h"
#include "row.h"

enum request_op {
	OP_INSERT = 0,
	OP_PING,
	OP_FLUSH,
	OP_STATS,
	OP_DESCRIBE,   /* a table's columns (docs/PROTOCOL.md, an extension of v1) */
};

struct request {
	enum request_op op;
	const char     *id_json;    /* the id as the client wrote it, "null" when absent or
	                             * unreadable; valid until the next request_decode */
	struct group   *group;      /* insert, describe: the table's group */
	struct row     *row;        /* insert: the decoded row (owned by caller) */
	enum pc_code    err;        /* PC_NONE on success */
	char            err_message[256];
};

struct row_member;

/* The longest idempotency key (docs/PROTOCOL.md), in bytes. */
#define REQUEST_KEY_MAX 200

struct request_decoder {
	struct jsontok_doc     doc;       /* the current line's tokens */
	struct buf             text;      /* scratch: a row's values */
	struct buf             names;     /* scratch: a row's column names, NUL-separated */
	struct buf             schema;    /* scratch: the table's schema ("" when none) */
	struct buf             table;     /* scratch: the table's name */
	struct buf             id;        /* the current request's id text */
	struct buf             key;       /* the current insert's idempotency key */
	struct row_member     *members;   /* scratch: a row's members, in line order */
	struct row_member    **sorted;    /* scratch: the same, sorted by name */
	const char           **colnames;  /* scratch: the sorted names */
	size_t                 cap;       /* entries in members/sorted/colnames */
	struct group_registry *groups;
	const struct config   *cfg;
};

void request_decoder_init(struct request_decoder *d, struct group_registry *groups,
			  const struct config *cfg);
void request_decoder_free(struct request_decoder *d);

/*
 * Decode `line` (len bytes, NUL at line[len]). Always fills req->id_json.
 * On failure req->err is set (with err_message) and no row is created.
 */
void request_decode(struct request_decoder *d, const char *line, size_t len,
		    double now, struct request *req);

/* Free what request_decode allocated (not the row once it is queued). */
void request_clear(struct request *req);

#endif /* PGC_REQUEST_H */
