/*
 * test_jsontok.c — the request tokenizer: RFC 8259 accepted and refused,
 * exact spans, UTF-8 and U+0000, depth, token structure.
 */
#include "unit.h"

#include <stdlib.h>

#include "jsontok.h"

static enum jsontok_status parse_len(struct jsontok_doc *doc, const char *text, size_t len)
{
	return jsontok_parse(doc, text, len);
}

static enum jsontok_status status_of(const char *text)
{
	struct jsontok_doc doc;
	enum jsontok_status st;

	jsontok_init(&doc);
	st = parse_len(&doc, text, strlen(text));
	jsontok_free(&doc);
	return st;
}

UNIT_TEST(jsontok_accepts_rfc8259)
{
	static const char *const ok[] = {
		"{}", "[]", "0", "-0", "1.5", "-1.5e-300", "1E+2", "12345678901234567890.123456789012345678",
		"\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u00e9\\uD83D\\uDE00\"", "true", "false",
		"null", " \t\r\n{ \"a\" : [ 1 , { } , [ ] , \"x\" ] } \n", "[[[[[]]]]]",
		"{\"a\":{\"b\":{\"c\":null}}}", "\"\xf0\x9f\x98\x80 \xe6\x97\xa5\xc3\xa9\"", "\"\x7f\"",
		"{\"\":1}", "[1,2,3]", "{\"a\":1,\"a\":2}",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (status_of(ok[i]) != JSONTOK_OK)
			unit_fail(__FILE__, __LINE__, "refused valid JSON [%s]", ok[i]);
}

UNIT_TEST(jsontok_refuses_what_is_not_json)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[", "]", "{]", "[}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}",
		"{\"a\":1,}", "[1,]", "[,1]", "[1 2]", "{\"a\":1}{}", "{\"a\":1} x", "01", "1.", ".5",
		"+1", "1e", "1e+", "-", "--1", "0x10", "NaN", "Infinity", "tru", "nul", "True", "'a'",
		"\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"a\nb\"", "\"tab\there\"", "[1]]",
		"{\"a\":1]", "/* c */ {}", "{\"a\":1,\"b\"}", "\"\\\"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (status_of(bad[i]) != JSONTOK_SYNTAX)
			unit_fail(__FILE__, __LINE__, "accepted [%s] (status %d)", bad[i], status_of(bad[i]));
}

UNIT_TEST(jsontok_unicode_and_nul)
{
	struct jsontok_doc doc;
	static const char nul_raw[] = "{\"a\":\"x\0y\",\"id\":7}";

	CHECK_INT(status_of("{\"a\":\"x\\u0000y\"}"), JSONTOK_NUL);
	CHECK_INT(status_of("{\"a\":\"\\\\u0000\"}"), JSONTOK_OK); /* an escaped backslash, then text */
	CHECK_INT(status_of("{\"a\":\"\xff\"}"), JSONTOK_BAD_UTF8);
	CHECK_INT(status_of("{\"a\":\"\xed\xa0\x80\"}"), JSONTOK_BAD_UTF8);   /* a surrogate in UTF-8 */
	CHECK_INT(status_of("{\"a\":\"\xc0\xaf\"}"), JSONTOK_BAD_UTF8);       /* overlong */
	CHECK_INT(status_of("{\"a\":\"\xf4\x90\x80\x80\"}"), JSONTOK_BAD_UTF8); /* past U+10FFFF */
	CHECK_INT(status_of("{\"a\":\"\\uD800\"}"), JSONTOK_BAD_UTF8);       /* lone high surrogate */
	CHECK_INT(status_of("{\"a\":\"\\uDC00x\"}"), JSONTOK_BAD_UTF8);      /* lone low surrogate */
	CHECK_INT(status_of("{\"a\":\"\\uD800\\u0041\"}"), JSONTOK_BAD_UTF8);
	CHECK_INT(status_of("\xff"), JSONTOK_BAD_UTF8);                      /* outside a string */
	/* a NUL keeps the tokens readable (the id can be echoed) */
	jsontok_init(&doc);
	CHECK_INT(parse_len(&doc, nul_raw, sizeof(nul_raw) - 1), JSONTOK_NUL);
	CHECK_INT(doc.n, 5);
	CHECK(doc.n == 5 && doc.toks[4].type == JSONTOK_NUMBER && doc.toks[4].len == 1);
	jsontok_free(&doc);
}

