/*
 * schema.c — column types of a table from the catalog (see schema.h).
 */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define RELATION_OID                                                                    \
	"pg_catalog.to_regclass(CASE WHEN $1::pg_catalog.text IS NULL "                 \
	"THEN pg_catalog.quote_ident($2::pg_catalog.text) "                             \
	"ELSE pg_catalog.quote_ident($1::pg_catalog.text) OPERATOR(pg_catalog.||) '.' " \
	"OPERATOR(pg_catalog.||) pg_catalog.quote_ident($2::pg_catalog.text) END)"

/*
 * COPY FROM writes a table as INSERT does (the same input functions,
 * defaults, constraints, triggers and partition routing) except that it
 * ignores rules, refuses row-level security and views, and writes values
 * into identity ALWAYS and generated columns that INSERT refuses
 * (sqlbuild.h, "COPY"). c: the relation's pg_class row, a: a column's
 * pg_attribute row.
 */
#define COPY_LIKE_INSERT                                                                   \
	"(c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.\"char\"[])"              \
	" AND NOT c.relhasrules AND NOT c.relrowsecurity)"
/* qualified: a "char" = on the role's search_path must not let COPY write an identity column */
#define COPY_REFUSED                                                                       \
	"(a.attidentity OPERATOR(pg_catalog.=) 'a' OR a.attgenerated OPERATOR(pg_catalog.<>) '')"

/*
 * Every operator in these queries is pg_catalog's, written out: a role's
 * search_path may name a schema before pg_catalog, and an = of its own on
 * oid, int2 or "char" there would otherwise stand in for PostgreSQL's and
 * hand the sidecar another table's columns, or none (test_hostile.py). A
 * simple CASE and IN compare with the search_path's = too, so neither is
 * used. Type names are qualified for the same reason.
 */
#define EQ " OPERATOR(pg_catalog.=) "
#define CAT " OPERATOR(pg_catalog.||) "

/*
 * One row per column, in attnum order; no row at all when the relation does
 * not exist; one row with a NULL attname for a relation without columns.
 * `base` follows each column's type through domains to the base type (the
 * type values are cast to). Names come back quoted by the server
 * (quote_ident), so they are exact and never SQL.
 */
const char schema_catalog_query[] =
	"WITH RECURSIVE rel AS ("
	"  SELECT c.oid, n.nspname, c.relname, " COPY_LIKE_INSERT " AS copy_ok FROM pg_catalog.pg_class c"
	"  JOIN pg_catalog.pg_namespace n ON n.oid" EQ "c.relnamespace"
	"  WHERE c.oid" EQ RELATION_OID "),"
	" col AS ("
	"  SELECT a.attnum, a.attname, a.atttypid, a.atttypmod, " COPY_REFUSED " AS no_copy"
	"  FROM pg_catalog.pg_attribute a, rel"
	"  WHERE a.attrelid" EQ "rel.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped),"
	" base(attnum, typid) AS ("
	"  SELECT attnum, atttypid FROM col"
	"  UNION ALL"
	"  SELECT base.attnum, t.typbasetype FROM base JOIN pg_catalog.pg_type t ON t.oid" EQ "base.typid"
	"  WHERE t.typtype" EQ "'d')"
	" SELECT rel.nspname, rel.relname, col.attname,"
	"  pg_catalog.quote_ident(tn.nspname)" CAT "'.'" CAT "pg_catalog.quote_ident(t.typname),"
	"  (t.typcategory" EQ "'A' OR t.typtype" EQ "'c' OR t.typarray" EQ "0),"
	"  t.typcategory" EQ "'A',"
	"  t.typelem" EQ "ANY ('{pg_catalog.json,pg_catalog.jsonb}'::pg_catalog.regtype[]),"
	"  rel.oid::pg_catalog.int8, col.atttypid::pg_catalog.int8, col.atttypmod,"
	"  (SELECT e.typdelim FROM pg_catalog.pg_type e WHERE e.oid" EQ "t.typelem),"
	"  rel.copy_ok, col.no_copy"
	" FROM rel LEFT JOIN col ON true"
	" LEFT JOIN base ON base.attnum" EQ "col.attnum AND NOT EXISTS ("
	"  SELECT FROM pg_catalog.pg_type d WHERE d.oid" EQ "base.typid AND d.typtype" EQ "'d')"
	" LEFT JOIN pg_catalog.pg_type t ON t.oid" EQ "base.typid"
	" LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid" EQ "t.typnamespace"
	" ORDER BY col.attnum";

