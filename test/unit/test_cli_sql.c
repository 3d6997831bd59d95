/*
 * test_cli_sql.c — the CLI's SQL splitter, lexer and INSERT parser.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_sql.h"
#include "unit.h"

/*
 * Parse `sql` and describe the outcome in one string: the requests, one a
 * line, ids 1, 2, ...; "EMPTY"; or "ERROR@<position>: <message>[ HINT]".
 */
static const char *parse(const char *sql)
{
	static struct buf out;
	struct cli_sql_insert ins;
	struct cli_sql_error err;
	size_t i;

	buf_reset(&out);
	cli_sql_insert_init(&ins);
	switch (cli_sql_parse(sql, strlen(sql), &ins, &err)) {
	case CLI_SQL_EMPTY:
		buf_puts(&out, "EMPTY");
		break;
	case CLI_SQL_ERROR:
		buf_printf(&out, "ERROR@%ld: %s", err.position, err.message);
		break;
	case CLI_SQL_OK:
		if (ins.positional) {
			buf_printf(&out, "POSITIONAL %zu x %zu", ins.ntuples, ins.nvalues);
			break;
		}
		for (i = 0; i < ins.ntuples; i++) {
			char id[32];
			snprintf(id, sizeof(id), "%zu", i + 1);
			if (i)
				buf_putc(&out, '\n');
			cli_sql_request(&ins, i, id, &out);
		}
		if (ins.notices.len)
			buf_printf(&out, "\nNOTICE %s", buf_cstr(&ins.notices));
		break;
	}
	cli_sql_insert_free(&ins);
	return buf_cstr(&out);
}

/* The error message only (position dropped), or the outcome when not an error. */
static const char *parse_error(const char *sql)
{
	const char *r = parse(sql);
	const char *colon = strstr(r, ": ");

	return strncmp(r, "ERROR@", 6) == 0 && colon ? colon + 2 : r;
}

UNIT_TEST(cli_sql_multi_row_insert)
{
	CHECK_STR(parse("INSERT INTO events (device_id, kind) VALUES (1, 'a'), (2, 'b');"),
		  "{\"id\":1,\"table\":\"events\",\"row\":{\"device_id\":1,\"kind\":\"a\"}}\n"
		  "{\"id\":2,\"table\":\"events\",\"row\":{\"device_id\":2,\"kind\":\"b\"}}");
	/* no trailing semicolon, no blanks, several semicolons */
	CHECK_STR(parse("insert into t(a)values(1)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1}}");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1);;"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1}}");
}

UNIT_TEST(cli_sql_identifiers_fold_unless_quoted)
{
	CHECK_STR(parse("INSERT INTO App.Events (Kind, \"Kind\", \"a\"\"b\") VALUES (1, 2, 3)"),
		  "{\"id\":1,\"table\":\"events\",\"schema\":\"app\","
		  "\"row\":{\"kind\":1,\"Kind\":2,\"a\\\"b\":3}}");
	CHECK_STR(parse("INSERT INTO \"My Schema\".\"T.1\" (\"select\") VALUES (1)"),
		  "{\"id\":1,\"table\":\"T.1\",\"schema\":\"My Schema\",\"row\":{\"select\":1}}");
	/* non-ASCII letters are kept, only ASCII folds */
	CHECK_STR(parse("INSERT INTO Ünïcode (Café) VALUES (1)"),
		  "{\"id\":1,\"table\":\"Ünïcode\",\"row\":{\"café\":1}}");
	/* identifiers with $ and digits */
	CHECK_STR(parse("INSERT INTO t$1 (c2$) VALUES (1)"),
		  "{\"id\":1,\"table\":\"t$1\",\"row\":{\"c2$\":1}}");
}

UNIT_TEST(cli_sql_long_identifiers_are_truncated)
{
	char sql[256], want[512];
	const char *name = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop"; /* 68 */

	snprintf(sql, sizeof(sql), "INSERT INTO t (%s) VALUES (1)", name);
	snprintf(want, sizeof(want),
		 "{\"id\":1,\"table\":\"t\",\"row\":{\"%.63s\":1}}\n"
		 "NOTICE identifier \"%s\" will be truncated to \"%.63s\"\n", name, name, name);
	CHECK_STR(parse(sql), want);
}

