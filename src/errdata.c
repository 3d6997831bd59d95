/*
 * errdata.c — errors as data (see errdata.h).
 */
#include "errdata.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const char *const pc_texts[PC_CODES] = {
	"", "PC001", "PC002", "PC003", "PC004", "PC005", "PC006", "PC007", "PC008", "PC009",
};

const char *pc_code_text(enum pc_code pc)
{
	return (unsigned)pc < PC_CODES ? pc_texts[pc] : "";
}

static char *dup_or_null(const char *s)
{
	return s ? pgc_strdup(s) : NULL;
}

static void errdata_vset(struct errdata *e, const char *code, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	errdata_clear(e);
	snprintf(e->code, sizeof(e->code), "%s", code);
	e->message = pgc_strdup(msg);
}

void errdata_set_pc(struct errdata *e, enum pc_code pc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errdata_vset(e, pc_code_text(pc), fmt, ap);
	va_end(ap);
	e->pc = pc;
}

void errdata_set(struct errdata *e, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errdata_vset(e, sqlstate, fmt, ap);
	va_end(ap);
}

void errdata_from_result(struct errdata *e, const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	errdata_clear(e);
	snprintf(e->code, sizeof(e->code), "%s", code && strlen(code) == 5 ? code : "XX000");
	e->message = pgc_strdup(msg ? msg : PQresultErrorMessage(res));
	e->detail = dup_or_null(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	e->hint = dup_or_null(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	e->column = dup_or_null(PQresultErrorField(res, PG_DIAG_COLUMN_NAME));
	e->constraint = dup_or_null(PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME));
}

void errdata_copy(struct errdata *dst, const struct errdata *src)
{
	errdata_clear(dst);
	memcpy(dst->code, src->code, sizeof(dst->code));
	dst->pc = src->pc;
	dst->message = dup_or_null(src->message);
	dst->detail = dup_or_null(src->detail);
	dst->hint = dup_or_null(src->hint);
	dst->column = dup_or_null(src->column);
	dst->constraint = dup_or_null(src->constraint);
}

void errdata_clear(struct errdata *e)
{
	free(e->message);
	free(e->detail);
	free(e->hint);
	free(e->column);
	free(e->constraint);
	memset(e, 0, sizeof(*e));
}
