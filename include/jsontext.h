/*
 * jsontext.h — JSON text that keeps its numbers exact.
 *
 * cJSON stores a number only as a double. PROTOCOL.md promises numbers reach
 * PostgreSQL "character for character", so before cJSON parses a line we scan
 * it once: the scan validates UTF-8, rejects U+0000 (raw or escaped), checks
 * number syntax strictly and records every number token in document order.
 * After parsing, jsontext_parse() stores in each number node's `valueint` the
 * index of its token, so the exact text can be written back out.
 *
 * Also here: writing JSON strings and values, and turning a JSON array into a
 * PostgreSQL array literal. Shared by the daemon and the CLI.
 */
#ifndef PGC_JSONTEXT_H
#define PGC_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"

struct jsontext_span {
	size_t off;  /* offset of the token in the scanned text */
	size_t len;  /* token length in bytes */
};

/* The number tokens of one JSON text. Reusable: jsontext_scan() resets it. */
struct jsontext_numbers {
	const char           *text;   /* the scanned text (not owned) */
	struct jsontext_span *spans;  /* number tokens in document order */
	size_t                count;
	size_t                cap;
};

enum jsontext_status {
	JSONTEXT_OK = 0,
	JSONTEXT_SYNTAX,    /* not JSON (bad number, raw control char, parse error) */
	JSONTEXT_BAD_UTF8,  /* invalid UTF-8 */
	JSONTEXT_NUL,       /* a string holds U+0000 */
	JSONTEXT_NOT_OBJECT,/* valid JSON, but the top level is not an object */
};

void jsontext_numbers_init(struct jsontext_numbers *nums);
void jsontext_numbers_free(struct jsontext_numbers *nums);

/*
 * Scan `len` bytes of `text` (see above). JSONTEXT_OK does not mean the text
 * is valid JSON: only cJSON decides that.
 */
enum jsontext_status jsontext_scan(struct jsontext_numbers *nums, const char *text, size_t len);

/*
 * Scan and parse one JSON text whose top level must be an object. Returns the
 * tree (free with cJSON_Delete) with number nodes tagged, or NULL with
 * *status JSONTEXT_SYNTAX or JSONTEXT_NOT_OBJECT. A tree may come back with
 * *status JSONTEXT_NUL or JSONTEXT_BAD_UTF8: the text parses (so its id can be
 * read) but must be refused. `text[len]` must be readable.
 */
cJSON *jsontext_parse(struct jsontext_numbers *nums, const char *text, size_t len,
		      enum jsontext_status *status);

/* Exact text of a tagged number node; *len set to its length. */
const char *jsontext_number(const struct jsontext_numbers *nums, const cJSON *num, size_t *len);

/* Write a JSON string literal (quotes included) for n bytes of UTF-8. */
void jsontext_put_string(struct buf *b, const char *s, size_t n);

/* Write a value compactly, numbers as the client wrote them. */
void jsontext_put_value(struct buf *b, const cJSON *v, const struct jsontext_numbers *nums);

/*
 * Write one element of a PostgreSQL array literal: double-quoted, with '"'
 * and '\' escaped by a backslash.
 */
void jsontext_put_pg_quoted(struct buf *b, const char *s, size_t n);

/*
 * Convert the text of a JSON array into a PostgreSQL array literal:
 * [1,"a",null,[2,3]] -> {"1","a",NULL,{"2","3"}}. Objects become quoted JSON
 * text (for json[] columns). Returns false if `json` is not an array.
 * The input must be valid JSON (as written by jsontext_put_value).
 */
bool jsontext_to_pg_array(struct buf *b, const char *json, size_t len);

/*
 * Iterate over the members of the JSON object text `json` (valid JSON, as
 * a sidecar response is): start with *pos = 0; each call decodes the next
 * key into `key` and points *val at the value's raw text (a nested object
 * keeps its exact spacing). Returns false after the last member.
 */
bool jsontext_object_next(const char *json, size_t len, size_t *pos, struct buf *key,
			  const char **val, size_t *val_len);

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
size_t jsontext_utf8_seq_len(const unsigned char *p, size_t n);

/* Append code point cp (at most U+10FFFF) as UTF-8. */
void jsontext_put_utf8(struct buf *out, unsigned cp);

/*
 * Decode the JSON string token at s (n bytes, quotes included, valid JSON)
 * into raw UTF-8 appended to `out`.
 */
void jsontext_unescape(struct buf *out, const char *s, size_t n);

/*
 * cJSON trees that live for one request line only: route cJSON's
 * allocations to a bump arena that jsontext_arena_reset() empties. For the
 * daemon, whose only cJSON trees are built and freed inside one decode; a
 * cJSON object must never outlive the next reset.
 */
void jsontext_arena_install(void);
void jsontext_arena_reset(void);
void jsontext_arena_free(void);

#endif /* PGC_JSONTEXT_H */
