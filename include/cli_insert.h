/*
 * cli_insert.h — one parsed INSERT statement run through the sidecar.
 *
 * Each tuple becomes one insert request, all of them pipelined; then the
 * outcome as psql prints it: each failed row's ERROR (with "CONTEXT:  row N
 * of M of the INSERT" in a multi-row statement), the RETURNING rows of the
 * committed tuples, and "INSERT 0 k" for the k rows committed that
 * inserted or updated (psql's count for ON CONFLICT: a row that did
 * nothing is not counted, nor is a keyed row the sidecar had written
 * before, which a NOTICE counts). A row reported with ERROR is not in the
 * database, except PC007, whose report says it may or may not be, like the
 * rows a lost connection left without an answer.
 *
 * ON CONFLICT and idempotency keys (the session's \key) go only to a
 * sidecar whose ping lists them (one that ignored them would write plain
 * inserts): otherwise the statement is refused, nothing sent.
 */
#ifndef PGC_CLI_INSERT_H
#define PGC_CLI_INSERT_H

#include "cli_session.h"
#include "cli_sql.h"

void cli_insert_run(struct cli_session *s, const struct cli_sql_insert *ins);

#endif /* PGC_CLI_INSERT_H */
