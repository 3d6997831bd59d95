/*
 * test_sqlbuild.c — the coalesced INSERT text and its array parameters.
 *
 * PQescapeIdentifier needs a PGconn but no server: a connection object that
 * never connected is enough.
 */
#include "unit.h"

#include <stdlib.h>

#include "sqlbuild.h"

static struct row *make_row(struct colset *cs, const struct value *vals)
{
	struct row *r = calloc(1, sizeof(*r) + cs->n * sizeof(struct value));
	size_t i;

	r->colset = cs;
	for (i = 0; i < cs->n; i++)
		r->values[i] = vals[i];
	return r;
}

static struct table_schema *test_schema(void)
{
	static struct schema_column cols[] = {
		{ "id", "pg_catalog.int8", false, false, false, ',', 20, -1, false },
		{ "Kind", "pg_catalog.text", false, false, false, ',', 25, -1, false },
		{ "tags", "pg_catalog._int4", true, true, false, ',', 1007, -1, false },
		{ "amount", "pg_catalog.\"numeric\"", false, false, false, ',', 1700, -1, false },
	};
	static struct table_schema s = { true, 16384, "my schema", "Ev\"ents", "my schema.Ev\"ents", cols, 4, 0, true };

	return &s;
}

UNIT_TEST(sqlbuild_statement_text)
{
	PGconn *pg = PQconnectStart("host=/nonexistent-pgcoalesce-test dbname=x");
	struct group_registry reg;
	struct group *g;
	const char *names[] = { "Kind", "amount", "tags" };
	int idx[] = { 1, 3, 2 };
	struct colset *cs;
	struct buf sql;
	struct sqlbuild_opts ret = { .returning = true }, plain = { 0 };

	group_registry_init(&reg, ev_default_loop(0), 1.0, 10, 100);
	g = group_get(&reg, "my schema", "Ev\"ents");
	cs = group_colset(g, names, 3);
	buf_init(&sql);
	CHECK(sqlbuild_insert(&sql, pg, test_schema(), cs, idx, &ret));
	CHECK_STR(buf_cstr(&sql),
		  "INSERT INTO \"my schema\".\"Ev\"\"ents\" (\"Kind\",\"amount\",\"tags\") "
		  "SELECT c1,c2,c3::pg_catalog._int4 FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),"
		  "pg_catalog.unnest($2::pg_catalog.\"numeric\"[]),pg_catalog.unnest($3::pg_catalog.text[])) "
		  "AS u(c1,c2,c3) RETURNING *");
	buf_reset(&sql);
	cs = group_colset(g, names, 0);
	CHECK(sqlbuild_insert(&sql, pg, test_schema(), cs, idx, &plain));
	CHECK_STR(buf_cstr(&sql),
		  "INSERT INTO \"my schema\".\"Ev\"\"ents\" SELECT FROM pg_catalog.generate_series(1, $1::int)");
	buf_free(&sql);
	group_registry_free(&reg);
	PQfinish(pg);
}

