/*
 * ack.h — response lines (PROTOCOL.md "Responses").
 *
 * Every function writes one JSON object without the trailing newline.
 */
#ifndef PGC_ACK_H
#define PGC_ACK_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "errdata.h"
#include "row.h"

/*
 * {"id":..,"ok":true} or, with row_json, {"id":..,"ok":true,"row":{...}};
 * `action` adds "action":"insert"|"update"|"none" (on_conflict) or
 * "duplicate":true (a key already stored), nothing for ACTION_NONE_YET.
 */
void ack_ok(struct buf *out, const char *id_json, const char *row_json, size_t row_len,
	    enum row_action action);

/*
 * {"id":..,"ok":false,"error":{"code":..,"message":.., "detail":.., ...}}:
 * the one place an error becomes JSON (PostgreSQL's optional fields only
 * where present).
 */
void ack_error(struct buf *out, const char *id_json, const struct errdata *e);

/*
 * The `describe` answer from schema_describe_query's result (at least one
 * row): {"id":..,"ok":true,"relation":..,"columns":[{"name":..,"type":..,
 * "insertable":..,"generated":..},...]}.
 */
void ack_describe(struct buf *out, const char *id_json, const PGresult *res);

/*
 * The RETURNING object for one row: the columns it asked for (all of them
 * for "*") from tuple `tup` of `res`, typed as PROTOCOL.md says. The
 * table's columns start at `first_col` (an upsert's result has its own
 * column first).
 */
void ack_returning_object(struct buf *out, const PGresult *res, int tup, int first_col,
			  const struct row *r);

#endif /* PGC_ACK_H */
