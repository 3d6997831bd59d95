/*
 * group.c — per-table accumulation and flush deadlines (see group.h).
 */
#include "group.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define COLSET_SWEEP_AT 64   /* a group sweeps its unheld colsets past this many */
#define GROUP_SWEEP_MIN 256  /* no sweep below this many groups */
#define GROUP_SWEEP_EVERY 1.0 /* seconds: groups that went idle since are freed this late at most */

static uint64_t group_hash(const char *schema, const char *table)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)(schema ? schema : ""); *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ (schema ? 1 : 2)) * 1099511628211ULL;
	for (p = (const unsigned char *)table; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static void group_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct group *g = w->data;

	group_make_ready(g->owner, g);
}

void group_registry_init(struct group_registry *reg, struct ev_loop *loop,
			 double max_delay, size_t max_rows, size_t max_bytes)
{
	memset(reg, 0, sizeof(*reg));
	reg->loop = loop;
	reg->nbuckets = 64;
	reg->sweep_at = GROUP_SWEEP_MIN;
	reg->buckets = pgc_calloc(reg->nbuckets, sizeof(*reg->buckets));
	reg->max_delay = max_delay;
	reg->max_rows = max_rows;
	reg->max_bytes = max_bytes;
}

static void colset_free(struct colset *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		free(cs->names[i]);
	free(cs->names);
	free(cs->col_index);
	free(cs);
}

void colset_release(struct colset *cs)
{
	cs->users--;
}

void conflict_release(struct conflict *c)
{
	c->users--;
}

struct conflict *group_conflict(struct group *g, struct conflict *parsed)
{
	struct conflict *c;

	for (c = g->conflicts; c; c = c->next)
		if (strcmp(c->canon, parsed->canon) == 0) {
			conflict_free(parsed);
			c->users++;
			return c;
		}
	c = pgc_malloc(sizeof(*c));
	*c = *parsed;
	memset(parsed, 0, sizeof(*parsed));
	c->users = 1;
	c->next = g->conflicts;
	g->conflicts = c;
	return c;
}

/* Free the on_conflict specs no row holds. */
static void conflicts_sweep(struct group *g)
{
	struct conflict *c, **pc = &g->conflicts;

	while ((c = *pc)) {
		if (c->users) {
			pc = &c->next;
			continue;
		}
		*pc = c->next;
		conflict_free(c);
		free(c);
	}
}

/* Free the colsets no row holds. */
static void colsets_sweep(struct group *g)
{
	struct colset *cs, **pcs = &g->colsets;

	while ((cs = *pcs)) {
		if (cs->users) {
			pcs = &cs->next;
			continue;
		}
		*pcs = cs->next;
		colset_free(cs);
		g->ncolsets--;
	}
	conflicts_sweep(g);
	/* the next sweep once the held ones doubled: O(1) per colset created */
	g->colsets_sweep_at = g->ncolsets * 2 > COLSET_SWEEP_AT ? g->ncolsets * 2 : COLSET_SWEEP_AT;
}

static void group_free(struct group_registry *reg, struct group *g)
{
	struct colset *cs, *next;

	ev_timer_stop(reg->loop, &g->deadline);
	for (cs = g->colsets; cs; cs = next) {
		next = cs->next;
		colset_free(cs);
	}
	while (g->conflicts) {
		struct conflict *c = g->conflicts;
		g->conflicts = c->next;
		conflict_free(c);
		free(c);
	}
	schema_free(g->tschema);
	table_stats_free(&g->stats);
	free(g->schema);
	free(g->table);
	free(g->display);
	free(g);
}

void group_registry_free(struct group_registry *reg)
{
	size_t i;

	for (i = 0; i < reg->nbuckets; i++) {
		struct group *g = reg->buckets[i], *next;
		for (; g; g = next) {
			next = g->hnext;
			group_free(reg, g);
		}
	}
	free(reg->buckets);
	memset(reg, 0, sizeof(*reg));
}

static void registry_grow(struct group_registry *reg)
{
	size_t n = reg->nbuckets * 2, i;
	struct group **b = pgc_calloc(n, sizeof(*b));

	for (i = 0; i < reg->nbuckets; i++) {
		struct group *g = reg->buckets[i], *next;
		for (; g; g = next) {
			size_t k = group_hash(g->schema, g->table) & (n - 1);
			next = g->hnext;
			g->hnext = b[k];
			b[k] = g;
		}
	}
	free(reg->buckets);
	reg->buckets = b;
	reg->nbuckets = n;
}

