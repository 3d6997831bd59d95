/*
 * sqlbuild.h — the coalesced INSERT and its array parameters.
 *
 * For rows naming columns (a, b) of table s.t, one statement:
 *
 *   INSERT INTO "s"."t" ("a","b")
 *   SELECT c1, c2::integer[] FROM unnest($1::integer[], $2::text[]) AS u(c1, c2)
 *   [RETURNING *]
 *
 * one parameter per column, each a PostgreSQL array literal holding that
 * column's value for every row. A domain column's values are cast to the
 * domain's base type (the INSERT's assignment then checks the domain and
 * applies typmods as a direct INSERT does); columns whose type is an array,
 * a composite or has no array type go as text[] and are cast (unnest would
 * flatten a 2-D array, and expand a composite into its fields). Rows naming no columns: INSERT ... SELECT FROM generate_series.
 * Identifiers go through PQescapeIdentifier; values are never in the SQL.
 */
#ifndef PGC_SQLBUILD_H
#define PGC_SQLBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "group.h"
#include "row.h"
#include "schema.h"

/*
 * Statement text for rows of `cs`; col_index[i] is the schema column of
 * cs->names[i]. Returns false if PQescapeIdentifier failed.
 */
bool sqlbuild_insert(struct buf *sql, PGconn *pg, const struct table_schema *s,
		     const struct colset *cs, const int *col_index, bool returning);

/*
 * Append the array literal holding value `vi` of each of the n rows, for
 * column `col`: JSON arrays become PostgreSQL arrays for an array column
 * (one element per JSON value for json[] and jsonb[]).
 */
void sqlbuild_array_param(struct buf *out, struct row *const *rows, size_t n,
			  size_t vi, const struct schema_column *col);

/* The count parameter for a column-less insert: n as decimal text. */
void sqlbuild_count_param(struct buf *out, size_t n);

#endif /* PGC_SQLBUILD_H */