UNIT_TEST(cli_sql_string_escapes)
{
	CHECK_STR(parse("INSERT INTO t (a, b, c) VALUES ('it''s', E'tab\\there\\nnew', 'back\\slash')"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":\"it's\",\"b\":\"tab\\there\\nnew\","
		  "\"c\":\"back\\\\slash\"}}");
	/* E'' escapes: quote, octal, hex, \u, \U with a surrogate-free code point, a pair */
	CHECK_STR(parse("INSERT INTO t (a) VALUES (e'\\'q\\'\\101\\x42\\u00e9\\U0001F600\\ud83d\\ude00\\q')"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":\"'q'AB\xc3\xa9\xf0\x9f\x98\x80\xf0\x9f\x98\x80q\"}}");
	/* adjacent strings separated by a newline (and a comment after it) are one string */
	CHECK_STR(parse("INSERT INTO t (a) VALUES ('foo'\n  -- note\n  'bar')"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":\"foobar\"}}");
	/* dollar quoting */
	CHECK_STR(parse("INSERT INTO t (a, b) VALUES ($$it's \\n$$, $x$a$$b$x$)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":\"it's \\\\n\",\"b\":\"a$$b\"}}");
	/* control characters are escaped in the JSON */
	CHECK_STR(parse("INSERT INTO t (a) VALUES (E'\\x01')"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":\"\\u0001\"}}");
}

UNIT_TEST(cli_sql_string_errors)
{
	CHECK_STR(parse("INSERT INTO t (a) VALUES ('same line' 'no join')"),
		  "ERROR@38: syntax error at or near \"'no join'\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES ('abc);"),
		  "ERROR@26: unterminated quoted string at or near \"'abc);\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (E'abc\\');"),
		  "ERROR@26: unterminated quoted string at or near \"E'abc\\');\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES ($q$abc$$)"),
		  "ERROR@26: unterminated dollar-quoted string at or near \"$q$abc$$)\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (E'\\0')"),
		  "invalid byte sequence for encoding \"UTF8\": 0x00");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (E'\\xff')"),
		  "invalid byte sequence for encoding \"UTF8\": 0xff");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (E'\\u00')"),
		  "invalid Unicode escape at or near \"\\u\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (E'\\u0000')"),
		  "invalid Unicode escape value at or near \"\\u0000\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (E'\\ud83d')"),
		  "invalid Unicode surrogate pair at or near \"\\ud83d\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (E'\\ude00')"),
		  "invalid Unicode surrogate pair at or near \"\\ude00\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (B'101')"),
		  "bit-string constants are not supported at or near \"B'\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (U&'d\\0061t')"),
		  "Unicode escape strings (U&'...') are not supported at or near \"U&'\"");
	/* invalid UTF-8 in the statement itself */
	CHECK_STR(parse("INSERT INTO t (a) VALUES ('\xe9t\xe9')"),
		  "ERROR@-1: invalid byte sequence for encoding \"UTF8\": 0xe9 0x74 0xe9");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES ('a\0b')" /* strlen stops at NUL */),
		  "unterminated quoted string at or near \"'a\"");
}

UNIT_TEST(cli_sql_numbers_stay_exact)
{
	CHECK_STR(parse("INSERT INTO t (a, b, c, d, e, f, g, h) VALUES "
			"(12345678901234567890.123456789012345678, -9223372036854775808, 1.50, "
			".5, 5., 007, 1e-3, -+-2.5E+10)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":12345678901234567890.123456789012345678,"
		  "\"b\":-9223372036854775808,\"c\":1.50,\"d\":0.5,\"e\":5,\"f\":7,\"g\":1e-3,"
		  "\"h\":2.5E+10}}");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (123abc)"),
		  "trailing junk after numeric literal at or near \"123a\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1e+)"),
		  "trailing junk after numeric literal at or near \"1e+\"");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1..2)"),
		  "syntax error at or near \"..\"");
}

