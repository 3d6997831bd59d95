/*
 * metrics.c — GET /metrics and the `stats` JSON, from the same figures
 * (see metrics.h).
 */
#include "metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "jsontext.h"
#include "log.h"

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* PC codes a request can be refused with before a row is accepted. */
static const int rejected_codes[] = { 1, 2, 3, 4, 5, 8, 9 };

/* ---- exposition format ---- */

static void expo_escaped(struct buf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(out, "\\\\");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else if (*s == '"' && quote)
			buf_puts(out, "\\\"");
		else
			buf_putc(out, *s);
	}
}

void expo_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s ", name);
	expo_escaped(out, help, false);
	buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void expo_label(struct buf *labels, const char *name, const char *value)
{
	if (labels->len)
		buf_putc(labels, ',');
	buf_printf(labels, "%s=\"", name);
	expo_escaped(labels, value, true);
	buf_putc(labels, '"');
}

void expo_number(struct buf *out, double v)
{
	char tmp[40];
	int prec;

	if (isnan(v)) {
		buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		buf_printf(out, "%.0f", v);
		return;
	}
	for (prec = 1; prec < 17; prec++) { /* the shortest text that reads back exactly */
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
	buf_puts(out, tmp);
}

void expo_sample(struct buf *out, const char *name, const char *labels, double value)
{
	buf_puts(out, name);
	if (labels && *labels)
		buf_printf(out, "{%s}", labels);
	buf_putc(out, ' ');
	expo_number(out, value);
	buf_putc(out, '\n');
}

void expo_histogram(struct buf *out, const char *name, const char *help, const struct histogram *h)
{
	uint64_t cum = 0;
	size_t i;

	expo_family(out, name, "histogram", help);
	for (i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		buf_printf(out, "%s_bucket{le=\"", name);
		expo_number(out, i < h->nbounds ? h->bounds[i] : INFINITY);
		buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	buf_printf(out, "%s_sum ", name);
	expo_number(out, h->sum);
	buf_printf(out, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

/* ---- per-table views ---- */

/* A table's figures, groups naming the same table merged (see collect_tables). */
struct table_view {
	const char        *name;      /* see collect_tables */
	uint64_t           received, committed, failed, pending;
	struct code_count *codes;     /* failed by SQLSTATE, sorted */
	size_t             ncodes;
};

struct table_views {
	struct table_view *v;         /* sorted by name */
	size_t             n;
	bool               resolved;  /* named as resolved, else as written */
};

/* The most tables reported one by one; the rest are merged as "(other)". */
#define MAX_TABLES 1000

static void collect_group(struct group *g, void *arg)
{
	struct table_views *tv = arg;
	struct table_view *v;

	if (!g->pending && !g->stats.rows_received && !g->stats.rows_committed && !g->stats.rows_failed)
		return;
	tv->v = pgc_realloc(tv->v, (tv->n + 1) * sizeof(*tv->v));
	v = &tv->v[tv->n++];
	memset(v, 0, sizeof(*v));
	v->name = tv->resolved && g->tschema && g->tschema->exists ? g->tschema->qualname : g->display;
	v->received = g->stats.rows_received;
	v->committed = g->stats.rows_committed;
	v->failed = g->stats.rows_failed;
	v->pending = g->pending;
	if (g->stats.nfailed) {
		v->codes = pgc_malloc(g->stats.nfailed * sizeof(*v->codes));
		memcpy(v->codes, g->stats.failed, g->stats.nfailed * sizeof(*v->codes));
		v->ncodes = g->stats.nfailed;
	}
}

static int view_cmp(const void *a, const void *b)
{
	return strcmp(((const struct table_view *)a)->name, ((const struct table_view *)b)->name);
}

static int code_cmp(const void *a, const void *b)
{
	return strcmp(((const struct code_count *)a)->code, ((const struct code_count *)b)->code);
}

/* Add b's figures into a; b's codes are freed. */
static void view_merge(struct table_view *a, struct table_view *b)
{
	size_t k;

	a->received += b->received;
	a->committed += b->committed;
	a->failed += b->failed;
	a->pending += b->pending;
	for (k = 0; k < b->ncodes; k++)
		code_counts_add(&a->codes, &a->ncodes, b->codes[k].code, strlen(b->codes[k].code), b->codes[k].n);
	free(b->codes);
	b->codes = NULL;
	b->ncodes = 0;
}

/*
 * Every group with rows, merged by name and sorted. GET /metrics names a
 * table as clients write it: a series' label must be the same from its
 * first row on, and the database may not be reachable to resolve it then.
 * The `stats` request (PROTOCOL.md) names it as resolved, "schema.table"
 * ("events" and "public.events" merged), as written until it could be.
 * Names point into the groups: use before the loop runs again.
 */
static void collect_tables(struct group_registry *reg, struct table_views *out, bool resolved)
{
	size_t i, n = 0;

	out->v = NULL;
	out->n = 0;
	out->resolved = resolved;
	group_foreach(reg, collect_group, out);
	if (!out->n)
		return;
	qsort(out->v, out->n, sizeof(*out->v), view_cmp);
	for (i = 0; i < out->n; i++) {
		if (n && strcmp(out->v[n - 1].name, out->v[i].name) == 0) {
			view_merge(&out->v[n - 1], &out->v[i]);
		} else if (n == MAX_TABLES) {
			out->v[n - 1].name = "(other)";
			view_merge(&out->v[n - 1], &out->v[i]);
		} else {
			out->v[n++] = out->v[i];
		}
	}
	out->n = n;
	for (i = 0; i < n; i++)
		if (out->v[i].ncodes > 1)
			qsort(out->v[i].codes, out->v[i].ncodes, sizeof(*out->v[i].codes), code_cmp);
}

static void tables_free(struct table_views *tv)
{
	size_t i;

	for (i = 0; i < tv->n; i++)
		free(tv->v[i].codes);
	free(tv->v);
	tv->v = NULL;
	tv->n = 0;
}

/* Failures by SQLSTATE class (first two characters), summed over tables; sorted. */
static void failed_by_class(const struct table_views *tv, struct code_count **out, size_t *n)
{
	size_t i, k;

	*out = NULL;
	*n = 0;
	for (i = 0; i < tv->n; i++)
		for (k = 0; k < tv->v[i].ncodes; k++)
			code_counts_add(out, n, tv->v[i].codes[k].code, strlen(tv->v[i].codes[k].code) >= 2 ? 2 : 0,
					tv->v[i].codes[k].n);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), code_cmp);
}

/* ---- the page ---- */

/* A family of one unlabelled sample. */
static void family_value(struct buf *out, const char *name, const char *type, const char *help,
			 double v)
{
	expo_family(out, name, type, help);
	expo_sample(out, name, NULL, v);
}

/* ---- process_* series ---- */

bool metrics_parse_proc_stat(const char *text, long ticks, long page, double boot_time,
			     struct proc_stat_figures *out)
{
	/* proc(5)'s field numbers, from 1; field 3 (the state) follows the last ')' */
	enum { F_UTIME = 14, F_STIME = 15, F_START = 22, F_VSIZE = 23, F_RSS = 24 };
	long long v[F_RSS + 1] = { 0 };
	const char *p = strrchr(text, ')');
	char *end;
	int field;

	if (!p || p[1] != ' ' || ticks <= 0 || page <= 0)
		return false;
	p += 2;
	if (!*p || *p == ' ')
		return false;
	p += strcspn(p, " ");           /* the state: one letter */
	for (field = 4; field <= F_RSS; field++) {
		if (*p != ' ')
			return false;
		p++;
		v[field] = strtoll(p, &end, 10);  /* some fields (nice, priority) may be negative */
		if (end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
			return false;
		p = end;
	}
	if (v[F_UTIME] < 0 || v[F_STIME] < 0 || v[F_START] < 0 || v[F_VSIZE] < 0 || v[F_RSS] < 0)
		return false;
	out->cpu_seconds = (double)(v[F_UTIME] + v[F_STIME]) / (double)ticks;
	out->virtual_bytes = (double)v[F_VSIZE];
	out->resident_bytes = (double)v[F_RSS] * (double)page;
	out->start_time = boot_time + (double)v[F_START] / (double)ticks;
	return true;
}

/* A small file (under /proc) into buf, NUL-terminated; false if unreadable or empty. */
static bool read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return len > 0;
}

/* The boot time, seconds since the epoch: the btime line of /proc/stat. */
static bool read_boot_time(double *out)
{
	FILE *f = fopen("/proc/stat", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0)
		found = sscanf(line, "btime %lf", out) == 1;
	free(line);
	fclose(f);
	return found;
}

/* Entries of /proc/self/fd (the directory's own descriptor included, as
 * Prometheus client libraries count it). */
static bool count_open_fds(double *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	*out = (double)n;
	return true;
}

/*
 * The process collector's series, named and described as Prometheus client
 * libraries export them (so stock dashboards and alerts work). A figure that
 * cannot be read (no /proc) is left out rather than reported as 0.
 */
static void render_process(struct buf *out)
{
	struct proc_stat_figures pf;
	struct rlimit rl;
	char text[2048];
	double boot = 0, fds;
	bool have_stat = read_small_file("/proc/self/stat", text, sizeof(text)) && read_boot_time(&boot) &&
			 metrics_parse_proc_stat(text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot, &pf);

	if (have_stat)
		family_value(out, "process_cpu_seconds_total", "counter",
			     "Total user and system CPU time spent in seconds.", pf.cpu_seconds);
	if (count_open_fds(&fds))
		family_value(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		family_value(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
			     rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	if (!have_stat)
		return;
	family_value(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		     pf.virtual_bytes);
	family_value(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
		     pf.resident_bytes);
	family_value(out, "process_start_time_seconds", "gauge",
		     "Start time of the process since unix epoch in seconds.", pf.start_time);
}

/* ---- the page ---- */

enum table_figure { FIG_RECEIVED, FIG_COMMITTED, FIG_PENDING };

static void family_per_table(struct buf *out, const struct table_views *tv, const char *name,
			     const char *type, const char *help, enum table_figure fig)
{
	struct buf labels;
	size_t i;

	buf_init(&labels);
	expo_family(out, name, type, help);
	for (i = 0; i < tv->n; i++) {
		const struct table_view *v = &tv->v[i];
		buf_reset(&labels);
		expo_label(&labels, "table", v->name);
		expo_sample(out, name, buf_cstr(&labels),
			    (double)(fig == FIG_RECEIVED ? v->received : fig == FIG_COMMITTED ? v->committed : v->pending));
	}
	buf_free(&labels);
}

static void family_rows_failed(struct buf *out, const struct table_views *tv)
{
	static const char name[] = "pgcoalesce_rows_failed_total";
	struct buf labels;
	char cls[3];
	size_t i, k;

	buf_init(&labels);
	expo_family(out, name, "counter",
		    "Rows acked with an error, by table, SQLSTATE class and SQLSTATE (PC: the sidecar's own)");
	for (i = 0; i < tv->n; i++)
		for (k = 0; k < tv->v[i].ncodes; k++) {
			const char *code = tv->v[i].codes[k].code;
			buf_reset(&labels);
			snprintf(cls, sizeof(cls), "%.2s", code);
			expo_label(&labels, "table", tv->v[i].name);
			expo_label(&labels, "class", *code ? cls : "unknown");
			expo_label(&labels, "code", *code ? code : "unknown");
			expo_sample(out, name, buf_cstr(&labels), (double)tv->v[i].codes[k].n);
		}
	buf_free(&labels);
}

static void family_rejected(struct buf *out, const struct stats *st)
{
	static const char name[] = "pgcoalesce_requests_rejected_total";
	char labels[32];
	size_t i;

	expo_family(out, name, "counter",
		    "Request lines refused before a row was accepted (invalid, too large, overloaded, ...), by PC code");
	for (i = 0; i < sizeof(rejected_codes) / sizeof(rejected_codes[0]); i++) {
		snprintf(labels, sizeof(labels), "code=\"PC%03d\"", rejected_codes[i]);
		expo_sample(out, name, labels, (double)st->rejected[rejected_codes[i]]);
	}
}

static void render_rows(struct buf *out, const struct table_views *tv)
{
	family_per_table(out, tv, "pgcoalesce_rows_received_total", "counter",
			 "Rows accepted into a table's group", FIG_RECEIVED);
	family_per_table(out, tv, "pgcoalesce_rows_committed_total", "counter",
			 "Rows acked ok (committed)", FIG_COMMITTED);
	family_rows_failed(out, tv);
	family_per_table(out, tv, "pgcoalesce_table_pending_rows", "gauge",
			 "Rows accepted and not yet acked, by table", FIG_PENDING);
}

static void render_batches(struct buf *out, const struct metrics_src *src)
{
	const struct stats *st = src->stats;

	family_value(out, "pgcoalesce_batches_committed_total", "counter",
		     "Batches whose transaction committed (some of their rows may have failed on their own)",
		     (double)st->batches_committed);
	family_value(out, "pgcoalesce_batches_failed_total", "counter",
		     "Batches none of whose rows committed", (double)st->batches_failed);
	family_value(out, "pgcoalesce_batches_retried_total", "counter",
		     "Batches that ended after at least one retry", (double)st->batches_retried);
	family_value(out, "pgcoalesce_retries_total", "counter",
		     "Batch attempts retried after a transient failure or a lost connection",
		     (double)st->retries);
	family_value(out, "pgcoalesce_in_doubt_resolved_total", "counter",
		     "Commits in doubt (connection lost during COMMIT) resolved with pg_xact_status",
		     (double)st->in_doubt_resolved);
	family_value(out, "pgcoalesce_copy_statements_total", "counter",
		     "COPY statements that ran without error (--write-path copy)",
		     (double)st->copy_statements);
	family_value(out, "pgcoalesce_copy_failed_total", "counter",
		     "COPY statements that failed (a row's error: the batch goes row by row with INSERT)",
		     (double)st->copy_failed);
	family_value(out, "pgcoalesce_batches_in_flight", "gauge",
		     "Batches started and not yet ended", (double)flush_in_flight(src->flusher));
}

static void render_keys(struct buf *out, const struct metrics_src *src)
{
	const struct stats *st = src->stats;

	family_value(out, "pgcoalesce_rows_duplicate_total", "counter",
		     "Keyed rows acked ok as duplicates (their idempotency key was already stored)",
		     (double)st->rows_duplicate);
	family_value(out, "pgcoalesce_keys_stored", "gauge",
		     "Rows of pgcoalesce.keys at the last pruning step (exact below 100000, else "
		     "PostgreSQL's estimate)", (double)st->keys_stored);
	family_value(out, "pgcoalesce_keys_pruned_total", "counter",
		     "Idempotency keys deleted past --key-retention", (double)st->keys_pruned);
}

static void render_state(struct buf *out, const struct metrics_src *src)
{
	const struct stats *st = src->stats;
	int up = flush_db_up(src->flusher);
	struct buf labels;

	family_value(out, "pgcoalesce_pending_rows", "gauge", "Rows accepted and not yet acked",
		     (double)src->ledger->pending_rows);
	family_value(out, "pgcoalesce_max_pending_rows", "gauge", "The --max-pending-rows limit",
		     (double)src->cfg->max_pending_rows);
	family_value(out, "pgcoalesce_clients_connected", "gauge", "Client connections open",
		     (double)src->clients->n);
	family_value(out, "pgcoalesce_tcp_clients_connected", "gauge",
		     "Client connections open through the TCP listener (--listen)", (double)src->clients->n_tcp);
	family_value(out, "pgcoalesce_tcp_listening", "gauge", "1 if the TCP listener (--listen) is on",
		     src->listen_address ? 1 : 0);
	family_value(out, "pgcoalesce_client_connections_total", "counter",
		     "Client connections accepted", (double)src->clients->total);
	family_value(out, "pgcoalesce_db_connections", "gauge", "Database connections configured (--connections)",
		     (double)src->cfg->connections);
	family_value(out, "pgcoalesce_db_connections_up", "gauge", "Database connections up",
		     (double)up);
	family_value(out, "pgcoalesce_db_up", "gauge", "1 if at least one database connection is up",
		     up > 0 ? 1 : 0);
	expo_family(out, "pgcoalesce_config_reloads_total", "counter", "SIGHUP reloads of the --config file, by result");
	expo_sample(out, "pgcoalesce_config_reloads_total", "result=\"ok\"", (double)st->config_reloads);
	expo_sample(out, "pgcoalesce_config_reloads_total", "result=\"error\"", (double)st->config_reload_errors);
	family_value(out, "pgcoalesce_config_last_reload_successful", "gauge",
		     "0 if the last reload failed (the previous configuration stays)", st->config_last_reload_ok);
	buf_init(&labels);
	expo_label(&labels, "version", PGC_VERSION);
	expo_family(out, "pgcoalesce_build_info", "gauge", "The running version");
	expo_sample(out, "pgcoalesce_build_info", buf_cstr(&labels), 1);
	buf_free(&labels);
	family_value(out, "pgcoalesce_start_time_seconds", "gauge", "Start time, seconds since the epoch",
		     st->started_at);
}

void metrics_render(const struct metrics *m, struct buf *out)
{
	const struct metrics_src *src = &m->src;
	struct table_views tv;

	collect_tables(src->groups, &tv, false);
	render_rows(out, &tv);
	family_rejected(out, src->stats);
	render_batches(out, src);
	render_keys(out, src);
	render_state(out, src);
	expo_histogram(out, "pgcoalesce_batch_rows", "Rows per batch (one transaction)", &src->stats->batch_rows);
	expo_histogram(out, "pgcoalesce_flush_duration_seconds",
		       "Seconds from a batch taking its rows to their acks, retries included",
		       &src->stats->flush_seconds);
	expo_histogram(out, "pgcoalesce_ack_latency_seconds",
		       "Seconds from a row's acceptance to its ack", &src->stats->ack_seconds);
	render_process(out);
	tables_free(&tv);
}

/* ---- the stats JSON ---- */

static void json_codes(struct buf *out, const char *key, const struct code_count *c, size_t n)
{
	size_t i;

	buf_printf(out, ",\"%s\":{", key);
	for (i = 0; i < n; i++)
		buf_printf(out, "%s\"%s\":%llu", i ? "," : "", c[i].code, (unsigned long long)c[i].n);
	buf_putc(out, '}');
}

static void json_histogram(struct buf *out, const char *key, const struct histogram *h)
{
	uint64_t cum = 0;
	size_t i;

	buf_printf(out, ",\"%s\":{\"count\":%llu,\"sum\":", key, (unsigned long long)h->count);
	expo_number(out, h->sum);
	buf_puts(out, ",\"buckets\":{");
	for (i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		buf_puts(out, i ? ",\"" : "\"");
		expo_number(out, i < h->nbounds ? h->bounds[i] : INFINITY);
		buf_printf(out, "\":%llu", (unsigned long long)cum);
	}
	buf_puts(out, "}}");
}

static void json_tables(struct buf *out, const struct table_views *tv)
{
	size_t i;

	buf_puts(out, ",\"tables\":{");
	for (i = 0; i < tv->n; i++) {
		const struct table_view *v = &tv->v[i];
		if (i)
			buf_putc(out, ',');
		jsontext_put_string(out, v->name, strlen(v->name));
		buf_printf(out, ":{\"rows_committed\":%llu,\"rows_failed\":%llu,\"pending_rows\":%llu,"
			   "\"rows_received\":%llu", (unsigned long long)v->committed,
			   (unsigned long long)v->failed, (unsigned long long)v->pending,
			   (unsigned long long)v->received);
		json_codes(out, "rows_failed_by_code", v->codes, v->ncodes);
		buf_putc(out, '}');
	}
	buf_putc(out, '}');
}

void metrics_stats_json(const struct metrics *m, struct buf *out)
{
	const struct metrics_src *src = &m->src;
	const struct stats *st = src->stats;
	int up = flush_db_up(src->flusher);
	struct table_views tv;
	struct code_count *classes;
	size_t nclasses, i;

	collect_tables(src->groups, &tv, true);
	buf_printf(out, ",\"stats\":{\"rows_received\":%llu,\"rows_committed\":%llu,"
		   "\"rows_failed\":%llu,\"batches_committed\":%llu,\"batches_failed\":%llu,"
		   "\"retries\":%llu,\"pending_rows\":%zu,\"clients_connected\":%zu,"
		   "\"db_connections_up\":%d,\"in_doubt_resolved\":%llu,\"batches_retried\":%llu,"
		   "\"batches_in_flight\":%zu,\"db_up\":%d,\"clients_total\":%llu,\"uptime_seconds\":%.3f,"
		   "\"groups\":%zu,\"colsets\":%zu",
		   (unsigned long long)st->rows_received, (unsigned long long)st->rows_committed,
		   (unsigned long long)st->rows_failed, (unsigned long long)st->batches_committed,
		   (unsigned long long)st->batches_failed, (unsigned long long)st->retries,
		   src->ledger->pending_rows, src->clients->n, up,
		   (unsigned long long)st->in_doubt_resolved, (unsigned long long)st->batches_retried,
		   flush_in_flight(src->flusher), up > 0, (unsigned long long)src->clients->total,
		   ev_now(src->loop) - st->started_at, src->groups->count,
		   group_registry_colsets(src->groups));
	buf_printf(out, ",\"rows_duplicate\":%llu,\"keys_stored\":%lld,\"keys_pruned\":%llu",
		   (unsigned long long)st->rows_duplicate, (long long)st->keys_stored,
		   (unsigned long long)st->keys_pruned);
	buf_printf(out, ",\"copy_statements\":%llu,\"copy_failed\":%llu",
		   (unsigned long long)st->copy_statements, (unsigned long long)st->copy_failed);
	buf_printf(out, ",\"clients_connected_tcp\":%zu,\"listen\":", src->clients->n_tcp);
	if (src->listen_address)
		jsontext_put_string(out, src->listen_address, strlen(src->listen_address));
	else
		buf_puts(out, "null");
	failed_by_class(&tv, &classes, &nclasses);
	json_codes(out, "rows_failed_by_class", classes, nclasses);
	free(classes);
	buf_puts(out, ",\"requests_rejected\":{");
	for (i = 0; i < sizeof(rejected_codes) / sizeof(rejected_codes[0]); i++)
		buf_printf(out, "%s\"PC%03d\":%llu", i ? "," : "", rejected_codes[i],
			   (unsigned long long)st->rejected[rejected_codes[i]]);
	buf_putc(out, '}');
	json_histogram(out, "batch_rows", &st->batch_rows);
	json_histogram(out, "flush_duration_seconds", &st->flush_seconds);
	json_histogram(out, "ack_latency_seconds", &st->ack_seconds);
	json_tables(out, &tv);
	buf_putc(out, '}');
	tables_free(&tv);
}

/* ---- the endpoint ---- */

static int metrics_handler(void *arg, const char *path, struct buf *body, const char **content_type)
{
	struct metrics *m = arg;

	if (strcmp(path, "/metrics") != 0)
		return 404;
	metrics_render(m, body);
	*content_type = EXPO_CONTENT_TYPE;
	return 200;
}

bool metrics_start(struct metrics *m, const struct metrics_src *src)
{
	const char *spec = src->cfg->metrics_listen;
	char host[256], err[512] = "expected HOST:PORT";
	long port;

	memset(m, 0, sizeof(*m));
	m->src = *src;
	if (!spec || !*spec)
		return true;
	if (!config_split_listen(spec, host, sizeof(host), &port) ||
	    !http_listen(&m->http, src->loop, host, port, metrics_handler, m, err, sizeof(err))) {
		fprintf(stderr, "pgcoalesce: --metrics-listen %s: %s\n", spec, err);
		return false;
	}
	m->listening = true;
	return true;
}

void metrics_stop(struct metrics *m)
{
	if (m->listening)
		http_close(&m->http);
	m->listening = false;
}

const char *metrics_address(const struct metrics *m)
{
	return m->listening ? m->http.listen.address : NULL;
}
