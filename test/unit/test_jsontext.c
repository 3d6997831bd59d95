/*
 * test_jsontext.c — exact numbers, UTF-8 and U+0000 checks, JSON writing,
 * JSON array to PostgreSQL array literal.
 */
#include "unit.h"

#include "jsontext.h"

static char *put_value_of(const char *text)
{
	static struct buf out;
	struct jsontext_numbers nums;
	enum jsontext_status st;
	cJSON *root;

	jsontext_numbers_init(&nums);
	buf_reset(&out);
	root = jsontext_parse(&nums, text, strlen(text), &st);
	if (root)
		jsontext_put_value(&out, root, &nums);
	cJSON_Delete(root);
	jsontext_numbers_free(&nums);
	return root ? (char *)buf_cstr(&out) : NULL;
}

static enum jsontext_status status_of(const char *text, size_t len)
{
	struct jsontext_numbers nums;
	enum jsontext_status st;
	cJSON *root;

	jsontext_numbers_init(&nums);
	root = jsontext_parse(&nums, text, len, &st);
	cJSON_Delete(root);
	jsontext_numbers_free(&nums);
	return st;
}

UNIT_TEST(jsontext_numbers_exact)
{
	CHECK_STR(put_value_of("{\"a\":12345678901234567890.123456789012345678}"),
		  "{\"a\":12345678901234567890.123456789012345678}");
	CHECK_STR(put_value_of("{\"big\":9223372036854775807,\"neg\":-0.000000000000000000001}"),
		  "{\"big\":9223372036854775807,\"neg\":-0.000000000000000000001}");
	CHECK_STR(put_value_of("{ \"x\" : [1e400, 0.1, {\"y\": -5E-3}] }"),
		  "{\"x\":[1e400,0.1,{\"y\":-5E-3}]}");
	/* numbers inside strings are not tokens */
	CHECK_STR(put_value_of("{\"s\":\"12 34\",\"n\":7}"), "{\"s\":\"12 34\",\"n\":7}");
}

UNIT_TEST(jsontext_rejects)
{
	CHECK_INT(status_of("{\"a\":01}", sizeof("{\"a\":01}") - 1), JSONTEXT_SYNTAX);
	CHECK_INT(status_of("{\"a\":1.}", sizeof("{\"a\":1.}") - 1), JSONTEXT_SYNTAX);
	CHECK_INT(status_of("{\"a\":+1}", sizeof("{\"a\":+1}") - 1), JSONTEXT_SYNTAX);
	CHECK_INT(status_of("{\"a\":\"x\\u0000y\"}", sizeof("{\"a\":\"x\\u0000y\"}") - 1), JSONTEXT_NUL);
	CHECK_INT(status_of("{\"a\":\"x\0y\"}", sizeof("{\"a\":\"x\0y\"}") - 1), JSONTEXT_NUL);
	CHECK_INT(status_of("{\"a\":\"\xff\"}", sizeof("{\"a\":\"\xff\"}") - 1), JSONTEXT_BAD_UTF8);
	CHECK_INT(status_of("{\"a\":\"\xed\xa0\x80\"}", sizeof("{\"a\":\"\xed\xa0\x80\"}") - 1), JSONTEXT_BAD_UTF8);
	CHECK_INT(status_of("{\"a\":\"\xc0\xaf\"}", sizeof("{\"a\":\"\xc0\xaf\"}") - 1), JSONTEXT_BAD_UTF8);
	CHECK_INT(status_of("[1,2]", sizeof("[1,2]") - 1), JSONTEXT_NOT_OBJECT);
	CHECK_INT(status_of("{\"a\":1} x", sizeof("{\"a\":1} x") - 1), JSONTEXT_SYNTAX);
	CHECK_INT(status_of("{\"a\":1", sizeof("{\"a\":1") - 1), JSONTEXT_SYNTAX);
	{
		const char *ok = "{\"a\":\"\xf0\x9f\x98\x80 \\\\u0000\"}";
		CHECK_INT(status_of(ok, strlen(ok)), JSONTEXT_OK);
	}
}

UNIT_TEST(jsontext_string_escaping)
{
	struct buf b;

	buf_init(&b);
	jsontext_put_string(&b, "a\"b\\c\n\x01\xc3\xa9", 9);
	CHECK_STR(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
	buf_free(&b);
}

static const char *pg_array_of(const char *json)
{
	static struct buf b;

	buf_reset(&b);
	if (!jsontext_to_pg_array(&b, json, strlen(json)))
		return NULL;
	return buf_cstr(&b);
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