const char schema_check_query[] =
	"SELECT r.oid::pg_catalog.int8, a.attname, a.atttypid::pg_catalog.int8, a.atttypmod,"
	" " COPY_LIKE_INSERT ", " COPY_REFUSED
	" FROM (SELECT " RELATION_OID " AS oid) r"
	" LEFT JOIN pg_catalog.pg_class c ON c.oid" EQ "r.oid"
	" LEFT JOIN pg_catalog.pg_attribute a"
	"  ON a.attrelid" EQ "r.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped";

const char schema_describe_query[] =
	"SELECT n.nspname" CAT "'.'" CAT "c.relname, a.attname,"
	" pg_catalog.format_type(a.atttypid, a.atttypmod),"
	" pg_catalog.pg_column_is_updatable(c.oid, a.attnum, false),"
	" CASE WHEN a.attidentity" EQ "'a' THEN 'identity always'"
	"  WHEN a.attidentity" EQ "'d' THEN 'identity by default'"
	"  WHEN a.attgenerated" EQ "'s' THEN 'stored' END"
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid" EQ "c.relnamespace"
	" LEFT JOIN pg_catalog.pg_attribute a"
	"  ON a.attrelid" EQ "c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
	" WHERE c.oid" EQ RELATION_OID
	" ORDER BY a.attnum";

#define CATALOG_FIELDS 13

struct table_schema *schema_from_result(const PGresult *res, double fetched_at)
{
	struct table_schema *s;
	int i, n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != CATALOG_FIELDS)
		return NULL;
	s = pgc_calloc(1, sizeof(*s));
	s->fetched_at = fetched_at;
	n = PQntuples(res);
	if (n == 0)
		return s; /* exists = false */
	s->exists = true;
	s->nspname = pgc_strdup(PQgetvalue(res, 0, 0));
	s->relname = pgc_strdup(PQgetvalue(res, 0, 1));
	s->qualname = pgc_malloc(strlen(s->nspname) + strlen(s->relname) + 2);
	sprintf(s->qualname, "%s.%s", s->nspname, s->relname);
	s->oid = (unsigned)strtoul(PQgetvalue(res, 0, 7), NULL, 10);
	s->copy_ok = PQgetvalue(res, 0, 11)[0] == 't';
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
		c->elem_json = PQgetvalue(res, i, 6)[0] == 't';
		c->typid = (unsigned)strtoul(PQgetvalue(res, i, 8), NULL, 10);
		c->typmod = atoi(PQgetvalue(res, i, 9));
		c->delim = PQgetisnull(res, i, 10) || !PQgetvalue(res, i, 10)[0] ? ',' : PQgetvalue(res, i, 10)[0];
		c->no_copy = PQgetvalue(res, i, 12)[0] == 't';
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
	free(s->qualname);
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

bool schema_check_result(const struct table_schema *s, const PGresult *res, char *why, size_t whysz)
{
	int i, n = PQntuples(res), k;
	const struct schema_column *c;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 6 || n < 1) {
		snprintf(why, whysz, "the check returned no result");
		return false;
	}
	if (!s->exists || PQgetisnull(res, 0, 0) ||
	    (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10) != s->oid) {
		snprintf(why, whysz, "the name resolves to another relation now");
		return false;
	}
	if ((PQgetvalue(res, 0, 4)[0] == 't') != s->copy_ok) {
		snprintf(why, whysz, "its rules, row-level security or kind changed");
		return false;
	}
	if ((size_t)n != s->ncolumns && !(n == 1 && !s->ncolumns && PQgetisnull(res, 0, 1))) {
		snprintf(why, whysz, "its columns were added or dropped");
		return false;
	}
	for (i = 0; i < n && s->ncolumns; i++) {
		k = schema_find_column(s, PQgetvalue(res, i, 1));
		c = k < 0 ? NULL : &s->columns[k];
		if (!c || c->typid != (unsigned)strtoul(PQgetvalue(res, i, 2), NULL, 10) ||
		    c->typmod != atoi(PQgetvalue(res, i, 3))) {
			snprintf(why, whysz, "column \"%.100s\" was renamed or changed type", PQgetvalue(res, i, 1));
			return false;
		}
		if (c->no_copy != (PQgetvalue(res, i, 5)[0] == 't')) {
			snprintf(why, whysz, "column \"%.100s\" became or stopped being identity or generated",
				 PQgetvalue(res, i, 1));
			return false;
		}
	}
	return true;
}