UNIT_TEST(jsontok_token_structure_and_spans)
{
	struct jsontok_doc doc;
	const char *t = "{\"id\": 12345678901234567890123 , \"row\":{\"a\":[1, \"b\"], \"c\\n\":-0.50e7},"
			"\"z\":null}";

	jsontok_init(&doc);
	CHECK_INT(jsontok_parse(&doc, t, strlen(t)), JSONTOK_OK);
	/* root, "id", num, "row", {..}, "a", [..], 1, "b", "c\n", num, "z", null */
	CHECK_INT(doc.n, 13);
	if (doc.n == 13) {
		CHECK_INT(doc.toks[0].type, JSONTOK_OBJECT);
		CHECK_INT(doc.toks[0].count, 3);
		CHECK_INT(doc.toks[0].end, 13);
		CHECK_INT(doc.toks[0].len, strlen(t));
		CHECK(memcmp(jsontok_text(&doc, 2), "12345678901234567890123", doc.toks[2].len) == 0);
		CHECK_INT(doc.toks[2].len, 23);
		CHECK_INT(doc.toks[4].type, JSONTOK_OBJECT);
		CHECK_INT(doc.toks[4].count, 2);
		CHECK_INT(doc.toks[4].end, 11);
		CHECK_INT(doc.toks[6].type, JSONTOK_ARRAY);
		CHECK_INT(doc.toks[6].count, 2);
		CHECK_INT(doc.toks[6].end, 9);
		CHECK(memcmp(jsontok_text(&doc, 6), "[1, \"b\"]", doc.toks[6].len) == 0);
		CHECK(doc.toks[9].escaped && !doc.toks[5].escaped);
		CHECK(jsontok_string_is(&doc, 9, "c\n", 2));
		CHECK(!jsontok_string_is(&doc, 9, "c", 1));
		CHECK(memcmp(jsontok_text(&doc, 10), "-0.50e7", doc.toks[10].len) == 0);
		CHECK_INT(doc.toks[12].type, JSONTOK_NULL);
	}
	/* reusable: a second parse starts afresh */
	CHECK_INT(jsontok_parse(&doc, "[]", 2), JSONTOK_OK);
	CHECK_INT(doc.n, 1);
	CHECK_INT(doc.toks[0].count, 0);
	jsontok_free(&doc);
}

UNIT_TEST(jsontok_depth_is_bounded_not_recursive)
{
	size_t n = 200000, i;
	char *deep = malloc(2 * n + 1);
	struct jsontok_doc doc;

	/* far past the limit: refused in bounded stack space */
	for (i = 0; i < n; i++) {
		deep[i] = '[';
		deep[2 * n - 1 - i] = ']';
	}
	deep[2 * n] = '\0';
	jsontok_init(&doc);
	CHECK_INT(jsontok_parse(&doc, deep, 2 * n), JSONTOK_TOO_DEEP);
	CHECK_INT(doc.n, 0);
	/* at the limit: accepted */
	CHECK_INT(jsontok_parse(&doc, deep + n - JSONTOK_MAX_DEPTH, 2 * JSONTOK_MAX_DEPTH), JSONTOK_OK);
	CHECK_INT(doc.n, JSONTOK_MAX_DEPTH);
	CHECK_INT(jsontok_parse(&doc, deep + n - JSONTOK_MAX_DEPTH - 1, 2 * JSONTOK_MAX_DEPTH + 2),
		  JSONTOK_TOO_DEEP);
	jsontok_free(&doc);
	free(deep);
}
