/*
 * cli_stats.c — \stats: the sidecar's stats JSON as tables (see cli_stats.h).
 */
#include "cli_stats.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsontext.h"

/* The raw JSON text of a member of the object text obj (NULL if absent). */
static const char *member_text(const char *obj, size_t len, const char *name, size_t *vlen)
{
	struct buf key;
	size_t pos = 0;
	const char *val, *found = NULL;

	buf_init(&key);
	while (jsontext_object_next(obj, len, &pos, &key, &val, vlen))
		if (strcmp(buf_cstr(&key), name) == 0) {
			found = val;
			break;
		}
	buf_free(&key);
	return found;
}

/* A cell holding text (not JSON). */
static void set_text_cell(struct cli_table *t, size_t row, size_t col, const char *text, size_t n)
{
	char *copy = pgc_strndup(text, n);

	cli_table_set_text(t, row, col, copy);
	free(copy);
}

static void stats_row(struct cli_table *t, const struct buf *name, const char *json, size_t len)
{
	size_t row = cli_table_add_row(t);

	set_text_cell(t, row, 0, name->data ? name->data : "", name->len);
	cli_table_set_json(t, row, 1, json, len);
}

/*
 * A histogram {"count":N,"sum":S,"buckets":{"<le>":cumulative,...}} as rows
 * name.count, name.sum, and name.p50/name.p99: the bound of the first
 * bucket holding that share of the observations ("<= 0.005").
 */
static void stats_histogram(struct cli_table *t, struct buf *name, const char *obj, size_t len)
{
	static const double shares[] = { 0.5, 0.99 };
	static const char *const labels[] = { ".p50", ".p99" };
	size_t pos, vlen, blen, k, base = name->len;
	const char *val, *buckets = NULL;
	double count = 0;
	struct buf key;

	buf_init(&key);
	for (pos = 0; jsontext_object_next(obj, len, &pos, &key, &val, &vlen);) {
		if (strcmp(buf_cstr(&key), "buckets") == 0) {
			buckets = val;
			blen = vlen;
			continue;
		}
		if (strcmp(buf_cstr(&key), "count") == 0)
			count = strtod(val, NULL);
		buf_printf(name, ".%s", buf_cstr(&key));
		stats_row(t, name, val, vlen);
		name->len = base;
	}
	for (k = 0; buckets && count > 0 && k < 2; k++) {
		char bound[96];
		for (pos = 0; jsontext_object_next(buckets, blen, &pos, &key, &val, &vlen);)
			if (strtod(val, NULL) >= shares[k] * count)
				break;
		snprintf(bound, sizeof(bound), "<= %s", buf_cstr(&key));
		buf_puts(name, labels[k]);
		stats_row(t, name, "", 0);
		set_text_cell(t, t->nrows - 1, 1, bound, strlen(bound));
		name->len = base;
	}
	buf_free(&key);
}

/* The members of a stats object as rows; nested objects as name.member. */
static void stats_counters(struct cli_table *t, struct buf *name, const char *obj, size_t len)
{
	size_t pos = 0, vlen, base = name->len;
	const char *val;
	struct buf key;

	buf_init(&key);
	while (jsontext_object_next(obj, len, &pos, &key, &val, &vlen)) {
		if (base)
			buf_putc(name, '.');
		buf_append(name, key.data ? key.data : "", key.len);
		if (vlen && val[0] == '{' && member_text(val, vlen, "buckets", &(size_t){ 0 }))
			stats_histogram(t, name, val, vlen);
		else if (vlen && val[0] == '{')
			stats_counters(t, name, val, vlen);
		else
			stats_row(t, name, val, vlen);
		name->len = base;
		buf_cstr(name);
	}
	buf_free(&key);
}

/* The per-table figures: one row per table, one column per figure. */
static void stats_tables(struct cli_table *t, const char *obj, size_t len)
{
	size_t pos = 0, vlen, pos2, v2len, row;
	const char *tab, *val;
	struct buf key;

	buf_init(&key);
	while (jsontext_object_next(obj, len, &pos, &key, &tab, &vlen)) {
		row = cli_table_add_row(t);
		set_text_cell(t, row, 0, key.data ? key.data : "", key.len);
		for (pos2 = 0; jsontext_object_next(tab, vlen, &pos2, &key, &val, &v2len);)
			cli_table_set_json(t, row, cli_table_column(t, buf_cstr(&key), true), val, v2len);
	}
	buf_free(&key);
}

void cli_stats_print(struct cli_session *s, const char *stats, size_t len)
{
	struct cli_table counters, tables;
	struct buf key, name;
	size_t pos = 0, vlen;
	const char *val;

	buf_init(&key);
	buf_init(&name);
	cli_table_init(&counters, 2);
	cli_table_set_header(&counters, 0, "counter");
	cli_table_set_header(&counters, 1, "value");
	cli_table_init(&tables, 1);
	cli_table_set_header(&tables, 0, "table");
	while (jsontext_object_next(stats, len, &pos, &key, &val, &vlen)) {
		buf_reset(&name);
		buf_append(&name, key.data ? key.data : "", key.len);
		if (strcmp(buf_cstr(&key), "tables") == 0 && vlen && val[0] == '{')
			stats_tables(&tables, val, vlen);
		else if (vlen && val[0] == '{' && member_text(val, vlen, "buckets", &(size_t){ 0 }))
			stats_histogram(&counters, &name, val, vlen);
		else if (vlen && val[0] == '{')
			stats_counters(&counters, &name, val, vlen);
		else
			stats_row(&counters, &name, val, vlen);
	}
	cli_session_print_table(s, &counters);
	cli_session_print_table(s, &tables);
	cli_table_free(&counters);
	cli_table_free(&tables);
	buf_free(&key);
	buf_free(&name);
}