static bool same_name(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct group *group_get(struct group_registry *reg, const char *schema, const char *table)
{
	size_t k = group_hash(schema, table) & (reg->nbuckets - 1);
	struct group *g;
	struct buf disp;

	for (g = reg->buckets[k]; g; g = g->hnext)
		if (same_name(g->schema, schema) && strcmp(g->table, table) == 0)
			return g;
	g = pgc_calloc(1, sizeof(*g));
	g->schema = schema ? pgc_strdup(schema) : NULL;
	g->table = pgc_strdup(table);
	buf_init(&disp);
	if (schema)
		buf_printf(&disp, "%s.%s", schema, table);
	else
		buf_puts(&disp, table);
	g->display = pgc_strdup(buf_cstr(&disp));
	buf_free(&disp);
	g->colsets_sweep_at = COLSET_SWEEP_AT;
	g->owner = reg;
	ev_timer_init(&g->deadline, group_deadline_cb, 0., 0.);
	g->deadline.data = g;
	g->hnext = reg->buckets[k];
	reg->buckets[k] = g;
	if (++reg->count > reg->nbuckets)
		registry_grow(reg);
	return g;
}

static bool colset_is(const struct colset *cs, const char *const *names, size_t n)
{
	size_t i;

	if (cs->n != n)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(cs->names[i], names[i]) != 0)
			return false;
	return true;
}

struct colset *group_colset(struct group *g, const char *const *names, size_t n)
{
	struct colset *cs, **pcs;
	size_t i;

	for (pcs = &g->colsets; (cs = *pcs); pcs = &cs->next) {
		if (colset_is(cs, names, n)) {
			if (pcs != &g->colsets) { /* most recently used first */
				*pcs = cs->next;
				cs->next = g->colsets;
				g->colsets = cs;
			}
			cs->users++;
			return cs;
		}
	}
	if (g->ncolsets >= g->colsets_sweep_at)
		colsets_sweep(g);
	cs = pgc_calloc(1, sizeof(*cs));
	cs->users = 1;
	g->ncolsets++;
	cs->n = n;
	cs->names = pgc_calloc(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++)
		cs->names[i] = pgc_strdup(names[i]);
	cs->next = g->colsets;
	g->colsets = cs;
	return cs;
}

static void ready_push(struct group_registry *reg, struct group *g)
{
	if (g->ready)
		return;
	g->ready = true;
	g->ready_next = NULL;
	if (reg->ready_tail)
		reg->ready_tail->ready_next = g;
	else
		reg->ready_head = g;
	reg->ready_tail = g;
}

void group_make_ready(struct group_registry *reg, struct group *g)
{
	ev_timer_stop(reg->loop, &g->deadline);
	if (!g->nrows)
		return;
	ready_push(reg, g);
}

static bool group_full(const struct group_registry *reg, const struct group *g)
{
	return (reg->eager && !g->in_flight) || g->nrows >= reg->max_rows || g->nbytes >= reg->max_bytes;
}

void group_registry_set_eager(struct group_registry *reg, bool eager)
{
	reg->eager = eager;
}

/* Arm the deadline for the current oldest row (or make the group ready). */
static void group_arm_deadline(struct group_registry *reg, struct group *g)
{
	double left;

	ev_timer_stop(reg->loop, &g->deadline);
	if (!g->nrows || g->ready)
		return;
	if (group_full(reg, g)) {
		group_make_ready(reg, g);
		return;
	}
	left = g->head->accepted_at + reg->max_delay - ev_now(reg->loop);
	if (left <= 0) {
		group_make_ready(reg, g);
		return;
	}
	ev_timer_set(&g->deadline, left, 0.);
	ev_timer_start(reg->loop, &g->deadline);
}

void group_batch_started(struct group_registry *reg, struct group *g)
{
	(void)reg;
	g->in_flight++;
}

void group_batch_ended(struct group_registry *reg, struct group *g)
{
	g->in_flight--;
	if (g->nrows && !g->ready)
		group_arm_deadline(reg, g); /* eager: ready now that nothing of it is in flight */
}

void group_add_row(struct group_registry *reg, struct group *g, struct row *r)
{
	r->next = NULL;
	if (g->tail)
		g->tail->next = r;
	else
		g->head = r;
	g->tail = r;
	g->nrows++;
	g->nbytes += r->bytes;
	if (g->ready)
		return;
	if (group_full(reg, g))
		group_make_ready(reg, g);
	else if (g->nrows == 1)
		group_arm_deadline(reg, g);
}

void group_make_all_ready(struct group_registry *reg)
{
	size_t i;
	struct group *g;

	for (i = 0; i < reg->nbuckets; i++)
		for (g = reg->buckets[i]; g; g = g->hnext)
			if (g->nrows) {
				ev_timer_stop(reg->loop, &g->deadline);
				ready_push(reg, g);
			}
}

