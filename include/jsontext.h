/*
 * jsontext.h — JSON text helpers shared by the daemon and the CLI.
 *
 * Writing JSON strings, decoding JSON string tokens, UTF-8 checks, walking
 * the members of an object's text, and turning a JSON array into a
 * PostgreSQL array literal. They work on JSON text (valid JSON, as
 * jsontok.c has checked it or the sidecar wrote it), never on a tree, so
 * numbers stay exactly as written. Parsing request lines is jsontok.h.
 */
#ifndef PGC_JSONTEXT_H
#define PGC_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Write a JSON string literal (quotes included) for n bytes of UTF-8. */
void jsontext_put_string(struct buf *b, const char *s, size_t n);

/*
 * Write one element of a PostgreSQL array literal: double-quoted, with '"'
 * and '\' escaped by a backslash.
 */
void jsontext_put_pg_quoted(struct buf *b, const char *s, size_t n);

/*
 * Append valid JSON text without the whitespace between its tokens (a json
 * column keeps its input's spacing and newlines: an ack must stay one
 * line). Strings are copied as they are.
 */
void jsontext_put_compact(struct buf *b, const char *json, size_t len);

/*
 * Convert the text of a JSON array into a PostgreSQL array literal:
 * [1,"a",null,[2,3]] -> {"1","a",NULL,{"2","3"}}. Objects become quoted JSON
 * text (for json[] columns). With `json_elems` (the array's elements are
 * json or jsonb) only the outer array is one: each element, nested arrays
 * included, is one element holding its JSON text (strings their content, as
 * for any element type). Elements are separated by `delim` (the element
 * type's typdelim: ',' but ';' for box). Returns false if `json` is not an
 * array. The input must be valid JSON (whitespace allowed).
 */
bool jsontext_to_pg_array(struct buf *b, const char *json, size_t len, bool json_elems, char delim);

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

/* Length of the longest prefix of s (n bytes) that is valid UTF-8 without a NUL. */
size_t jsontext_utf8_prefix(const char *s, size_t n);

/*
 * jsontext_put_string for text that may not be valid UTF-8 (a message cut
 * at a byte count, say): each invalid byte (and NUL) becomes U+FFFD.
 */
void jsontext_put_text(struct buf *b, const char *s, size_t n);

/* Append code point cp (at most U+10FFFF) as UTF-8. */
void jsontext_put_utf8(struct buf *out, unsigned cp);

/*
 * Decode the JSON string token at s (n bytes, quotes included, valid JSON)
 * into raw UTF-8 appended to `out`.
 */
void jsontext_unescape(struct buf *out, const char *s, size_t n);

#endif /* PGC_JSONTEXT_H */
