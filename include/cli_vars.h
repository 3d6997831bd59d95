/*
 * cli_vars.h — the CLI's variables, as psql's (\set, -v NAME=VALUE).
 *
 * Variables are text. A few have a meaning: ON_ERROR_STOP and QUIET (read
 * as booleans), and the ones the CLI sets after each INSERT: ROW_COUNT,
 * ERROR, SQLSTATE, LAST_ERROR_MESSAGE, LAST_ERROR_SQLSTATE. SQL text gets
 * psql's interpolation outside quotes and comments: :name (the value as
 * is), :'name' (a quoted literal), :"name" (a quoted identifier),
 * :{?name} (TRUE or FALSE: is it set?); an unknown name is left alone.
 * Meta-command arguments are split into words as psql splits them.
 */
#ifndef PGC_CLI_VARS_H
#define PGC_CLI_VARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

struct cli_var {
	char *name;
	char *value;
};

struct cli_vars {
	struct cli_var *v;   /* sorted by name */
	size_t          n;
};

void cli_vars_init(struct cli_vars *vs);
void cli_vars_free(struct cli_vars *vs);

/* The value of `name`, NULL when unset. */
const char *cli_vars_get(const struct cli_vars *vs, const char *name);

/* Set (value non-NULL) or unset (NULL) a variable. */
void cli_vars_set(struct cli_vars *vs, const char *name, const char *value);

/* A variable read as a boolean as psql reads one (on/off, true/false, 1/0,
 * yes/no, prefixes); false when unset. *ok (may be NULL) is false when the
 * value is not a boolean. */
bool cli_vars_bool(const struct cli_vars *vs, const char *name, bool *ok);

/* Parse a psql boolean ("on", "t", "1", "yes", ...). */
bool cli_parse_bool(const char *v, bool *out);

/* Letters, digits and underscores (psql's valid variable names). */
bool cli_vars_valid_name(const char *name);

/* Every variable as psql's \set lists them: NAME = 'value'. */
void cli_vars_print(const struct cli_vars *vs, FILE *f);

/* `sql` with variables interpolated (see the top of this file) into out. */
void cli_vars_interpolate(const struct cli_vars *vs, const char *sql, size_t len, struct buf *out);

/*
 * Split the arguments of a meta-command into words (at most max): blanks
 * separate them; '...' quotes (with '' and backslash escapes), :name,
 * :'name' and :"name" interpolate. Each word is malloc'd; returns the count.
 */
size_t cli_vars_words(const struct cli_vars *vs, const char *args, char **words, size_t max);

#endif /* PGC_CLI_VARS_H */
