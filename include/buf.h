/*
 * buf.h — a growable byte buffer.
 *
 * Used for client input and output, SQL text and array literals. Allocation
 * failure aborts the process (like Redis' zmalloc): a sidecar that cannot
 * allocate a few kilobytes cannot keep any promise anyway.
 */
#ifndef PGC_BUF_H
#define PGC_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
	char   *data;  /* NUL-terminated when len > 0 or after buf_cstr() */
	size_t  len;   /* bytes in use */
	size_t  cap;   /* bytes allocated */
};

void  buf_init(struct buf *b);
void  buf_free(struct buf *b);
/* Grow the allocation to at least `need` bytes (buf_reserve's slow path). */
void  buf_grow(struct buf *b, size_t need);

/* Make room for at least `extra` more bytes (plus a terminating NUL). */
static inline void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
		buf_grow(b, b->len + extra + 1);
}

static inline void buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void buf_putc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void  buf_puts(struct buf *b, const char *s);
void  buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void  buf_consume(struct buf *b, size_t n);
/* Empty the buffer, keeping its allocation. */
void  buf_reset(struct buf *b);
/* The contents as a NUL-terminated string (never NULL). */
const char *buf_cstr(struct buf *b);

/* Allocation helpers that abort on failure. */
void *pgc_malloc(size_t n);
void *pgc_calloc(size_t count, size_t n);
void *pgc_realloc(void *p, size_t n);
char *pgc_strdup(const char *s);
char *pgc_strndup(const char *s, size_t n);

#endif /* PGC_BUF_H */
