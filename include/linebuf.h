/*
 * linebuf.h — JSON Lines framing for a stream socket.
 *
 * Bytes read from a socket go in; complete lines come out, without their
 * "\n" or "\r\n". A line longer than the limit is reported once as
 * LINEBUF_TOO_LONG and the rest of it, up to its newline, is discarded, so
 * the connection stays usable. Shared by the daemon and the CLI.
 *
 * A reader with many connections (the daemon) can lend every linebuf one
 * shared read buffer in turn (linebuf_read_shared / linebuf_unshare): the
 * bytes are read into it and complete lines framed from it where they lie,
 * and only what is left unconsumed (a partial line, or lines held back by
 * backpressure) is copied into the linebuf's own buffer, which therefore
 * stays small. One hot buffer instead of one 64 KiB buffer per connection
 * keeps the reads in cache. Framing is the same either way.
 */
#ifndef PGC_LINEBUF_H
#define PGC_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

enum linebuf_status {
	LINEBUF_NEED_MORE = 0, /* no complete line buffered */
	LINEBUF_LINE = 1,      /* line and len set to the next line */
	LINEBUF_TOO_LONG = 2,  /* a line exceeded max_line; its bytes are being discarded */
};

struct linebuf {
	struct buf in;        /* unconsumed input (the shared buffer while lent one) */
	size_t     pos;       /* start of the first unconsumed line in `in` */
	size_t     scanned;   /* bytes after pos already known to hold no '\n' */
	size_t     max_line;  /* longest accepted line, excluding the newline */
	bool       discarding;/* inside an over-long line: drop bytes until '\n' */
	bool       shared;    /* `in` is a lent shared buffer; its owner's is in the lender's place */
};

/*
 * Up to this many unconsumed bytes are moved into a shared buffer for the
 * next read; with more (a long line arriving in pieces) the read goes into
 * the linebuf's own buffer, so a long line is not copied back and forth.
 */
#define LINEBUF_SHARE_MAX 4096

void linebuf_init(struct linebuf *lb, size_t max_line);
void linebuf_free(struct linebuf *lb);

/*
 * read(2) once from fd into the buffer, up to `chunk` bytes.
 * Returns bytes read, 0 on EOF, -1 on error (errno set; EAGAIN included).
 */
ssize_t linebuf_read(struct linebuf *lb, int fd, size_t chunk);

/*
 * linebuf_read, but into `shared` (empty, owned by the caller, lent to one
 * linebuf at a time) when at most LINEBUF_SHARE_MAX bytes are unconsumed:
 * those move in front of the new bytes and lb frames from `shared` until
 * linebuf_unshare, which the caller must call before lending `shared` to
 * another linebuf, and before linebuf_feed or linebuf_free on this one.
 */
ssize_t linebuf_read_shared(struct linebuf *lb, int fd, struct buf *shared, size_t chunk);

/*
 * linebuf_read_shared in parts, for a caller that does the read itself (the
 * daemon's reads through io_uring): lend `shared` as above (false if lb
 * keeps its own buffer: it holds one already, or too much is unconsumed),
 * take room for `chunk` bytes (valid until the next call on lb), then
 * commit the n bytes that arrived there.
 */
bool  linebuf_lend(struct linebuf *lb, struct buf *shared);
char *linebuf_space(struct linebuf *lb, size_t chunk);
void  linebuf_commit(struct linebuf *lb, size_t n);

/*
 * Give the shared buffer back (no-op if lb holds none): the unconsumed
 * bytes move into lb's own buffer and `shared` is left empty.
 */
void linebuf_unshare(struct linebuf *lb, struct buf *shared);

/* Append bytes obtained elsewhere (tests, the CLI's stdin). */
void linebuf_feed(struct linebuf *lb, const char *p, size_t n);

/*
 * Next framed line. The returned pointer stays valid until the next call to
 * linebuf_read/linebuf_feed/linebuf_compact. The line is NUL-terminated in
 * place (its newline is overwritten).
 */
enum linebuf_status linebuf_next(struct linebuf *lb, const char **line, size_t *len);

/* Bytes buffered that do not yet form a complete line. */
size_t linebuf_pending(const struct linebuf *lb);

/* Release consumed lines from the front of the buffer. */
void linebuf_compact(struct linebuf *lb);

#endif /* PGC_LINEBUF_H */
