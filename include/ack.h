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
#include "row.h"

/* PC error codes raised by the sidecar itself. */
#define PC_INVALID_JSON         "PC001"
#define PC_INVALID_REQUEST      "PC002"
#define PC_REQUEST_TOO_LARGE    "PC003"
#define PC_OVERLOADED           "PC004"
#define PC_SHUTTING_DOWN        "PC005"
#define PC_DATABASE_UNAVAILABLE "PC006"
#define PC_COMMIT_UNKNOWN       "PC007"
#define PC_TABLE_NOT_ALLOWED    "PC008"
#define PC_UNKNOWN_OP           "PC009"

/* {"id":..,"ok":true} or, with row_json, {"id":..,"ok":true,"row":{...}} */
void ack_ok(struct buf *out, const char *id_json, const char *row_json, size_t row_len);

/* {"id":..,"ok":false,"error":{"code":..,"message":..}} */
void ack_error(struct buf *out, const char *id_json, const char *code, const char *message);

/*
 * The SQLSTATE of an error ack written by ack_error or ack_pg_error (for
 * counting failures by code). The id is a JSON scalar, so the first
 * `,"ok":false,"error":{"code":"` is the ack's own. False (code "") if
 * `ack` is not such an ack.
 */
bool ack_error_code(const char *ack, size_t len, char code[6]);
/* Its message, unescaped, appended to `out`; false if there is none. */
bool ack_error_message(const char *ack, size_t len, struct buf *out);

/* PostgreSQL's error fields, kept after the PGresult is gone. */
struct pg_error {
	char *code;        /* SQLSTATE */
	char *message;
	char *detail;
	char *hint;
	char *column;
	char *constraint;
};

void pg_error_from_result(struct pg_error *e, const PGresult *res);
/* A synthesized error in PostgreSQL's shape (e.g. 42703 for an unknown column). */
void pg_error_set(struct pg_error *e, const char *code, const char *message);
void pg_error_clear(struct pg_error *e);

/* An error ack carrying PostgreSQL's fields. */
void ack_pg_error(struct buf *out, const char *id_json, const struct pg_error *e);

/*
 * The RETURNING object for one row: the columns it asked for (all of them
 * for "*") from tuple `tup` of `res`, typed as PROTOCOL.md says.
 */
void ack_returning_object(struct buf *out, const PGresult *res, int tup, const struct row *r);

#endif /* PGC_ACK_H */
