/*
 * linebuf.c — JSON Lines framing (see linebuf.h).
 */
#include "linebuf.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void linebuf_init(struct linebuf *lb, size_t max_line)
{
	buf_init(&lb->in);
	lb->pos = 0;
	lb->scanned = 0;
	lb->max_line = max_line;
	lb->discarding = false;
	lb->shared = false;
}

void linebuf_free(struct linebuf *lb)
{
	buf_free(&lb->in);
}

void linebuf_compact(struct linebuf *lb)
{
	if (lb->pos == 0)
		return;
	buf_consume(&lb->in, lb->pos);
	lb->pos = 0;
}

char *linebuf_space(struct linebuf *lb, size_t chunk)
{
	linebuf_compact(lb);
	buf_reserve(&lb->in, chunk);
	return lb->in.data + lb->in.len;
}

void linebuf_commit(struct linebuf *lb, size_t n)
{
	lb->in.len += n;
	lb->in.data[lb->in.len] = '\0';
}

ssize_t linebuf_read(struct linebuf *lb, int fd, size_t chunk)
{
	char *p = linebuf_space(lb, chunk);
	ssize_t n;

	do {
		n = read(fd, p, chunk);
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		linebuf_commit(lb, (size_t)n);
	return n;
}

/*
 * The lender's buffer and lb's own trade places: lb frames from the shared
 * one (its unconsumed bytes moved to the front, so `scanned` still holds),
 * the lender keeps lb's own allocation until linebuf_unshare.
 */
bool linebuf_lend(struct linebuf *lb, struct buf *shared)
{
	struct buf own;
	size_t pending = linebuf_pending(lb);

	if (lb->shared || pending > LINEBUF_SHARE_MAX)
		return false;
	own = lb->in;
	lb->in = *shared;
	*shared = own;
	buf_reset(&lb->in);
	if (pending)
		buf_append(&lb->in, own.data + lb->pos, pending);
	lb->pos = 0;
	lb->shared = true;
	return true;
}

ssize_t linebuf_read_shared(struct linebuf *lb, int fd, struct buf *shared, size_t chunk)
{
	linebuf_lend(lb, shared);
	return linebuf_read(lb, fd, chunk);
}

void linebuf_unshare(struct linebuf *lb, struct buf *shared)
{
	struct buf lent;
	size_t pending;

	if (!lb->shared)
		return;
	lent = lb->in;
	lb->in = *shared;
	pending = lent.len - lb->pos;
	buf_reset(&lb->in);
	if (pending)
		buf_append(&lb->in, lent.data + lb->pos, pending);
	else if (lb->in.cap > 2 * LINEBUF_SHARE_MAX)
		buf_free(&lb->in); /* what a long line left behind: idle connections stay small */
	lb->pos = 0;
	buf_reset(&lent);
	*shared = lent;
	lb->shared = false;
}

void linebuf_feed(struct linebuf *lb, const char *p, size_t n)
{
	linebuf_compact(lb);
	buf_append(&lb->in, p, n);
}

size_t linebuf_pending(const struct linebuf *lb)
{
	return lb->in.len - lb->pos;
}

/* Drop bytes of an over-long line; returns true once its newline was found. */
static bool linebuf_skip_long(struct linebuf *lb)
{
	char *start = lb->in.data + lb->pos;
	char *nl = memchr(start, '\n', lb->in.len - lb->pos);

	if (!nl) {
		lb->pos = lb->in.len;
		lb->scanned = 0;
		return false;
	}
	lb->pos += (size_t)(nl - start) + 1;
	lb->scanned = 0;
	lb->discarding = false;
	return true;
}

enum linebuf_status linebuf_next(struct linebuf *lb, const char **line, size_t *len)
{
	char *start, *nl;
	size_t avail, n;

	if (lb->discarding && !linebuf_skip_long(lb))
		return LINEBUF_NEED_MORE;
	start = lb->in.data + lb->pos;
	avail = lb->in.len - lb->pos;
	nl = avail > lb->scanned ? memchr(start + lb->scanned, '\n', avail - lb->scanned) : NULL;
	if (!nl) {
		lb->scanned = avail;
		if (avail > lb->max_line + 1 || (avail > lb->max_line && start[avail - 1] != '\r')) {
			lb->discarding = true;
			linebuf_skip_long(lb);
			return LINEBUF_TOO_LONG;
		}
		return LINEBUF_NEED_MORE;
	}
	n = (size_t)(nl - start);
	lb->pos += n + 1;
	lb->scanned = 0;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	if (n > lb->max_line)
		return LINEBUF_TOO_LONG;
	start[n] = '\0';
	*line = start;
	*len = n;
	return LINEBUF_LINE;
}
