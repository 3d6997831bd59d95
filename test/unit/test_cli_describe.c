/*
 * test_cli_describe.c — reading the sidecar's describe answer (the op's
 * format as the lead specified it; the daemon side lands separately).
 */
#include <string.h>

#include "cli_describe.h"
#include "unit.h"

UNIT_TEST(cli_describe_parses_columns_in_order)
{
	const char *line = "{\"id\":1,\"ok\":true,\"relation\":\"public.t\",\"columns\":["
			   "{\"name\":\"a\",\"type\":\"integer\",\"insertable\":true,\"generated\":null},"
			   "{\"name\":\"id\",\"type\":\"bigint\",\"insertable\":true,\"generated\":\"identity always\"},"
			   "{\"name\":\"Odd \\\"x\\\"\",\"type\":\"text\",\"insertable\":false,\"generated\":null},"
			   "{\"name\":\"n\",\"type\":\"numeric(5,2)\"}]}";
	struct cli_relation rel;

	memset(&rel, 0, sizeof(rel));
	CHECK(cli_describe_parse(line, strlen(line), &rel));
	CHECK_INT(rel.ncols, 4);
	CHECK_STR(rel.cols[0].name, "a");
	CHECK(rel.cols[0].insertable);
	CHECK_STR(rel.cols[1].name, "id");
	CHECK_STR(rel.cols[2].name, "Odd \"x\"");
	CHECK(!rel.cols[2].insertable);
	CHECK(rel.cols[3].insertable); /* absent: the sidecar checks a written value anyway */
	cli_relation_free(&rel);
	/* not a description */
	CHECK(!cli_describe_parse("{\"id\":1,\"ok\":true}", 19, &rel));
	cli_relation_free(&rel);
	CHECK(!cli_describe_parse("{\"columns\":[{\"type\":\"int\"}]}", 28, &rel));
	cli_relation_free(&rel);
	CHECK(!cli_describe_parse("nonsense", 8, &rel));
	cli_relation_free(&rel);
}

UNIT_TEST(cli_describe_cache_forgets_a_table)
{
	struct cli_describe d;

	cli_describe_init(&d);
	d.rels = pgc_calloc(2, sizeof(*d.rels));
	d.rels[0].table = pgc_strdup("t");
	d.rels[1].schema = pgc_strdup("s");
	d.rels[1].table = pgc_strdup("t");
	d.n = 2;
	cli_describe_forget(&d, NULL, "t");   /* unqualified t, not s.t */
	CHECK_INT(d.n, 1);
	CHECK_STR(d.rels[0].schema, "s");
	cli_describe_forget(&d, "s", "nope");
	CHECK_INT(d.n, 1);
	cli_describe_forget(&d, "s", "t");
	CHECK_INT(d.n, 0);
	cli_describe_free(&d);
}