/* Upserts: in order, under an alias, returning whether each row inserted; keyed rows filtered by token. */
UNIT_TEST(sqlbuild_upsert_and_keyed_text)
{
	PGconn *pg = PQconnectStart("host=/nonexistent-pgcoalesce-test dbname=x");
	struct group_registry reg;
	struct group *g;
	const char *names[] = { "Kind", "id" };
	int idx[] = { 1, 0 };
	char *target[] = { "id" }, *set[] = { "Kind" }, *add[] = { "amount" }, *none[] = { NULL };
	struct conflict up = { .action = CONFLICT_UPDATE, .target = target, .ntarget = 1,
			       .set = set, .nset = 1, .add = add, .nadd = 1 };
	struct conflict nothing = { .action = CONFLICT_NOTHING, .constraint = "ev_pkey", .set = none };
	struct sqlbuild_opts o = { .conflict = &up };
	struct colset *cs;
	struct buf sql;

	group_registry_init(&reg, ev_default_loop(0), 1.0, 10, 100);
	g = group_get(&reg, "my schema", "Ev\"ents");
	cs = group_colset(g, names, 2);
	buf_init(&sql);
	CHECK(sqlbuild_insert(&sql, pg, test_schema(), cs, idx, &o));
	CHECK_STR(buf_cstr(&sql),
		  "INSERT INTO \"my schema\".\"Ev\"\"ents\" AS pgcoalesce_t (\"Kind\",\"id\") "
		  "SELECT c1,c2 FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),pg_catalog.unnest($2::pg_catalog.int8[])) "
		  "WITH ORDINALITY AS u(c1,c2,pgcoalesce_ord) ORDER BY u.pgcoalesce_ord "
		  "ON CONFLICT (\"id\") DO UPDATE SET \"Kind\" = EXCLUDED.\"Kind\","
		  "\"amount\" = pgcoalesce_t.\"amount\" + EXCLUDED.\"amount\" "
		  "RETURNING (pgcoalesce_t.xmax OPERATOR(pg_catalog.=) 0)");
	buf_reset(&sql);
	o.conflict = &nothing;
	o.returning = true;
	o.keyed = true;
	CHECK(sqlbuild_insert(&sql, pg, test_schema(), cs, idx, &o));
	CHECK_STR(buf_cstr(&sql),
		  "INSERT INTO \"my schema\".\"Ev\"\"ents\" AS pgcoalesce_t (\"Kind\",\"id\") "
		  "SELECT c1,c2 FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),pg_catalog.unnest($2::pg_catalog.int8[]),pg_catalog.unnest($3::pg_catalog.text[])) "
		  "WITH ORDINALITY AS u(c1,c2,pgcoalesce_key,pgcoalesce_ord) "
		  "WHERE u.pgcoalesce_key IS NULL OR (SELECT k.token FROM pgcoalesce.keys k "
		  "WHERE k.key OPERATOR(pg_catalog.=) u.pgcoalesce_key) OPERATOR(pg_catalog.=) $4 ORDER BY u.pgcoalesce_ord "
		  "ON CONFLICT ON CONSTRAINT \"ev_pkey\" DO NOTHING "
		  "RETURNING (pgcoalesce_t.xmax OPERATOR(pg_catalog.=) 0), pgcoalesce_t.*");
	buf_reset(&sql);
	o.conflict = NULL;
	o.returning = false;
	cs = group_colset(g, names, 0);
	CHECK(sqlbuild_insert(&sql, pg, test_schema(), cs, idx, &o));
	CHECK_STR(buf_cstr(&sql),
		  "INSERT INTO \"my schema\".\"Ev\"\"ents\" SELECT FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[])) "
		  "WITH ORDINALITY AS u(pgcoalesce_key,pgcoalesce_ord) "
		  "WHERE u.pgcoalesce_key IS NULL OR (SELECT k.token FROM pgcoalesce.keys k "
		  "WHERE k.key OPERATOR(pg_catalog.=) u.pgcoalesce_key) OPERATOR(pg_catalog.=) $2 ORDER BY u.pgcoalesce_ord");
	buf_free(&sql);
	group_registry_free(&reg);
	PQfinish(pg);
}