UNIT_TEST(cli_sql_keywords_and_default)
{
	CHECK_STR(parse("INSERT INTO t (a, b, c, d) VALUES (NULL, true, FALSE, DEFAULT), (DEFAULT, default, 1, 2)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":null,\"b\":true,\"c\":false}}\n"
		  "{\"id\":2,\"table\":\"t\",\"row\":{\"c\":1,\"d\":2}}");
	CHECK_STR(parse("INSERT INTO t DEFAULT VALUES RETURNING *"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{},\"returning\":[\"*\"]}");
	CHECK_STR(parse("INSERT INTO t (a) VALUES ('x') RETURNING id, \"Created At\", Kind;"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":\"x\"},\"returning\":[\"id\",\"Created At\",\"kind\"]}");
}

UNIT_TEST(cli_sql_comments_and_blanks)
{
	CHECK_STR(parse("  -- just a comment\n /* and /* nested */ one */ ;"), "EMPTY");
	CHECK_STR(parse(""), "EMPTY");
	CHECK_STR(parse("/* x */ INSERT /* y */ INTO t -- z\n (a) VALUES (1)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1}}");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) /* never closed"),
		  "ERROR@29: unterminated /* comment at or near \"/* never closed\"");
}

UNIT_TEST(cli_sql_unsupported_statements)
{
	CHECK_STR(parse("SELECT 1"), "ERROR@0: SELECT is not supported: pgcoalesce-cli sends only INSERT");
	CHECK_STR(parse_error("update t set a = 1"),
		  "UPDATE is not supported: pgcoalesce-cli sends only INSERT");
	CHECK_STR(parse("SELEC 1"), "ERROR@0: syntax error at or near \"SELEC\"");
	CHECK_STR(parse("INSERT t (a) VALUES (1)"), "ERROR@7: syntax error at or near \"t\"");
	/* without a column list: parsed, mapped once the table is described */
	CHECK_STR(parse("INSERT INTO t VALUES (1)"), "POSITIONAL 1 x 1");
	CHECK_STR(parse("INSERT INTO t VALUES (1, 2), (3)"),
		  "ERROR@30: VALUES lists must all be the same length");
	CHECK_STR(parse_error("INSERT INTO t (a) SELECT 1"), "INSERT ... SELECT is not supported");
	/* a parenthesized query where a column list could be: refused, not a syntax error */
	CHECK_STR(parse("INSERT INTO t (SELECT 1)"), "ERROR@15: INSERT ... SELECT is not supported");
	CHECK_STR(parse_error("INSERT INTO t ((SELECT 1))"), "INSERT ... SELECT is not supported");
	CHECK_STR(parse_error("INSERT INTO t (with q as (select 1) select * from q)"),
		  "INSERT ... SELECT is not supported");
	CHECK_STR(parse_error("INSERT INTO t (TABLE u)"), "INSERT ... SELECT is not supported");
	CHECK_STR(parse_error("INSERT INTO t (VALUES (1))"), "INSERT ... SELECT is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) (SELECT 1)"), "INSERT ... SELECT is not supported");
	/* ... but "values" is also a column name */
	CHECK_STR(parse("INSERT INTO t (values) VALUES (1)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"values\":1}}");
	CHECK_STR(parse("INSERT INTO t (values, b) VALUES (1, 2)"),
		  "{\"id\":1,\"table\":\"t\",\"row\":{\"values\":1,\"b\":2}}");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (now())"),
		  "function calls are not supported in VALUES");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES ('1'::int)"), "type casts are not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1 + 2)"),
		  "expressions are not supported in VALUES");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (timestamp '2024-01-01')"),
		  "typed literals (type 'value') are not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES ($1)"), "parameters ($1) are not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (b)"),
		  "column references and expressions are not supported in VALUES");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) RETURNING a AS b"),
		  "RETURNING aliases are not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) RETURNING *, a"),
		  "RETURNING * cannot be combined with other columns");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) RETURNING a + 1"),
		  "RETURNING takes column names only (or *)");
	CHECK_STR(parse_error("INSERT INTO a.b.c (a) VALUES (1)"),
		  "cross-database references are not implemented");
	CHECK_STR(parse_error("INSERT INTO \"a.b\" (a) VALUES (1)"), "table name \"a.b\" contains a dot");
	CHECK_STR(parse_error("INSERT INTO t (a.b) VALUES (1)"),
		  "column subfields and array elements are not supported");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2)"),
		  "ERROR@30: syntax error at or near \"INSERT\"");
}

/* parse()'s request line of tuple 1 without its head, from "on_conflict" on. */
static const char *conflict_of(const char *sql)
{
	const char *r = parse(sql), *oc = strstr(r, ",\"on_conflict\":");

	return oc ? oc + 1 : r;
}

