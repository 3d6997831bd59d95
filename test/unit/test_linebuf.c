/*
 * test_linebuf.c — framing: CRLF, partial lines, over-long lines, and the
 * same through a read buffer shared by several connections.
 */
#include "unit.h"

#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"

UNIT_TEST(linebuf_lines_and_crlf)
{
	struct linebuf lb;
	const char *line;
	size_t len;

	linebuf_init(&lb, 100);
	linebuf_feed(&lb, "{\"a\":1}\r\n{\"b\"", 13);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "{\"a\":1}");
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_feed(&lb, ":2}\n\n", 5);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "{\"b\":2}");
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_INT(len, 0);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_free(&lb);
}

UNIT_TEST(linebuf_too_long_then_usable)
{
	struct linebuf lb;
	const char *line;
	size_t len;
	char big[50];

	memset(big, 'x', sizeof(big));
	linebuf_init(&lb, 10);
	linebuf_feed(&lb, big, sizeof(big));
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_TOO_LONG);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_feed(&lb, big, sizeof(big));
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_feed(&lb, "xx\nok\n", 6);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "ok");
	/* a complete over-long line in one piece */
	linebuf_feed(&lb, "0123456789AB\nfine\n", 18);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_TOO_LONG);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "fine");
	/* exactly the limit is fine, with or without CR */
	linebuf_feed(&lb, "0123456789\r\n0123456789\n", 23);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_INT(len, 10);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_INT(len, 10);
	linebuf_free(&lb);
}

/* Send s on fd (a socketpair end) in one write. */
static void put(int fd, const char *s)
{
	CHECK_INT(write(fd, s, strlen(s)), (long long)strlen(s));
}

/*
 * Two connections taking turns with one read buffer: each frames its lines
 * from it, keeps only its partial line, and its own buffer stays small.
 */
UNIT_TEST(linebuf_shared_partial_lines_stay_with_their_owner)
{
	struct linebuf a, b;
	struct buf shared;
	int sa[2], sb[2];
	const char *line;
	size_t len;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sa) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sb) == 0);
	linebuf_init(&a, 100);
	linebuf_init(&b, 100);
	buf_init(&shared);
	put(sa[1], "{\"a\":1}\n{\"a\"");
	put(sb[1], "{\"b\":1}\r\n{\"b\"");
	CHECK_INT(linebuf_read_shared(&a, sa[0], &shared, 65536), 12);
	CHECK(a.shared);
	CHECK_INT(linebuf_next(&a, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "{\"a\":1}");
	CHECK_INT(linebuf_next(&a, &line, &len), LINEBUF_NEED_MORE);
	linebuf_unshare(&a, &shared);
	CHECK(!a.shared);
	CHECK_INT(shared.len, 0);
	CHECK_INT(linebuf_pending(&a), 4);
	CHECK(shared.cap >= 65536 && a.in.cap < 4096);   /* the big buffer is the shared one */
	CHECK_INT(linebuf_read_shared(&b, sb[0], &shared, 65536), 13);
	CHECK_INT(linebuf_next(&b, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "{\"b\":1}");
	CHECK_INT(linebuf_next(&b, &line, &len), LINEBUF_NEED_MORE);
	linebuf_unshare(&b, &shared);
	put(sa[1], ":2}\n");
	put(sb[1], ":2}\r\n");
	CHECK_INT(linebuf_read_shared(&b, sb[0], &shared, 65536), 5);
	CHECK_INT(linebuf_next(&b, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "{\"b\":2}");
	linebuf_unshare(&b, &shared);
	CHECK_INT(linebuf_read_shared(&a, sa[0], &shared, 65536), 4);
	CHECK_INT(linebuf_next(&a, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "{\"a\":2}");
	CHECK_INT(linebuf_next(&a, &line, &len), LINEBUF_NEED_MORE);
	linebuf_unshare(&a, &shared);
	CHECK_INT(linebuf_pending(&a) + linebuf_pending(&b), 0);
	/* EOF: nothing read, nothing lent out */
	close(sa[1]);
	CHECK_INT(linebuf_read_shared(&a, sa[0], &shared, 65536), 0);
	linebuf_unshare(&a, &shared);
	CHECK(!a.shared && shared.cap >= 65536);
	linebuf_free(&a);
	linebuf_free(&b);
	buf_free(&shared);
	close(sa[0]), close(sb[0]), close(sb[1]);
}

/* Lines held back (backpressure) move to the owner's buffer, in order. */
UNIT_TEST(linebuf_shared_lines_held_back_keep_their_order)
{
	struct linebuf lb;
	struct buf shared;
	int sv[2];
	const char *line;
	size_t len;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	linebuf_init(&lb, 100);
	buf_init(&shared);
	put(sv[1], "l1\nl2\nl3\nl4");
	CHECK_INT(linebuf_read_shared(&lb, sv[0], &shared, 65536), 11);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "l1");
	linebuf_unshare(&lb, &shared);            /* paused after one line */
	CHECK_INT(linebuf_pending(&lb), 8);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "l2");
	put(sv[1], "\nl5\n");
	CHECK_INT(linebuf_read_shared(&lb, sv[0], &shared, 65536), 4);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "l3");
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "l4");
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "l5");
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_unshare(&lb, &shared);
	linebuf_free(&lb);
	buf_free(&shared);
	close(sv[0]), close(sv[1]);
}

/*
 * An over-long line read through the shared buffer is reported once and
 * skipped up to its newline; a long line that is not over the limit goes on
 * in the owner's buffer once more than LINEBUF_SHARE_MAX bytes of it wait.
 */
UNIT_TEST(linebuf_shared_long_lines)
{
	struct linebuf lb;
	struct buf shared;
	int sv[2];
	const char *line;
	size_t len;
	char big[LINEBUF_SHARE_MAX + 2000];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	buf_init(&shared);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	linebuf_init(&lb, 10);
	put(sv[1], big);
	CHECK(linebuf_read_shared(&lb, sv[0], &shared, 65536) > 0);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_TOO_LONG);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_unshare(&lb, &shared);
	CHECK_INT(linebuf_pending(&lb), 0);
	put(sv[1], "xx\r\nok\r\n");
	CHECK_INT(linebuf_read_shared(&lb, sv[0], &shared, 65536), 8);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_STR(line, "ok");
	linebuf_unshare(&lb, &shared);
	linebuf_free(&lb);

	linebuf_init(&lb, sizeof(big));
	put(sv[1], big);
	CHECK(linebuf_read_shared(&lb, sv[0], &shared, 65536) > 0);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_NEED_MORE);
	linebuf_unshare(&lb, &shared);
	CHECK_INT(linebuf_pending(&lb), sizeof(big) - 1);
	put(sv[1], "y\n");
	CHECK_INT(linebuf_read_shared(&lb, sv[0], &shared, 65536), 2);
	CHECK(!lb.shared);                         /* read into its own buffer */
	CHECK_INT(shared.len, 0);
	CHECK_INT(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	CHECK_INT(len, sizeof(big));
	linebuf_unshare(&lb, &shared);
	linebuf_free(&lb);
	buf_free(&shared);
	close(sv[0]), close(sv[1]);
}
