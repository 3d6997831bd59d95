/*
 * linebuf.h — JSON Lines framing for a stream socket.
 *
 * Bytes read from a socket go in; complete lines come out, without their
 * "\n" or "\r\n". A line longer than the limit is reported once as
 * LINEBUF_TOO_LONG and the rest of it, up to its newline, is discarded, so
 * the connection stays usable. Shared by the daemon and the CLI.
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
	struct buf in;        /* unconsumed input */
	size_t     pos;       /* start of the first unconsumed line in `in` */
	size_t     scanned;   /* bytes after pos already known to hold no '\n' */
	size_t     max_line;  /* longest accepted line, excluding the newline */
	bool       discarding;/* inside an over-long line: drop bytes until '\n' */
};

void linebuf_init(struct linebuf *lb, size_t max_line);
void linebuf_free(struct linebuf *lb);

/*
 * read(2) once from fd into the buffer, up to `chunk` bytes.
 * Returns bytes read, 0 on EOF, -1 on error (errno set; EAGAIN included).
 */
ssize_t linebuf_read(struct linebuf *lb, int fd, size_t chunk);

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
