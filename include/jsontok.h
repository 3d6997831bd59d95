/*
 * jsontok.h — a strict one-pass JSON tokenizer for request lines.
 *
 * The daemon decodes every request line with it (request.c). One pass over
 * the bytes validates the text against RFC 8259 (grammar, UTF-8, escapes,
 * number syntax) and records one token per value in document order, each
 * with its raw span in the text. Nothing is converted: a number stays the
 * exact text the client wrote (PROTOCOL.md: "character for character"), a
 * string stays its quoted, escaped source until the caller asks for its
 * value (jsontext_unescape). No tree, no allocation per value, no recursion:
 * a line of any nesting depth is parsed in bounded stack space, and depth is
 * limited (JSONTOK_MAX_DEPTH) like cJSON's.
 *
 * Tokens of a container follow it; `end` is the index just past its last
 * descendant, so siblings are walked with i = toks[i].end. An object's
 * children alternate key (a string token) and value.
 */
#ifndef PGC_JSONTOK_H
#define PGC_JSONTOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONTOK_MAX_DEPTH 1000

enum jsontok_type {
	JSONTOK_OBJECT = 0,
	JSONTOK_ARRAY,
	JSONTOK_STRING,
	JSONTOK_NUMBER,
	JSONTOK_TRUE,
	JSONTOK_FALSE,
	JSONTOK_NULL,
};

struct jsontok {
	uint8_t  type;     /* enum jsontok_type */
	uint8_t  escaped;  /* string: holds a backslash escape */
	uint32_t off;      /* start of the token in the text */
	uint32_t len;      /* bytes, quotes and brackets included */
	uint32_t end;      /* index of the first token after this one's subtree */
	uint32_t count;    /* object: members; array: elements */
};

enum jsontok_status {
	JSONTOK_OK = 0,
	JSONTOK_SYNTAX,     /* not JSON */
	JSONTOK_TOO_DEEP,   /* nested deeper than JSONTOK_MAX_DEPTH */
	JSONTOK_BAD_UTF8,   /* invalid UTF-8, or a \u escape of an unpaired surrogate */
	JSONTOK_NUL,        /* a string holds U+0000 (raw or escaped) */
};

/* The tokens of one text. Reusable: jsontok_parse() starts afresh. */
struct jsontok_doc {
	const char     *text;   /* the parsed text (not owned) */
	struct jsontok *toks;
	size_t          n;
	size_t          cap;
	uint32_t       *stack;  /* open containers while parsing */
	size_t          stack_cap;
};

void jsontok_init(struct jsontok_doc *doc);
void jsontok_free(struct jsontok_doc *doc);

/*
 * Tokenize `len` bytes of `text` (at most UINT32_MAX). JSONTOK_NUL and
 * JSONTOK_BAD_UTF8 are reported only for a text that is otherwise valid, so
 * its tokens (a request's id) can still be read; on JSONTOK_SYNTAX or
 * JSONTOK_TOO_DEEP doc->n is 0.
 */
enum jsontok_status jsontok_parse(struct jsontok_doc *doc, const char *text, size_t len);

/* The raw text of token i. */
static inline const char *jsontok_text(const struct jsontok_doc *doc, size_t i)
{
	return doc->text + doc->toks[i].off;
}

/* Is the unescaped value of string token i equal to the n bytes of s? */
bool jsontok_string_is(const struct jsontok_doc *doc, size_t i, const char *s, size_t n);

#endif /* PGC_JSONTOK_H */