UNIT_TEST(cli_sql_on_conflict_into_requests)
{
	CHECK_STR(parse("INSERT INTO devices (device_id, hits) VALUES (7, 1), (8, 2) "
			"ON CONFLICT (device_id) DO UPDATE SET hits = devices.hits + EXCLUDED.hits"),
		  "{\"id\":1,\"table\":\"devices\",\"row\":{\"device_id\":7,\"hits\":1},"
		  "\"on_conflict\":{\"columns\":[\"device_id\"],\"do\":\"update\",\"add\":[\"hits\"]}}\n"
		  "{\"id\":2,\"table\":\"devices\",\"row\":{\"device_id\":8,\"hits\":2},"
		  "\"on_conflict\":{\"columns\":[\"device_id\"],\"do\":\"update\",\"add\":[\"hits\"]}}");
	CHECK_STR(conflict_of("INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING"),
		  "\"on_conflict\":{\"do\":\"nothing\"}}");
	CHECK_STR(conflict_of("insert into t (a) values (1) on conflict (a, \"B\") do nothing;"),
		  "\"on_conflict\":{\"columns\":[\"a\",\"B\"],\"do\":\"nothing\"}}");
	CHECK_STR(conflict_of("INSERT INTO t (a) VALUES (1) ON CONFLICT ON CONSTRAINT T_pkey DO NOTHING"),
		  "\"on_conflict\":{\"constraint\":\"t_pkey\",\"do\":\"nothing\"}}");
	/* set and add, in either order of the addition, EXCLUDED in any case or quoted */
	CHECK_STR(conflict_of("INSERT INTO t (k, a, n, m) VALUES (1, 2, 3, 4) ON CONFLICT (k) DO UPDATE "
			      "SET a = EXCLUDED.a, n = t.n + excluded.n, m = \"excluded\".m + T.m"),
		  "\"on_conflict\":{\"columns\":[\"k\"],\"do\":\"update\",\"set\":[\"a\"],"
		  "\"add\":[\"n\",\"m\"]}}");
	/* the alias after AS; a schema-qualified table by its own name */
	CHECK_STR(conflict_of("INSERT INTO app.t AS x (k, n) VALUES (1, 2) ON CONFLICT ON CONSTRAINT c "
			      "DO UPDATE SET n = x.n + EXCLUDED.n RETURNING k, n"),
		  "\"on_conflict\":{\"constraint\":\"c\",\"do\":\"update\",\"add\":[\"n\"]}}");
	CHECK_STR(parse("INSERT INTO app.t (k, n) VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET n = t.n + EXCLUDED.n "
			"RETURNING *"),
		  "{\"id\":1,\"table\":\"t\",\"schema\":\"app\",\"row\":{\"k\":1,\"n\":2},"
		  "\"returning\":[\"*\"],\"on_conflict\":{\"columns\":[\"k\"],\"do\":\"update\","
		  "\"add\":[\"n\"]}}");
	CHECK_STR(conflict_of("INSERT INTO t DEFAULT VALUES ON CONFLICT DO NOTHING RETURNING id"),
		  "\"on_conflict\":{\"do\":\"nothing\"}}");
	CHECK_STR(parse("INSERT INTO t AS x (a) VALUES (1)"), "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1}}");
}

