/*
 * pgc_wire.h — libpgcoalesce's protocol text (internal): request lines out,
 * answer lines in (docs/PROTOCOL.md).
 *
 * Requests are written with the library's own ids, exact names and the row
 * object as the caller built it. Answers are walked with the repository's
 * JSON text helpers (jsontext: depth-safe, no tree, numbers left as
 * written), so the library needs no JSON library: the common
 * {"id":N,"ok":true} takes a fast path, anything else is walked once and
 * decoded into a struct pgc_ack whose strings point into the line (raw
 * values) or into the decoder's scratch (unescaped error fields). The
 * sidecar writes valid JSON; the walk only checks the line is an object.
 */
#ifndef PGC_WIRE_H
#define PGC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pgcoalesce.h"

/* What an answer's "id" was. */
enum pgc_wire_id {
	PGC_WIRE_ID_NUMBER = 0, /* an unsigned integer: *wire_id */
	PGC_WIRE_ID_NULL,       /* null or absent: the sidecar could not read the request's id */
	PGC_WIRE_ID_OTHER,      /* anything else (not one of the library's ids) */
};

/* Reusable state for decoding answers (no allocation per answer once warm). */
struct pgc_decoder {
	struct buf scratch; /* unescaped strings, NUL-separated */
};

void pgc_decoder_init(struct pgc_decoder *d);
void pgc_decoder_free(struct pgc_decoder *d);

/*
 * Decode one answer line into *a (id, op and user are left for the caller)
 * and say what its id was. False when the line is not a JSON object: a
 * broken protocol stream. The strings in *a stay valid until the next
 * decode with d, and while the line lives.
 */
bool pgc_decode(struct pgc_decoder *d, const char *line, size_t len, struct pgc_ack *a,
		enum pgc_wire_id *kind, uint64_t *wire_id);

/* The class of an error code, and whether it means the row is certainly not
 * written (PROTOCOL.md's table; a SQLSTATE is a row error). */
enum pgc_error_class pgc_classify(const char *code, bool *not_written);

/* Is s (n bytes) valid UTF-8 without U+0000, as the protocol needs? */
bool pgc_valid_text(const char *s, size_t n);

/* Is s (NUL-terminated) one JSON number, as RFC 8259 writes it? */
bool pgc_valid_number(const char *s);

/* The longest idempotency key the protocol takes, in bytes. */
#define PGC_KEY_MAX 200

/*
 * Would the sidecar take these options (PROTOCOL.md: names UTF-8 text, a
 * key of 1 to PGC_KEY_MAX bytes, on_conflict well formed)? False with a
 * one-line reason naming the field in err.
 */
bool pgc_wire_opts_ok(const struct pgc_insert_opts *opts, char *err, size_t errlen);

/* {"id":<id>,"table":...[,"schema":...],"row":<row>[,"returning":[...]]
 *  [,"on_conflict":{...}][,"key":...]} and '\n'; opts may be NULL. */
void pgc_wire_insert(struct buf *out, uint64_t id, const char *table, const char *row,
		     size_t row_len, const struct pgc_insert_opts *opts);

/* {"op":<op>,"id":<id>[,<members>]} and '\n'. */
void pgc_wire_op(struct buf *out, const char *op, uint64_t id, const char *members);

#endif /* PGC_WIRE_H */
