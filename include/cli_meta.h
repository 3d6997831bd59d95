/*
 * cli_meta.h — the CLI's meta-commands (a line starting with '\'), as psql's
 * where they apply:
 *
 *   \q \? \echo \qecho \i \conninfo \timing
 *   \ping \flush \stats                     the sidecar
 *   \x \a \t \f \pset \o                    output (cli_table.h)
 *   \set \unset                             variables (cli_vars.h)
 *   \watch [i=]SEC [c=]COUNT                run the last statement, \stats,
 *                                           \ping or \flush again every SEC
 *                                           seconds, COUNT times or until Ctrl-C
 */
#ifndef PGC_CLI_META_H
#define PGC_CLI_META_H

#include <stddef.h>

#include "cli_session.h"

/* Run one meta-command line (it starts with '\'). */
void cli_meta_run(struct cli_session *s, const char *line, size_t len);

#endif /* PGC_CLI_META_H */
