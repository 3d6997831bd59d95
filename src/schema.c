/*
 * schema.c — column types of a table from the catalog (see schema.h).
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/*
 * One row per column, in attnum order; no row at all when the relation does
 * not exist; one row with a NULL attname for a table without columns. The
 * name is quoted on the server (quote_ident), so it is exact and never SQL.
 * via_text: pass the column as text[] and cast (array types would be
 * flattened by unnest; domains and types without an array type need a cast).
 */
#define SCHEMA_FINGERPRINT(rel)                                                         \
	"(SELECT COALESCE(pg_catalog.md5(pg_catalog.string_agg("              \
	"  f.attname || ':' || f.atttypid::text || ':' || f.atttypmod::text, ',' "        \
	"  ORDER BY f.attnum)), '') FROM pg_catalog.pg_attribute f "                     \
	"  WHERE f.attrelid = " rel " AND f.attnum > 0 AND NOT f.attisdropped)"

const char schema_catalog_query[] =
	"SELECT n.nspname, c.relname, a.attname, "
	"pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.typname), "
	"(t.typcategory = 'A' OR t.typtype = 'd' OR t.typarray = 0), "
	"t.typcategory = 'A', "
	SCHEMA_FINGERPRINT("c.oid") " "
	"FROM pg_catalog.pg_class c "
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"LEFT JOIN pg_catalog.pg_attribute a "
	"  ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
	"LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace "
	"WHERE c.oid = pg_catalog.to_regclass(CASE WHEN $1::text IS NULL "
	"  THEN pg_catalog.quote_ident($2::text) "
	"  ELSE pg_catalog.quote_ident($1::text) || '.' || pg_catalog.quote_ident($2::text) END) "
	"ORDER BY a.attnum";

const char schema_check_query[] =
	"SELECT 1 / (CASE WHEN " SCHEMA_FINGERPRINT("$1::text::pg_catalog.regclass") " = $2 "
	"THEN 1 ELSE 0 END)";

struct table_schema *schema_from_result(const PGresult *res, double fetched_at)
{
	struct table_schema *s;
	int i, n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 7)
		return NULL;
	s = pgc_calloc(1, sizeof(*s));
	s->fetched_at = fetched_at;
	n = PQntuples(res);
	if (n == 0)
		return s; /* exists = false */
	s->exists = true;
	s->nspname = pgc_strdup(PQgetvalue(res, 0, 0));
	s->relname = pgc_strdup(PQgetvalue(res, 0, 1));
	s->fingerprint = pgc_strdup(PQgetvalue(res, 0, 6));
	s->columns = pgc_calloc((size_t)n, sizeof(*s->columns));
	for (i = 0; i < n; i++) {
		struct schema_column *c;
		if (PQgetisnull(res, i, 2))
			continue;
		c = &s->columns[s->ncolumns++];
		c->name = pgc_strdup(PQgetvalue(res, i, 2));
		c->type = pgc_strdup(PQgetvalue(res, i, 3));
		c->via_text = PQgetvalue(res, i, 4)[0] == 't';
		c->is_array = PQgetvalue(res, i, 5)[0] == 't';
	}
	return s;
}

void schema_free(struct table_schema *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->ncolumns; i++) {
		free(s->columns[i].name);
		free(s->columns[i].type);
	}
	free(s->columns);
	free(s->nspname);
	free(s->relname);
	free(s->fingerprint);
	free(s);
}

int schema_find_column(const struct table_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->ncolumns; i++)
		if (strcmp(s->columns[i].name, name) == 0)
			return (int)i;
	return -1;
}