UNIT_TEST(sqlbuild_array_params)
{
	static const struct schema_column text_col = { "a", "pg_catalog.text", false, false, false, ',', 25, -1, false };
	static const struct schema_column array_col = { "a", "pg_catalog._text", true, true, false, ',', 1009, -1, false };
	struct group_registry reg;
	struct group *g;
	const char *names[] = { "a" };
	struct colset *cs;
	struct row *rows[5];
	struct value v[5] = {
		{ VALUE_STRING, "it's \"quoted\" \\ {x,y}", 0 },
		{ VALUE_NULL, NULL, 0 },
		{ VALUE_STRING, "NULL", 4 },
		{ VALUE_NUMBER, "12345678901234567890.123456789012345678", 39 },
		{ VALUE_ARRAY, "[1,null,[\"x\"]]", 14 },
	};
	struct buf out;
	size_t i;

	for (i = 0; i < 5; i++)
		v[i].len = v[i].text ? strlen(v[i].text) : 0;
	group_registry_init(&reg, ev_default_loop(0), 1.0, 10, 100);
	g = group_get(&reg, NULL, "t");
	cs = group_colset(g, names, 1);
	for (i = 0; i < 5; i++)
		rows[i] = make_row(cs, &v[i]);
	buf_init(&out);
	sqlbuild_array_param(&out, rows, 4, 0, &text_col);
	CHECK_STR(buf_cstr(&out),
		  "{\"it's \\\"quoted\\\" \\\\ {x,y}\",NULL,\"NULL\",\"12345678901234567890.123456789012345678\"}");
	buf_reset(&out);
	/* array column: the JSON array becomes a PostgreSQL array, quoted as one element */
	sqlbuild_array_param(&out, rows + 4, 1, 0, &array_col);
	CHECK_STR(buf_cstr(&out), "{\"{\\\"1\\\",NULL,{\\\"x\\\"}}\"}");
	buf_reset(&out);
	/* not an array column: JSON text as is */
	sqlbuild_array_param(&out, rows + 4, 1, 0, &text_col);
	CHECK_STR(buf_cstr(&out), "{\"[1,null,[\\\"x\\\"]]\"}");
	buf_free(&out);
	for (i = 0; i < 5; i++)
		free(rows[i]);
	group_registry_free(&reg);
}

/*
 * COPY: one text-format line per row, values as the array parameter holds
 * them before its own quoting (a JSON array of an array column as a
 * PostgreSQL array literal), the backslash, tab, newline and carriage
 * return escaped, NULL as \N.
 */
UNIT_TEST(sqlbuild_copy_text_and_data)
{
	PGconn *pg = PQconnectStart("host=/nonexistent-pgcoalesce-test dbname=x");
	struct group_registry reg;
	struct group *g;
	const char *names[] = { "Kind", "tags" };
	int idx[] = { 1, 2 };
	struct value v1[2] = { { VALUE_STRING, "tab\tnl\ncr\rbs\\N \"q\" {a,b}", 0 },
			       { VALUE_ARRAY, "[1,null,\"x\\\\y\"]", 0 } };
	struct value v2[2] = { { VALUE_NULL, NULL, 0 }, { VALUE_STRING, "{7}", 0 } };
	struct value v3[2] = { { VALUE_STRING, "\\.", 0 }, { VALUE_NULL, NULL, 0 } };
	struct value *vs[3] = { v1, v2, v3 };
	struct row *rows[3];
	struct colset *cs;
	struct buf out;
	size_t i, k;

	group_registry_init(&reg, ev_default_loop(0), 1.0, 10, 100);
	g = group_get(&reg, "my schema", "Ev\"ents");
	cs = group_colset(g, names, 2);
	for (i = 0; i < 3; i++) {
		for (k = 0; k < 2; k++)
			vs[i][k].len = vs[i][k].text ? strlen(vs[i][k].text) : 0;
		rows[i] = make_row(cs, vs[i]);
	}
	buf_init(&out);
	CHECK(sqlbuild_copy(&out, pg, test_schema(), cs));
	CHECK_STR(buf_cstr(&out), "COPY \"my schema\".\"Ev\"\"ents\" (\"Kind\",\"tags\") FROM STDIN");
	buf_reset(&out);
	sqlbuild_copy_data(&out, rows, 3, test_schema(), idx, 2);
	CHECK_STR(buf_cstr(&out),
		  "tab\\tnl\\ncr\\rbs\\\\N \"q\" {a,b}\t{\"1\",NULL,\"x\\\\\\\\y\"}\n"
		  "\\N\t{7}\n"
		  "\\\\.\t\\N\n");
	buf_free(&out);
	for (i = 0; i < 3; i++)
		free(rows[i]);
	group_registry_free(&reg);
	PQfinish(pg);
}
