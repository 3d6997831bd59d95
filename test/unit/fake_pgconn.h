/*
 * fake_pgconn.h — drive the batch machine with scripted results (see
 * fake_pgconn.c, which replaces src/pgconn.c in bin/test-unit).
 */
#ifndef PGC_FAKE_PGCONN_H
#define PGC_FAKE_PGCONN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pgconn.h"

/* A command a job queued, not yet answered. */
struct fake_cmd {
	struct pgconn *pc;
	int            tag;
	size_t         arg;
	char          *sql;   /* "SYNC" for a sync point */
	char          *param1;/* its first parameter's value (a COPY's: its data), or NULL */
	bool           script;/* a step of a script (pgconn_send_script) */
};

/* Results to answer with (freed once delivered). */
PGresult *fake_result_ok(const char *cmd_status);
PGresult *fake_result_sync(void);
PGresult *fake_result_aborted(void);
PGresult *fake_result_error(const char *sqlstate, const char *message);
/* ntuples rows of nfields text values (row-major; NULL for SQL NULL). */
PGresult *fake_result_rows(int nfields, int ntuples, const char *const *values);

/* Commands waiting for an answer, the oldest first. */
size_t fake_pgconn_pending(void);
const struct fake_cmd *fake_pgconn_peek(void);
/* Answer the oldest command with `res` (through ops->on_result); false if none waits. */
bool fake_pgconn_answer(PGresult *res);
/* A lost connection comes back (IDLE again). */
void fake_pgconn_up(struct pgconn *pc);
/* Forget every command and result (between tests). */
void fake_pgconn_reset(void);

#endif /* PGC_FAKE_PGCONN_H */
