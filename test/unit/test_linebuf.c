/*
 * test_linebuf.c — framing: CRLF, partial lines, over-long lines.
 */
#include "unit.h"

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
