/*
 * cli_describe.h — what the CLI asks the sidecar about a table, so that an
 * INSERT fails as psql's would before anything is sent:
 *
 *   - DEFAULT for a column that does not exist: 42703, column "x" of
 *     relation "t" does not exist (the column is left out of the request,
 *     so the sidecar would never see it);
 *   - DEFAULT for a column a view cannot take: 0A000, cannot insert into
 *     column "x" of view "v";
 *   - INSERT INTO t VALUES (...) without a column list: the values go to
 *     the table's columns in order; more values than columns is 42601.
 *
 * The sidecar's "describe" op answers the table's columns in attnum order
 * ({"op":"describe","table":"t"[,"schema":"s"]} -> "columns": [{"name",
 * "insertable", ...}]). Descriptions are kept for the session and asked
 * again when an INSERT into the table fails with 42703 or 42P01 (the
 * table changed). A sidecar without the op (PC009) describes nothing:
 * DEFAULT columns are then left out unchecked, as before, and a positional
 * INSERT is refused.
 */
#ifndef PGC_CLI_DESCRIBE_H
#define PGC_CLI_DESCRIBE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli_sql.h"

struct cli_session;

struct cli_column {
	char *name;
	bool  insertable;   /* pg_column_is_updatable: false for a view's computed column */
};

/* One described table, as the statement named it. */
struct cli_relation {
	char              *schema;   /* NULL when unqualified */
	char              *table;
	struct cli_column *cols;
	size_t             ncols;
};

struct cli_describe {
	struct cli_relation *rels;
	size_t               n;
	bool                 unsupported; /* the sidecar answered PC009 */
};

void cli_describe_init(struct cli_describe *d);
void cli_describe_free(struct cli_describe *d);

/* Forget a table's description (an INSERT into it failed with 42703/42P01). */
void cli_describe_forget(struct cli_describe *d, const char *schema, const char *table);

/* Parse a describe answer's line into rel's columns; false if it has none. */
bool cli_describe_parse(const char *line, size_t len, struct cli_relation *rel);
void cli_relation_free(struct cli_relation *rel);

enum cli_check {
	CLI_CHECK_OK = 0,   /* send it (a positional INSERT now has its columns) */
	CLI_CHECK_ERROR,    /* *err says why, as a statement error with a position */
	CLI_CHECK_FAILED,   /* reported already (the sidecar's error, a lost connection) */
};

/*
 * Check a parsed INSERT against its table's description (asking the sidecar
 * when the statement needs one: a DEFAULT, or no column list) and map a
 * positional INSERT's values to the table's columns.
 */
enum cli_check cli_describe_check(struct cli_session *s, struct cli_sql_insert *ins,
				  struct cli_sql_error *err);

#endif /* PGC_CLI_DESCRIBE_H */
