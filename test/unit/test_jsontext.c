/*
 * test_jsontext.c — JSON writing, string unescaping, JSON array to
 * PostgreSQL array literal (parsing is test_jsontok.c).
 */
#include "unit.h"

#include "jsontext.h"

UNIT_TEST(jsontext_string_escaping)
{
	struct buf b;

	buf_init(&b);
	jsontext_put_string(&b, "a\"b\\c\n\x01\xc3\xa9", 9);
	CHECK_STR(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
	buf_free(&b);
}

static const char *text_of(const char *s, size_t n)
{
	static struct buf b;

	buf_reset(&b);
	jsontext_put_text(&b, s, n);
	return buf_cstr(&b);
}

UNIT_TEST(jsontext_text_is_always_valid_utf8)
{
	/* valid text is written as jsontext_put_string writes it */
	CHECK_STR(text_of("caf\xc3\xa9 \"q\"", 9), "\"caf\xc3\xa9 \\\"q\\\"\"");
	/* a character cut at the end, a stray byte, an overlong form, a NUL: U+FFFD each byte */
	CHECK_STR(text_of("ab\xe6\xbc", 4), "\"ab\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK_STR(text_of("\xff", 1), "\"\xef\xbf\xbd\"");
	CHECK_STR(text_of("a\xc0\x80z", 4), "\"a\xef\xbf\xbd\xef\xbf\xbdz\"");
	CHECK_STR(text_of("a\0b", 3), "\"a\xef\xbf\xbd" "b\"");
	CHECK_STR(text_of("", 0), "\"\"");
	CHECK_INT(jsontext_utf8_prefix("ok\xe6\xbc\xa2!\xff", 7), 6);
	CHECK_INT(jsontext_utf8_prefix("a\0b", 3), 1);
}

static const char *pg_array_of_kind(const char *json, bool json_elems)
{
	static struct buf b;

	buf_reset(&b);
	if (!jsontext_to_pg_array(&b, json, strlen(json), json_elems, ','))
		return NULL;
	return buf_cstr(&b);
}

static const char *pg_array_of(const char *json)
{
	return pg_array_of_kind(json, false);
}

UNIT_TEST(jsontext_pg_array_literals)
{
	CHECK_STR(pg_array_of("[1,2,3]"), "{\"1\",\"2\",\"3\"}");
	CHECK_STR(pg_array_of("[]"), "{}");
	CHECK_STR(pg_array_of("[\"a\\\"b\",null,\"c\\\\d\",\"\\u00e9\"]"),
		  "{\"a\\\"b\",NULL,\"c\\\\d\",\"\xc3\xa9\"}");
	CHECK_STR(pg_array_of("[[1,2],[3,4]]"), "{{\"1\",\"2\"},{\"3\",\"4\"}}");
	CHECK_STR(pg_array_of("[{\"k\":[1,\"x\"]},true]"), "{\"{\\\"k\\\":[1,\\\"x\\\"]}\",\"true\"}");
	CHECK(pg_array_of("{\"a\":1}") == NULL);
	/* json[] and jsonb[]: only the outer array is one; an inner array is one JSON value */
	CHECK_STR(pg_array_of_kind("[{\"a\":1},[1, 2],\"s\",null,3]", true),
		  "{\"{\\\"a\\\":1}\",\"[1, 2]\",\"s\",NULL,\"3\"}");
	/* box[]: its elements' delimiter is ';' */
	{
		static struct buf b;
		const char *j = "[[\"(1,1),(0,0)\",null],[\"(2,2),(0,0)\",\"(3,3),(1,1)\"]]";
		buf_reset(&b);
		CHECK(jsontext_to_pg_array(&b, j, strlen(j), false, ';'));
		CHECK_STR(buf_cstr(&b), "{{\"(1,1),(0,0)\";NULL};{\"(2,2),(0,0)\";\"(3,3),(1,1)\"}}");
	}
}

UNIT_TEST(jsontext_compact_keeps_strings)
{
	struct buf b;
	const char *in = "{ \"a b\" :\n [1, 2,\t\"x \\\" y\"] }\r\n";

	buf_init(&b);
	jsontext_put_compact(&b, in, strlen(in));
	CHECK_STR(buf_cstr(&b), "{\"a b\":[1,2,\"x \\\" y\"]}");
	buf_free(&b);
}

UNIT_TEST(jsontext_unescape_strings)
{
	struct buf b;
	const char *in = "\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\\u0041\"";

	buf_init(&b);
	jsontext_unescape(&b, in, strlen(in));
	CHECK_STR(buf_cstr(&b), "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80" "A");
	buf_reset(&b);
	jsontext_unescape(&b, "\"\"", 2);
	CHECK_INT(b.len, 0);
	buf_free(&b);
}
