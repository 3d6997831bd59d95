/*
 * schema.h — the column types of a table, from the catalog.
 *
 * The coalesced INSERT needs each column's type to build its array
 * parameter. A table's schema is fetched (the catalog query below, run by a
 * batch on its connection) when first needed, when a row names a column the
 * cache does not know, and when PostgreSQL reports that the table changed.
 *
 * Every batch also checks, in its own transaction and after its INSERTs
 * (whose locks keep the table as it is until COMMIT), that the name still
 * resolves to the cached relation and that its columns still have the
 * cached types, and that COPY still writes it as INSERT does
 * (schema_check_query, schema_check_result): the INSERT casts
 * values to cached type names, so a column whose type changed must never be
 * written through the old type. A mismatch rolls the batch back, the schema
 * is fetched again and the batch runs again. The check takes no lock and
 * sorts nothing.
 */
#ifndef PGC_SCHEMA_H
#define PGC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

struct schema_column {
	char    *name;      /* exact column name */
	char    *type;      /* the type values are cast to: the column's type, or for a
	                     * domain its base type (the INSERT's assignment then applies
	                     * the domain and every typmod as a direct INSERT would),
	                     * schema-qualified, without typmod */
	bool     via_text;  /* pass as text[] and cast (array, composite, or no array type) */
	bool     is_array;  /* an array type: JSON arrays become PostgreSQL arrays */
	bool     elem_json; /* ... of json or jsonb: each element is one JSON value */
	char     delim;     /* ... whose elements its literal separates with this (',', ';' for box) */
	unsigned typid;     /* the column's declared type and typmod, for the check */
	int      typmod;
	bool     no_copy;   /* identity ALWAYS or generated: COPY would write what INSERT refuses */
};

struct table_schema {
	bool                  exists;    /* false: the relation was not found */
	unsigned              oid;       /* the relation */
	char                 *nspname;   /* resolved schema */
	char                 *relname;   /* resolved table */
	char                 *qualname;  /* "nspname.relname", the table's label in stats and metrics */
	struct schema_column *columns;   /* in attnum order */
	size_t                ncolumns;
	double                fetched_at;/* ev_now() when the result arrived */
	bool                  copy_ok;   /* COPY writes it as INSERT does: a table without
	                                  * rules or row-level security (schema.c) */
};

/* The catalog query; $1 schema (NULL for search_path), $2 table. */
extern const char schema_catalog_query[];

/*
 * The check each batch runs after its INSERTs: $1 schema (NULL for
 * search_path), $2 table, as for the catalog query. One row per column of
 * whatever the name resolves to now (or one row of NULLs if nothing).
 */
extern const char schema_check_query[];

/*
 * The `describe` request's query; $1, $2 as for the catalog query. One row
 * per column in attnum order (one with a NULL name for a relation without
 * columns, none when the name resolves to nothing): "schema.table", the
 * column's name, format_type, whether a plain INSERT can write it
 * (pg_column_is_updatable), and "identity always", "identity by default",
 * "stored" (generated) or NULL.
 */
extern const char schema_describe_query[];

/* Build a schema from the catalog query's result (NULL on a malformed result). */
struct table_schema *schema_from_result(const PGresult *res, double fetched_at);
void schema_free(struct table_schema *s);

/*
 * Does the check query's result describe exactly the cached relation and
 * columns? If not, `why` says what differs.
 */
bool schema_check_result(const struct table_schema *s, const PGresult *res, char *why, size_t whysz);

/* Index of the column named `name`, or -1. */
int schema_find_column(const struct table_schema *s, const char *name);

#endif /* PGC_SCHEMA_H */