UNIT_TEST(cli_sql_on_conflict_errors)
{
	/* PostgreSQL's own errors, at the same positions */
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) ON CONFLICT DO UPDATE SET a = EXCLUDED.a"),
		  "ERROR@29: ON CONFLICT DO UPDATE requires inference specification or constraint name");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) ON CONFLICT;"), "ERROR@40: syntax error at or near \";\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) ON CONFLICT () DO NOTHING"),
		  "ERROR@42: syntax error at or near \")\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO SOMETHING"),
		  "ERROR@48: syntax error at or near \"SOMETHING\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE a = 1"),
		  "ERROR@55: syntax error at or near \"a\"");
	CHECK_STR(parse("INSERT INTO d AS x VALUES (1) ON CONFLICT (id) DO UPDATE SET n = d.n + excluded.n"),
		  "ERROR@65: invalid reference to FROM-clause entry for table \"d\"");
	CHECK_STR(parse("INSERT INTO d (a) VALUES (1) ON CONFLICT (id) DO UPDATE SET n = q.n + excluded.n"),
		  "ERROR@64: missing FROM-clause entry for table \"q\"");
	CHECK_STR(parse("INSERT INTO d (a) VALUES (1) ON CONFLICT (id) DO UPDATE SET n = excluded.n + q.n"),
		  "ERROR@77: missing FROM-clause entry for table \"q\"");
	CHECK_STR(parse("INSERT INTO d (a) VALUES (1) ON CONFLICT (id) DO UPDATE SET n = excluded.n, n = d.n + excluded.n"),
		  "ERROR@-1: multiple assignments to same column \"n\"");
	CHECK_STR(parse("INSERT INTO t AS select VALUES (3)"), "ERROR@17: syntax error at or near \"select\"");
	CHECK_STR(parse("INSERT INTO t (a) AS x VALUES (3)"), "ERROR@18: syntax error at or near \"AS\"");
	/* what the sidecar cannot express: refused before anything is sent */
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) WHERE a > 0 DO NOTHING"),
		  "ON CONFLICT (...) WHERE is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT ((lower(a))) DO NOTHING"),
		  "ON CONFLICT on an expression is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT (a text_pattern_ops) DO NOTHING"),
		  "ON CONFLICT with a collation or operator class is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT (a COLLATE \"C\") DO NOTHING"),
		  "ON CONFLICT with a collation or operator class is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a WHERE t.a > 0"),
		  "ON CONFLICT DO UPDATE ... WHERE is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET (a, b) = (1, 2)"),
		  "SET (col, ...) = ... is not supported");
	CHECK_STR(parse_error("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET t.a = 1"),
		  "column subfields and array elements are not supported");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET n = 1"),
		  "ERROR@63: ON CONFLICT DO UPDATE SET takes col = EXCLUDED.col or col = t.col + EXCLUDED.col only");
	{
		static const char *const refused[] = {
			"SET n = DEFAULT", "SET n = excluded.m", "SET n = t.n", "SET n = t.n + excluded.m",
			"SET n = t.n + t.n", "SET n = excluded.n + excluded.n", "SET n = t.n - excluded.n",
			"SET n = t.n + excluded.n + 1", "SET n = excluded.n * 2", "SET n = now()",
			"SET n = excluded.n::int", "SET n = excluded", "SET n = public.t.n + excluded.n",
			"SET n = (excluded.n)",
		};
		size_t i;
		char sql[256];

		for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			snprintf(sql, sizeof(sql), "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE %s", refused[i]);
			CHECK_STR(parse_error(sql), "ON CONFLICT DO UPDATE SET takes col = EXCLUDED.col or "
						    "col = t.col + EXCLUDED.col only");
		}
	}
}

UNIT_TEST(cli_sql_arity_errors)
{
	CHECK_STR(parse("INSERT INTO t (a, b) VALUES (1, 2, 3)"),
		  "ERROR@35: INSERT has more expressions than target columns");
	CHECK_STR(parse("INSERT INTO t (a, b) VALUES (1)"),
		  "ERROR@18: INSERT has more target columns than expressions");
	CHECK_STR(parse("INSERT INTO t (a, b) VALUES (1, 2), (3)"),
		  "ERROR@37: VALUES lists must all be the same length");
	CHECK_STR(parse("INSERT INTO t (a, b) VALUES (1, 2), (3, 4, 5)"),
		  "ERROR@37: VALUES lists must all be the same length");
	CHECK_STR(parse("INSERT INTO t (a, b, a) VALUES (1, 2, 3)"),
		  "ERROR@21: column \"a\" specified more than once");
	CHECK_STR(parse("INSERT INTO t (default) VALUES (1)"),
		  "ERROR@15: syntax error at or near \"default\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES ()"), "ERROR@26: syntax error at or near \")\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1"), "ERROR@27: syntax error at end of input");
	CHECK_STR(parse("INSERT INTO t (a VALUES (1)"), "ERROR@17: syntax error at or near \"VALUES\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES ((1))"),
		  "ERROR@26: expressions are not supported in VALUES");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1))"), "ERROR@28: syntax error at or near \")\"");
	CHECK_STR(parse("INSERT INTO t (a) VALUES (1),"), "ERROR@29: syntax error at end of input");
}

UNIT_TEST(cli_sql_unbalanced_parentheses_deep)
{
	/* deep nesting must not recurse: it is an error at the second '(' */
	size_t n = 100000, i;
	struct buf sql;

	buf_init(&sql);
	buf_puts(&sql, "INSERT INTO t (a) VALUES ");
	for (i = 0; i < n; i++)
		buf_putc(&sql, '(');
	CHECK_STR(parse(buf_cstr(&sql)), "ERROR@26: expressions are not supported in VALUES");
	buf_free(&sql);
}

