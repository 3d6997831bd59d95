/*
 * test_cli_vars.c — the CLI's variables: psql's interpolation in SQL (not in
 * quotes, comments or casts), meta-command words, booleans.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_vars.h"
#include "unit.h"

static const char *interp(const struct cli_vars *vs, const char *sql)
{
	static struct buf out;

	buf_reset(&out);
	cli_vars_interpolate(vs, sql, strlen(sql), &out);
	return buf_cstr(&out);
}

UNIT_TEST(cli_vars_interpolate_like_psql)
{
	struct cli_vars vs;

	cli_vars_init(&vs);
	cli_vars_set(&vs, "n", "42");
	cli_vars_set(&vs, "s", "it's");
	cli_vars_set(&vs, "b", "a\\b");
	cli_vars_set(&vs, "id", "My \"T\"");
	CHECK_STR(interp(&vs, "VALUES (:n, :'s', :'b')"), "VALUES (42, 'it''s',  E'a\\\\b')");
	CHECK_STR(interp(&vs, "INSERT INTO :\"id\" (a)"), "INSERT INTO \"My \"\"T\"\"\" (a)");
	CHECK_STR(interp(&vs, ":{?n} :{?nope}"), "TRUE FALSE");
	/* unknown names, casts, quotes, comments and dollar quotes are left alone */
	CHECK_STR(interp(&vs, ":nope :'nope' 1::int"), ":nope :'nope' 1::int");
	CHECK_STR(interp(&vs, "':n' E':n\\' :n' \":n\" $$:n$$ $q$:n$q$ -- :n\n:n /* :n /* :n */ */ :n"),
		  "':n' E':n\\' :n' \":n\" $$:n$$ $q$:n$q$ -- :n\n42 /* :n /* :n */ */ 42");
	CHECK_STR(interp(&vs, "a$n :n"), "a$n 42"); /* $ inside a name is no quote */
	CHECK_STR(interp(&vs, ":"), ":");
	CHECK_STR(interp(&vs, ":'n"), ":'n");
	cli_vars_set(&vs, "n", NULL);
	CHECK_STR(interp(&vs, ":n"), ":n");
	cli_vars_free(&vs);
}

UNIT_TEST(cli_vars_meta_words)
{
	struct cli_vars vs;
	char *w[8];
	size_t n, i;

	cli_vars_init(&vs);
	cli_vars_set(&vs, "x", "5");
	n = cli_vars_words(&vs, "  a 'b  c' 'it''s' 'tab\\there' :x :'x' x:y :nope", w, 8);
	CHECK_INT(n, 8);
	CHECK_STR(w[0], "a");
	CHECK_STR(w[1], "b  c");
	CHECK_STR(w[2], "it's");
	CHECK_STR(w[3], "tab\there");
	CHECK_STR(w[4], "5");
	CHECK_STR(w[5], "'5'");
	CHECK_STR(w[6], "x:y");
	CHECK_STR(w[7], ":nope");
	for (i = 0; i < n; i++)
		free(w[i]);
	CHECK_INT(cli_vars_words(&vs, "a b c", w, 2), 2);
	free(w[0]);
	free(w[1]);
	cli_vars_free(&vs);
}

UNIT_TEST(cli_vars_booleans_and_names)
{
	struct cli_vars vs;
	bool b = false, ok;

	CHECK(cli_parse_bool("on", &b) && b);
	CHECK(cli_parse_bool("OFF", &b) && !b);
	CHECK(cli_parse_bool("t", &b) && b);
	CHECK(cli_parse_bool("fal", &b) && !b);
	CHECK(cli_parse_bool("1", &b) && b);
	CHECK(cli_parse_bool("n", &b) && !b);
	CHECK(!cli_parse_bool("o", &b));   /* on or off? */
	CHECK(!cli_parse_bool("", &b));
	CHECK(!cli_parse_bool("maybe", &b));
	cli_vars_init(&vs);
	CHECK(!cli_vars_bool(&vs, "ON_ERROR_STOP", &ok) && ok);
	cli_vars_set(&vs, "ON_ERROR_STOP", "yes");
	CHECK(cli_vars_bool(&vs, "ON_ERROR_STOP", &ok) && ok);
	cli_vars_set(&vs, "ON_ERROR_STOP", "perhaps");
	CHECK(!cli_vars_bool(&vs, "ON_ERROR_STOP", &ok) && !ok);
	CHECK(cli_vars_valid_name("ROW_COUNT") && cli_vars_valid_name("x1"));
	CHECK(!cli_vars_valid_name("") && !cli_vars_valid_name("a-b") && !cli_vars_valid_name("a b"));
	/* kept sorted, set twice keeps one */
	cli_vars_set(&vs, "b", "2");
	cli_vars_set(&vs, "a", "1");
	cli_vars_set(&vs, "b", "3");
	CHECK_INT(vs.n, 3);
	CHECK_STR(vs.v[1].name, "a");
	CHECK_STR(cli_vars_get(&vs, "b"), "3");
	cli_vars_free(&vs);
}
