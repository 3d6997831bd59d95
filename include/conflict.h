/*
 * conflict.h — an insert's `on_conflict` (docs/PROTOCOL.md): what to do
 * when the row conflicts with a unique index or constraint, as
 * INSERT … ON CONFLICT … does.
 *
 * Rows naming the same on_conflict share one spec per table (interned in
 * their group by its canonical text, like column sets), so the rows of a
 * batch that may go in one statement are those with the same columns, the
 * same RETURNING need and the same spec.
 */
#ifndef PGC_CONFLICT_H
#define PGC_CONFLICT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "jsontok.h"

enum conflict_do {
	CONFLICT_NOTHING = 0,   /* DO NOTHING */
	CONFLICT_UPDATE,        /* DO UPDATE SET … */
};

struct conflict {
	struct conflict *next;      /* in its group's list */
	size_t           users;     /* rows holding it */
	char            *canon;     /* canonical text: the interning key */
	enum conflict_do action;
	char           **target;    /* ON CONFLICT (cols): exact column names, or NULL */
	size_t           ntarget;
	char            *constraint;/* ON CONFLICT ON CONSTRAINT name, or NULL */
	char           **set;       /* col = EXCLUDED.col */
	size_t           nset;
	char           **add;       /* col = t.col + EXCLUDED.col */
	size_t           nadd;
};

/*
 * Parse the `on_conflict` object at token `obj` of `doc` into `out` (a
 * fresh struct, canon filled). On a malformed spec returns false with a
 * one-line reason in err (for PC002).
 */
bool conflict_parse(const struct jsontok_doc *doc, size_t obj, struct conflict *out,
		    char *err, size_t errsz);
void conflict_free(struct conflict *c);

/*
 * Must its rows go one statement each? DO NOTHING rows, and those with a
 * constraint target (whose columns the spec does not name): a statement
 * that did nothing for some of its rows returns no row for them, and
 * nothing else would tell which. The others (DO UPDATE on columns) go in
 * rounds, each key at most once per statement (batch.c).
 */
static inline bool conflict_per_row(const struct conflict *c)
{
	return c->action == CONFLICT_NOTHING || c->constraint != NULL;
}

/* Is column `name` among `list`? */
bool conflict_names_have(char *const *list, size_t n, const char *name);

#endif /* PGC_CONFLICT_H */