UNIT_TEST(cli_sql_ten_megabyte_statements)
{
	size_t target = 10u << 20, n;
	struct buf sql;
	const char *r;
	struct cli_sql_insert ins;
	struct cli_sql_error err;

	/* a 10 MB string that never ends */
	buf_init(&sql);
	buf_puts(&sql, "INSERT INTO t (a) VALUES ('");
	while (sql.len < target)
		buf_puts(&sql, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'' ");
	r = parse(buf_cstr(&sql));
	CHECK(strncmp(r, "ERROR@26: unterminated quoted string at or near \"'xxx", 52) == 0);
	CHECK(strlen(r) < 400); /* the message quotes a bounded piece */

	/* a 10 MB statement of many tuples parses completely */
	buf_reset(&sql);
	buf_puts(&sql, "INSERT INTO t (a, b) VALUES (0, 'v')");
	for (n = 1; sql.len < target; n++)
		buf_printf(&sql, ", (%zu, 'v')", n);
	cli_sql_insert_init(&ins);
	CHECK_INT(cli_sql_parse(sql.data, sql.len, &ins, &err), CLI_SQL_OK);
	CHECK_INT(ins.ntuples, n);
	cli_sql_insert_free(&ins);

	/* ... and with one broken tuple at the very end, fails there */
	buf_puts(&sql, ", (1 2)");
	cli_sql_insert_init(&ins);
	CHECK_INT(cli_sql_parse(sql.data, sql.len, &ins, &err), CLI_SQL_ERROR);
	CHECK_INT(err.position, sql.len - 2);
	cli_sql_insert_free(&ins);

	/* 10 MB of open parentheses, and of garbage bytes */
	buf_reset(&sql);
	while (sql.len < target)
		buf_putc(&sql, '(');
	CHECK_STR(parse(buf_cstr(&sql)), "ERROR@0: syntax error at or near \"(\"");
	buf_reset(&sql);
	buf_puts(&sql, "INSERT INTO t (a) VALUES (1) ");
	while (sql.len < target)
		buf_puts(&sql, "}{][");
	CHECK_STR(parse(buf_cstr(&sql)), "ERROR@29: syntax error at or near \"}\"");
	buf_free(&sql);
}

UNIT_TEST(cli_sql_column_list_limit)
{
	struct buf sql;
	size_t i;

	buf_init(&sql);
	buf_puts(&sql, "INSERT INTO t (c0");
	for (i = 1; i <= CLI_SQL_MAX_COLUMNS; i++)
		buf_printf(&sql, ", c%zu", i);
	buf_puts(&sql, ") VALUES (1)");
	CHECK(strstr(parse(buf_cstr(&sql)), "target lists can have at most 1664 entries") != NULL);
	buf_free(&sql);
}

/* Split `text` fed in pieces of `chunk` bytes; returns the statements joined by '|'. */
static const char *split_all(const char *text, size_t chunk)
{
	static struct buf out;
	struct cli_sql_split sp;
	struct buf acc;
	size_t fed = 0, n = strlen(text), end;

	buf_reset(&out);
	buf_init(&acc);
	cli_sql_split_init(&sp);
	while (fed < n) {
		size_t k = n - fed < chunk ? n - fed : chunk;
		buf_append(&acc, text + fed, k);
		fed += k;
		while (cli_sql_split_next(&sp, acc.data, acc.len, &end)) {
			buf_append(&out, acc.data, end);
			buf_putc(&out, '|');
			buf_consume(&acc, end);
			cli_sql_split_init(&sp);
		}
	}
	buf_printf(&out, "rest=%s prompt=%c", buf_cstr(&acc), cli_sql_split_prompt(&sp));
	buf_free(&acc);
	return buf_cstr(&out);
}

UNIT_TEST(cli_sql_split_statements)
{
	static const char script[] =
		"INSERT INTO t (a) VALUES ('a;b'); INSERT INTO t (a) VALUES (E'\\';'), (\"x;\");\n"
		"-- a comment; with a semicolon\n"
		"INSERT /* ; /* ; */ ; */ INTO t (a) VALUES ($$;$$), ($q$ $$; $q$);\n"
		"INSERT INTO t (a) VALUES ((1;2));x";
	static const char want[] =
		"INSERT INTO t (a) VALUES ('a;b');| INSERT INTO t (a) VALUES (E'\\';'), (\"x;\");|"
		"\n-- a comment; with a semicolon\n"
		"INSERT /* ; /* ; */ ; */ INTO t (a) VALUES ($$;$$), ($q$ $$; $q$);|"
		"\nINSERT INTO t (a) VALUES ((1;2));|rest=x prompt=-";
	size_t chunk;

	/* the same statements whatever the pieces the text arrives in */
	for (chunk = 1; chunk <= sizeof(script); chunk++)
		CHECK_STR(split_all(script, chunk), want);
}

UNIT_TEST(cli_sql_split_prompts)
{
	CHECK_STR(split_all("", 100), "rest= prompt==");
	CHECK_STR(split_all("  \n", 100), "rest=  \n prompt==");
	CHECK_STR(split_all("INSERT INTO t\n", 100), "rest=INSERT INTO t\n prompt=-");
	CHECK_STR(split_all("VALUES ('abc\n", 100), "rest=VALUES ('abc\n prompt='");
	CHECK_STR(split_all("VALUES (e'\\'\n", 100), "rest=VALUES (e'\\'\n prompt='");
	CHECK_STR(split_all("INSERT INTO \"x\n", 100), "rest=INSERT INTO \"x\n prompt=\"");
	CHECK_STR(split_all("VALUES ($a$ ;\n", 100), "rest=VALUES ($a$ ;\n prompt=$");
	CHECK_STR(split_all("/* /* */ ;\n", 100), "rest=/* /* */ ;\n prompt=*");
	CHECK_STR(split_all("VALUES ((1;\n", 100), "rest=VALUES ((1;\n prompt=(");
	CHECK_STR(split_all("-- only a comment\n", 100), "rest=-- only a comment\n prompt==");
	/* an extra ')' does not make the count negative */
	CHECK_STR(split_all(")) ;x", 100), ")) ;|rest=x prompt=-");
}

UNIT_TEST(cli_sql_positional_values_map_to_the_table)
{
	static const char *const cols[] = { "x", "y", "z", "w" };
	const char *sql = "INSERT INTO s.t VALUES (1, 'a', DEFAULT), (2, 'b', 3) RETURNING x";
	struct cli_sql_insert ins;
	struct cli_sql_error err;
	struct buf req;

	cli_sql_insert_init(&ins);
	buf_init(&req);
	CHECK_INT(cli_sql_parse(sql, strlen(sql), &ins, &err), CLI_SQL_OK);
	CHECK(ins.positional && ins.nvalues == 3 && ins.ncolumns == 0 && ins.ntuples == 2);
	CHECK(cli_sql_has_default(&ins));
	CHECK_INT(ins.table_pos, 12);
	/* two columns for three values: psql's error, at the first value without one */
	CHECK(!cli_sql_set_columns(&ins, cols, 2, &err));
	CHECK_STR(err.message, "INSERT has more expressions than target columns");
	CHECK_INT(err.position, (long)(strstr(sql, "DEFAULT") - sql));
	CHECK(cli_sql_set_columns(&ins, cols, 4, &err));
	CHECK_INT(ins.ncolumns, 3);
	cli_sql_request(&ins, 0, "1", &req);
	CHECK_STR(buf_cstr(&req), "{\"id\":1,\"table\":\"t\",\"schema\":\"s\",\"row\":{\"x\":1,\"y\":\"a\"},"
				  "\"returning\":[\"x\"]}");
	buf_reset(&req);
	cli_sql_request(&ins, 1, "2", &req);
	CHECK_STR(buf_cstr(&req), "{\"id\":2,\"table\":\"t\",\"schema\":\"s\",\"row\":{\"x\":2,\"y\":\"b\",\"z\":3},"
				  "\"returning\":[\"x\"]}");
	cli_sql_insert_free(&ins);
	/* a column list: positions of the names, no DEFAULT */
	sql = "INSERT INTO t (a,  bb) VALUES (1, 2)";
	CHECK_INT(cli_sql_parse(sql, strlen(sql), &ins, &err), CLI_SQL_OK);
	CHECK(!ins.positional && !cli_sql_has_default(&ins));
	CHECK_INT(ins.column_pos[1], 19);
	cli_sql_insert_free(&ins);
	buf_free(&req);
}
