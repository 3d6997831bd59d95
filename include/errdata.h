/*
 * errdata.h — an error kept as data until its response renders it.
 *
 * A row's or a request's error is either PostgreSQL's (SQLSTATE and the
 * fields of its ErrorResponse) or the sidecar's own (a PC code,
 * PROTOCOL.md's table). It is stored here when it happens and rendered into
 * JSON once, by ack.c, when the response line is written; counters and logs
 * read the same fields, never the JSON text.
 */
#ifndef PGC_ERRDATA_H
#define PGC_ERRDATA_H

#include <stdbool.h>

#include <libpq-fe.h>

/* The sidecar's own error codes (PROTOCOL.md); PC_NONE: a PostgreSQL error. */
enum pc_code {
	PC_NONE = 0,
	PC_INVALID_JSON,          /* PC001 */
	PC_INVALID_REQUEST,       /* PC002 */
	PC_REQUEST_TOO_LARGE,     /* PC003 */
	PC_OVERLOADED,            /* PC004 */
	PC_SHUTTING_DOWN,         /* PC005 */
	PC_DATABASE_UNAVAILABLE,  /* PC006 */
	PC_COMMIT_UNKNOWN,        /* PC007 */
	PC_TABLE_NOT_ALLOWED,     /* PC008 */
	PC_UNKNOWN_OP,            /* PC009 */
	PC_CODES                  /* the number of codes, PC_NONE included */
};

struct errdata {
	char          code[6];    /* SQLSTATE or "PC00N"; "" while unset */
	enum pc_code  pc;         /* PC_NONE for PostgreSQL's errors */
	char         *message;    /* never NULL once set */
	char         *detail;     /* PostgreSQL's optional fields, or NULL */
	char         *hint;
	char         *column;
	char         *constraint;
};

/* "PC001" .. "PC009" ("" for PC_NONE). */
const char *pc_code_text(enum pc_code pc);

/* Is `e` set? */
static inline bool errdata_is_set(const struct errdata *e)
{
	return e->code[0] != '\0';
}

/* A sidecar error: code and a printf-style message. */
void errdata_set_pc(struct errdata *e, enum pc_code pc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error in PostgreSQL's shape made by the sidecar (e.g. 42703 for an unknown column). */
void errdata_set(struct errdata *e, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* PostgreSQL's error from a failed result (XX000 if it carries no SQLSTATE). */
void errdata_from_result(struct errdata *e, const PGresult *res);
void errdata_copy(struct errdata *dst, const struct errdata *src);
/* Free the fields and unset. */
void errdata_clear(struct errdata *e);

#endif /* PGC_ERRDATA_H */
