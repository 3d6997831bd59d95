/*
 * test_log.c — log lines: logfmt quoting, the JSON form of the same pairs,
 * truncation at a pair boundary, rate limits.
 */
#include "unit.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "log.h"

#define TS 1796112228.381 /* 2026-12-01T08:03:48.381Z */

UNIT_TEST(log_q_escapes)
{
	CHECK_STR(log_q("plain"), "\"plain\"");
	CHECK_STR(log_q("a \"b\" \\c\nd\re\tf"), "\"a \\\"b\\\" \\\\c\\nd\\re\\tf\"");
	CHECK_STR(log_q("\x01\x7f"), "\"\\u0001\\u007f\"");
	CHECK_STR(log_q("caf\xc3\xa9 \xff\xfe"), "\"caf\xc3\xa9 ??\"");  /* invalid UTF-8 replaced */
	CHECK_STR(log_q(NULL), "\"\"");
}

UNIT_TEST(log_q_cuts_long_values_at_a_character)
{
	char big[3000];
	const char *q;
	size_t i;

	for (i = 0; i + 2 < sizeof(big); i += 2) {
		big[i] = '\xc3';
		big[i + 1] = '\xa9';   /* é: never cut in half */
	}
	big[i] = '\0';
	q = log_q(big);
	CHECK(strlen(q) <= 1002);
	CHECK(q[strlen(q) - 1] == '"');
	CHECK((strlen(q) - 2) % 2 == 0);
}

UNIT_TEST(log_render_logfmt)
{
	char line[512];
	char kv[200];

	snprintf(kv, sizeof(kv), "table=%s rows=%d ms=%.3f", log_q("we\"ird"), 3, 1.5);
	log_render(line, sizeof(line), LOG_FORMAT_LOGFMT, TS, LOG_WARN, "batch failed", kv);
	CHECK_STR(line, "ts=2026-12-01T08:03:48.381Z level=warn msg=\"batch failed\" "
			"table=\"we\\\"ird\" rows=3 ms=1.500");
	log_render(line, sizeof(line), LOG_FORMAT_LOGFMT, TS, LOG_INFO, "x", NULL);
	CHECK_STR(line, "ts=2026-12-01T08:03:48.381Z level=info msg=\"x\"");
}

UNIT_TEST(log_render_json)
{
	char line[512], kv[300];
	cJSON *j, *v;

	snprintf(kv, sizeof(kv), "table=%s rows=3 ms=1.500 mode=0660 neg=-2 on=true word=abc "
		 "e=1e5 bad=1. odd=%s", log_q("we\"ird \\ \n\x01"), "\"\\q\"");
	log_render(line, sizeof(line), LOG_FORMAT_JSON, TS, LOG_DEBUG, "batch \"done\"", kv);
	j = cJSON_Parse(line);
	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_STR(cJSON_GetObjectItem(j, "ts")->valuestring, "2026-12-01T08:03:48.381Z");
	CHECK_STR(cJSON_GetObjectItem(j, "level")->valuestring, "debug");
	CHECK_STR(cJSON_GetObjectItem(j, "msg")->valuestring, "batch \"done\"");
	CHECK_STR(cJSON_GetObjectItem(j, "table")->valuestring, "we\"ird \\ \n\x01");
	v = cJSON_GetObjectItem(j, "rows");
	CHECK(cJSON_IsNumber(v) && v->valueint == 3);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "ms")));
	CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "mode")));     /* 0660 is not a JSON number */
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "neg")));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "on")));
	CHECK_STR(cJSON_GetObjectItem(j, "word")->valuestring, "abc");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "e")));
	CHECK_STR(cJSON_GetObjectItem(j, "bad")->valuestring, "1.");
	CHECK_STR(cJSON_GetObjectItem(j, "odd")->valuestring, "\\q"); /* a stray escape stays text */
	CHECK(strncmp(line, "{\"ts\":", 6) == 0);
	cJSON_Delete(j);
}

UNIT_TEST(log_render_truncates_at_a_pair)
{
	char line[120], kv[400];
	cJSON *j;

	snprintf(kv, sizeof(kv), "a=1 b=%s c=3", log_q("0123456789012345678901234567890123456789"
							  "0123456789012345678901234567890123456789"));
	log_render(line, sizeof(line), LOG_FORMAT_LOGFMT, TS, LOG_INFO, "m", kv);
	CHECK_STR(line, "ts=2026-12-01T08:03:48.381Z level=info msg=\"m\" a=1 truncated=true");
	log_render(line, sizeof(line), LOG_FORMAT_JSON, TS, LOG_INFO, "m", kv);
	j = cJSON_Parse(line);
	CHECK(j && cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")) && !cJSON_GetObjectItem(j, "b"));
	cJSON_Delete(j);
	/* an unterminated quoted value (a cut kv text) is dropped, not half-written */
	log_render(line, sizeof(line), LOG_FORMAT_LOGFMT, TS, LOG_INFO, "m", "a=1 b=\"half");
	CHECK_STR(line, "ts=2026-12-01T08:03:48.381Z level=info msg=\"m\" a=1 truncated=true");
}

UNIT_TEST(log_limit_counts_what_it_drops)
{
	struct log_limit l = { 0 };
	unsigned long dropped = 99;

	CHECK(log_limit_check(&l, 100.0, 10.0, &dropped));
	CHECK_INT(dropped, 0);
	CHECK(!log_limit_check(&l, 101.0, 10.0, &dropped));
	CHECK(!log_limit_check(&l, 109.9, 10.0, &dropped));
	CHECK(log_limit_check(&l, 110.0, 10.0, &dropped));
	CHECK_INT(dropped, 2);
	CHECK(!log_limit_check(&l, 111.0, 10.0, NULL));
	CHECK(log_limit_check(&l, 130.0, 10.0, &dropped));
	CHECK_INT(dropped, 1);
}

UNIT_TEST(log_parse_names)
{
	CHECK_INT(log_level_parse("debug"), LOG_DEBUG);
	CHECK_INT(log_level_parse("verbose"), -1);
	CHECK_INT(log_format_parse("json"), LOG_FORMAT_JSON);
	CHECK_INT(log_format_parse("logfmt"), LOG_FORMAT_LOGFMT);
	CHECK_INT(log_format_parse("JSON"), -1);
}
