/*
 * cli_sql.h — the CLI's SQL: statement splitting, lexing and parsing of
 * INSERT into sidecar requests.
 *
 * Two parts:
 *   - the splitter finds where a statement ends (';' outside quotes,
 *     comments and parentheses, as psql does) in text that arrives line by
 *     line, and says what the text is inside (for the prompt);
 *   - the parser turns one statement
 *       INSERT INTO name [AS alias] [(col, ...)] VALUES (...), ...
 *           [ON CONFLICT ...] [RETURNING ...]
 *       INSERT INTO name DEFAULT VALUES [ON CONFLICT ...] [RETURNING ...]
 *     (without a column list, the values are mapped to the table's columns
 *     later, cli_sql_set_columns(), once the sidecar has described it)
 *     into a table name, a column list and, per tuple, each value as JSON
 *     text (strings decoded, numbers kept exact), following PostgreSQL's
 *     lexical rules. ON CONFLICT becomes the protocol's on_conflict: a
 *     target, (col, ...) or ON CONSTRAINT name, then DO NOTHING, or DO
 *     UPDATE SET col = EXCLUDED.col (set) and col = t.col + EXCLUDED.col
 *     (add; t the table's name, or its alias). Anything else is an error
 *     with PostgreSQL-style text and a position, never a crash.
 */
#ifndef PGC_CLI_SQL_H
#define PGC_CLI_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated. */
#define CLI_SQL_MAX_IDENT 63
/* PostgreSQL's limit on target list entries (MaxTupleAttributeNumber). */
#define CLI_SQL_MAX_COLUMNS 1664

/* What the splitter is inside at the end of the text scanned so far. */
enum cli_sql_state {
	CLI_SQL_TOP = 0,     /* plain SQL */
	CLI_SQL_QUOTE,       /* a '...' string */
	CLI_SQL_EQUOTE,      /* an E'...' string (backslash escapes) */
	CLI_SQL_DQUOTE,      /* a "..." identifier */
	CLI_SQL_DOLLAR,      /* a $tag$...$tag$ string */
	CLI_SQL_COMMENT,     /* a (possibly nested) block comment */
};

struct cli_sql_split {
	size_t             pos;       /* bytes of the text already scanned */
	enum cli_sql_state state;
	int                parens;    /* open parentheses */
	int                comments;  /* block comment nesting depth */
	size_t             tag_off;   /* the $tag$ that opened a dollar quote */
	size_t             tag_len;   /* its length, both dollars included */
	bool               nonblank;  /* something other than blanks and comments seen */
};

void cli_sql_split_init(struct cli_sql_split *sp);

/*
 * Scan text[sp->pos .. len). Returns true with *end just past the ';' that
 * ends the first statement; the caller then removes text[0 .. *end) and
 * calls cli_sql_split_init() again for the rest. Returns false when no
 * statement is complete yet (more lines are needed).
 */
bool cli_sql_split_next(struct cli_sql_split *sp, const char *text, size_t len, size_t *end);

/* psql's prompt character for the state: '=' '-' '\'' '"' '$' '*' '('. */
char cli_sql_split_prompt(const struct cli_sql_split *sp);

struct cli_sql_error {
	char code[6];     /* the SQLSTATE PostgreSQL would give: 42601, 0A000, ... */
	char message[512];
	char detail[256]; /* "" when there is none */
	char hint[256];   /* "" when there is none */
	long position;    /* byte offset in the statement, -1 when none */
};

/* One value of one tuple: JSON text in ins->json, or DEFAULT. */
struct cli_sql_value {
	size_t off;
	size_t len;       /* 0: DEFAULT (the column is left out of the row) */
};

/*
 * ON CONFLICT, as the protocol's on_conflict. Every list ends with a NULL
 * (as libpgcoalesce's struct pgc_on_conflict takes them); an empty list is
 * NULL itself.
 */
struct cli_sql_conflict {
	bool    present;     /* the statement has ON CONFLICT */
	bool    update;      /* DO UPDATE; false: DO NOTHING */
	char  **columns;     /* the target: ( col, ... ) */
	size_t  ncolumns;
	char   *constraint;  /* or ON CONSTRAINT name; neither: any conflict (DO NOTHING) */
	char  **set;         /* col = EXCLUDED.col */
	size_t  nset;
	char  **add;         /* col = t.col + EXCLUDED.col */
	size_t  nadd;
};

struct cli_sql_insert {
	char   *schema;              /* NULL when the name is unqualified */
	char   *table;
	char   *alias;               /* INSERT INTO t AS alias; NULL without */
	size_t  table_pos;           /* where the table's name starts in the statement */
	char  **columns;
	size_t  ncolumns;
	size_t *column_pos;          /* where each column's name starts */
	bool    positional;          /* VALUES without a column list: columns and
				      * ncolumns are empty until cli_sql_set_columns() */
	size_t  nvalues;             /* values per tuple (ncolumns, or as many as given) */
	size_t *value_pos;           /* positional: where tuple 1's values start */
	size_t  ntuples;
	struct cli_sql_value *values;/* ntuples x nvalues, tuple-major */
	size_t  values_cap;
	struct buf json;             /* the values' JSON text */
	char  **returning;           /* "*" alone for RETURNING * */
	size_t  nreturning;
	struct cli_sql_conflict conflict;
	struct buf notices;          /* NOTICE messages, one a line */
};

enum cli_sql_result {
	CLI_SQL_EMPTY = 0,  /* nothing but blanks, comments and ';' */
	CLI_SQL_OK,         /* *ins filled */
	CLI_SQL_ERROR,      /* *err filled */
};

void cli_sql_insert_init(struct cli_sql_insert *ins);
void cli_sql_insert_free(struct cli_sql_insert *ins);

/*
 * Parse one statement (text[len] need not be readable). `ins` must be
 * initialised; it is reset first. On CLI_SQL_ERROR, err->position points
 * at the offending token as PostgreSQL would.
 */
enum cli_sql_result cli_sql_parse(const char *text, size_t len, struct cli_sql_insert *ins,
				  struct cli_sql_error *err);

/* Does some tuple set a column to DEFAULT (a column left out of its row)? */
bool cli_sql_has_default(const struct cli_sql_insert *ins);

/*
 * Give a positional INSERT its target columns: the table's first nvalues
 * columns, in the table's order (names[0..n)). False, with psql's error in
 * err, when there are more values than columns (42601, at the first value
 * without one).
 */
bool cli_sql_set_columns(struct cli_sql_insert *ins, const char *const *names, size_t n,
			 struct cli_sql_error *err);

/*
 * The protocol request for tuple `tuple` of a parsed INSERT, without the
 * newline: {"id":<id_json>,"table":..,["schema":..,]"row":{..}[,"returning":[..]]
 * [,"on_conflict":{..}]}, its members in libpgcoalesce's order.
 */
void cli_sql_request(const struct cli_sql_insert *ins, size_t tuple, const char *id_json,
		     struct buf *out);

#endif /* PGC_CLI_SQL_H */