struct group *group_pop_ready(struct group_registry *reg)
{
	struct group **pg = &reg->ready_head, *g, *prev = NULL;

	while ((g = *pg)) {
		if (g->nrows && (g->executing || g->commit_held)) {
			prev = g;
			pg = &g->ready_next;
			continue;
		}
		*pg = g->ready_next;
		if (reg->ready_tail == g)
			reg->ready_tail = prev;
		g->ready = false;
		if (g->nrows)
			return g;
	}
	return NULL;
}

struct row **group_take_rows(struct group_registry *reg, struct group *g, size_t *n)
{
	size_t cap = g->nrows < reg->max_rows ? g->nrows : reg->max_rows, k = 0, bytes = 0;
	struct row **rows = pgc_malloc(cap * sizeof(*rows));

	while (g->head && k < cap && (k == 0 || bytes + g->head->bytes <= reg->max_bytes)) {
		struct row *r = g->head;
		g->head = r->next;
		r->next = NULL;
		bytes += r->bytes;
		rows[k++] = r;
	}
	if (!g->head)
		g->tail = NULL;
	g->nrows -= k;
	g->nbytes -= bytes;
	*n = k;
	group_arm_deadline(reg, g);
	return rows;
}

void group_return_rows(struct group_registry *reg, struct group *g, struct row **rows, size_t n)
{
	size_t i;

	for (i = n; i-- > 0;) {
		rows[i]->next = g->head;
		g->head = rows[i];
		if (!g->tail)
			g->tail = rows[i];
		g->nrows++;
		g->nbytes += rows[i]->bytes;
	}
	group_arm_deadline(reg, g);
}

void group_registry_reconfigure(struct group_registry *reg, double max_delay, size_t max_rows,
				size_t max_bytes, bool eager)
{
	size_t i;
	struct group *g;

	reg->max_delay = max_delay;
	reg->max_rows = max_rows;
	reg->max_bytes = max_bytes;
	reg->eager = eager;
	for (i = 0; i < reg->nbuckets; i++)
		for (g = reg->buckets[i]; g; g = g->hnext)
			group_arm_deadline(reg, g);
}

void group_foreach(struct group_registry *reg, void (*fn)(struct group *, void *), void *arg)
{
	size_t i;
	struct group *g, *next;

	for (i = 0; i < reg->nbuckets; i++)
		for (g = reg->buckets[i]; g; g = next) {
			next = g->hnext;
			fn(g, arg);
		}
}

void group_set_schema(struct group *g, struct table_schema *s)
{
	schema_free(g->tschema);
	g->tschema = s;
	g->schema_stale = false;
	g->schema_gen++;
}

bool group_colset_resolve(struct group *g, struct colset *cs)
{
	size_t i;

	if (cs->schema_gen != g->schema_gen) {
		if (!cs->col_index)
			cs->col_index = pgc_calloc(cs->n ? cs->n : 1, sizeof(int));
		cs->missing = -1;
		for (i = 0; i < cs->n; i++) {
			cs->col_index[i] = g->tschema->exists ? schema_find_column(g->tschema, cs->names[i]) : -1;
			if (cs->col_index[i] < 0 && cs->missing < 0)
				cs->missing = (int)i;
		}
		cs->schema_gen = g->schema_gen;
	}
	return cs->missing < 0;
}

static bool group_idle_and_unused(const struct group *g)
{
	return !g->nrows && !g->pending && !g->in_flight && !g->ready && !g->stats.rows_committed;
}

void group_sweep(struct group_registry *reg, double now)
{
	size_t i;

	if (reg->count < reg->sweep_at && now - reg->last_sweep < GROUP_SWEEP_EVERY)
		return;
	reg->last_sweep = now;
	for (i = 0; i < reg->nbuckets; i++) {
		struct group **pg = &reg->buckets[i], *g;
		while ((g = *pg)) {
			if (!group_idle_and_unused(g) || reg->count <= GROUP_SWEEP_MIN) {
				if (g->ncolsets > COLSET_SWEEP_AT)
					colsets_sweep(g);
				else
					conflicts_sweep(g);
				pg = &g->hnext;
				continue;
			}
			*pg = g->hnext;
			reg->count--;
			group_free(reg, g);
		}
	}
	reg->sweep_at = reg->count * 2 > GROUP_SWEEP_MIN ? reg->count * 2 : GROUP_SWEEP_MIN;
}

size_t group_registry_colsets(const struct group_registry *reg)
{
	size_t i, n = 0;
	const struct group *g;

	for (i = 0; i < reg->nbuckets; i++)
		for (g = reg->buckets[i]; g; g = g->hnext)
			n += g->ncolsets;
	return n;
}
