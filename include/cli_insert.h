/*
 * cli_insert.h — one parsed INSERT statement run through the sidecar.
 *
 * Each tuple becomes one insert request, all of them pipelined; then the
 * outcome as psql prints it: each failed row's ERROR (with "CONTEXT:  row N
 * of M of the INSERT" in a multi-row statement), the RETURNING rows of the
 * committed tuples, and "INSERT 0 k" for the k rows committed. A row
 * reported with ERROR is not in the database, except PC007, whose report
 * says it may or may not be, like the rows a lost connection left without
 * an answer.
 */
#ifndef PGC_CLI_INSERT_H
#define PGC_CLI_INSERT_H

#include "cli_session.h"
#include "cli_sql.h"

void cli_insert_run(struct cli_session *s, const struct cli_sql_insert *ins);

#endif /* PGC_CLI_INSERT_H */
