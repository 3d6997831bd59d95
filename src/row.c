/*
 * row.c — freeing a row (rows are built by request.c, completed by ledger.c).
 */
#include "row.h"

#include <stdlib.h>

#include "group.h"

void row_free(struct row *r)
{
	size_t i;

	if (!r)
		return;
	if (r->colset)
		colset_release(r->colset);
	if (r->conflict)
		conflict_release(r->conflict);
	for (i = 0; i < r->n_returning; i++)
		free(r->returning[i]);
	free(r->returning);
	buf_free(&r->returned);
	errdata_clear(&r->error);
	free(r);
}
