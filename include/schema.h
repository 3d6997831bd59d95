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
	char *type;         /* format_type(): e.g. "integer", "numeric(10,2)", "text[]" */
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
};

/* The catalog query; $1 schema (NULL for search_path), $2 table. */
extern const char schema_catalog_query[];

/* Build a schema from the catalog query's result (NULL on a malformed result). */
struct table_schema *schema_from_result(const PGresult *res, double fetched_at);
void schema_free(struct table_schema *s);

/* Index of the column named `name`, or -1. */
int schema_find_column(const struct table_schema *s, const char *name);

#endif /* PGC_SCHEMA_H */
