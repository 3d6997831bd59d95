/*
 * schema.h — the column types of a table, from the catalog.
 *
 * The coalesced INSERT needs each column's type to build its array
 * parameter. A table's schema is fetched once (the catalog query below, run
 * by a flush on its connection) and refetched when a row names a column the
 * cache does not know, or PostgreSQL reports that the table changed.
 */
#ifndef PGC_SCHEMA_H
#define PGC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

struct schema_column {
	char *name;         /* exact column name */
	char *type;         /* schema-qualified type name without typmod, e.g. pg_catalog.int4:
	                     * the INSERT applies the column's own typmod, so a cached
	                     * typmod can never round or truncate a value */
	bool  via_text;     /* pass as text[] and cast (array, domain, or no array type) */
	bool  is_array;     /* an array type: JSON arrays become PostgreSQL arrays */
};

struct table_schema {
	bool                  exists;    /* false: the relation was not found */
	char                 *nspname;   /* resolved schema */
	char                 *relname;   /* resolved table */
	struct schema_column *columns;
	size_t                ncolumns;
	double                fetched_at;/* ev_now() when the query was sent */
	char                 *fingerprint;/* md5 of names, type oids and typmods */
};

/* The catalog query; $1 schema (NULL for search_path), $2 table. */
extern const char schema_catalog_query[];

/*
 * The check each batch runs after locking the table and before inserting:
 * $1 the quoted table name, $2 the cached fingerprint. It fails (division
 * by zero, or 42P01) unless the columns are still exactly those cached, so
 * a batch never inserts with stale types; the table lock it runs under
 * keeps them so until COMMIT.
 */
extern const char schema_check_query[];

/* Build a schema from the catalog query's result (NULL on a malformed result). */
struct table_schema *schema_from_result(const PGresult *res, double fetched_at);
void schema_free(struct table_schema *s);

/* Index of the column named `name`, or -1. */
int schema_find_column(const struct table_schema *s, const char *name);

#endif /* PGC_SCHEMA_H */
