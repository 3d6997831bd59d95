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
 * column's value for every row. Columns whose type is an array, a domain,
 * or has no array type go as text[] and are cast (unnest would flatten a
 * 2-D array). Rows naming no columns: INSERT ... SELECT FROM generate_series.
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
 * Append the array literal holding value `vi` of each of the n rows.
 * `pg_array` converts JSON arrays to PostgreSQL arrays (array columns).
 */
void sqlbuild_array_param(struct buf *out, struct row *const *rows, size_t n,
			  size_t vi, bool pg_array);

/* The count parameter for a column-less insert: n as decimal text. */
void sqlbuild_count_param(struct buf *out, size_t n);

#endif /* PGC_SQLBUILD_H */
