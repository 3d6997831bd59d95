/*
 * sqlbuild.h — the coalesced INSERT and its array parameters.
 *
 * For rows naming columns (a, b) of table s.t, one statement:
 *
 *   INSERT INTO "s"."t" ("a","b")
 *   SELECT c1, c2::integer[] FROM ROWS FROM (pg_catalog.unnest($1::integer[]),
 *                                          pg_catalog.unnest($2::text[])) AS u(c1, c2)
 *   [RETURNING *]
 *
 * one parameter per column, each a PostgreSQL array literal holding that
 * column's value for every row. A domain column's values are cast to the
 * domain's base type (the INSERT's assignment then checks the domain and
 * applies typmods as a direct INSERT does); columns whose type is an array,
 * a composite or has no array type go as text[] and are cast (unnest would
 * flatten a 2-D array, and expand a composite into its fields). Rows naming no columns: INSERT ... SELECT FROM generate_series.
 * Identifiers go through PQescapeIdentifier; values are never in the SQL.
 *
 * COPY (--write-path copy): rows that need neither RETURNING, an upsert nor
 * a key, of a table COPY writes as INSERT does (schema.h: copy_ok, and no
 * column no_copy), may go as
 *
 *   COPY "s"."t" ("a","b") FROM STDIN
 *
 * fed one text-format line per row: each value the text it would have in
 * the array parameter, escaped for COPY, NULL as \N. Each value then goes
 * through the column's input function as a direct INSERT's literal does.
 */
#ifndef PGC_SQLBUILD_H
#define PGC_SQLBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "conflict.h"
#include "group.h"
#include "row.h"
#include "schema.h"

/* What else the statement does besides inserting its rows. */
struct sqlbuild_opts {
	bool                   returning; /* some row asked for RETURNING data */
	const struct conflict *conflict;  /* ON CONFLICT … (conflict.h), or NULL */
	bool                   keyed;     /* some row has an idempotency key (keys.h) */
};

/*
 * Statement text for rows of `cs`; col_index[i] is the schema column of
 * cs->names[i]. Returns false if PQescapeIdentifier failed.
 *
 * With a conflict spec, the rows are inserted in their order (WITH
 * ORDINALITY … ORDER BY) under the alias pgcoalesce_t, and the statement
 * returns one row per row it inserted or updated: first whether it
 * inserted ((xmax = 0): a row this statement updated carries its
 * transaction in xmax), then, if RETURNING was asked for, every column.
 *
 * Keyed: two more parameters after the columns' ($1 … $n): $n+1, the
 * rows' keys as text[] (NULL for a row without one), and $n+2, the
 * attempt's token; only rows without a key, or whose key this attempt
 * stored in pgcoalesce.keys (keys.h), are written, in their order.
 */
bool sqlbuild_insert(struct buf *sql, PGconn *pg, const struct table_schema *s,
		     const struct colset *cs, const int *col_index, const struct sqlbuild_opts *o);

/*
 * Append the array literal holding value `vi` of each of the n rows, for
 * column `col`: JSON arrays become PostgreSQL arrays for an array column
 * (one element per JSON value for json[] and jsonb[]).
 */
void sqlbuild_array_param(struct buf *out, struct row *const *rows, size_t n,
			  size_t vi, const struct schema_column *col);

/* COPY of the columns of `cs` into the table. Returns false if PQescapeIdentifier failed. */
bool sqlbuild_copy(struct buf *sql, PGconn *pg, const struct table_schema *s, const struct colset *cs);

/* Append the COPY data of the n rows: value vi of each in column s->columns[col_index[vi]]. */
void sqlbuild_copy_data(struct buf *out, struct row *const *rows, size_t n,
			const struct table_schema *s, const int *col_index, size_t ncol);

/* The keys parameter of a keyed statement: each row's key, NULL where it has none. */
void sqlbuild_key_param(struct buf *out, struct row *const *rows, size_t n);

/* The count parameter for a column-less insert: n as decimal text. */
void sqlbuild_count_param(struct buf *out, size_t n);

#endif /* PGC_SQLBUILD_H */
