/*
 * metrics.h — the sidecar's figures for operators: GET /metrics in the
 * Prometheus text exposition format (0.0.4) on --metrics-listen, and the
 * same figures as the `stats` request's JSON.
 *
 * Both are rendered from one place (struct stats, the groups' table_stats,
 * the ledger, the flusher and the client set, read through struct
 * metrics_src), so a scrape and a `stats` answer taken at the same moment
 * agree. The series are listed in README "Operating".
 */
#ifndef PGC_METRICS_H
#define PGC_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "buf.h"
#include "client.h"
#include "config.h"
#include "flush.h"
#include "group.h"
#include "http.h"
#include "ledger.h"
#include "stats.h"

/* Where the figures come from (all read, never changed). */
struct metrics_src {
	struct ev_loop          *loop;
	const struct config     *cfg;
	const struct stats      *stats;
	struct group_registry   *groups;
	const struct ledger     *ledger;
	const struct flusher    *flusher;
	const struct client_set *clients;
	const char              *listen_address; /* the TCP listener's address, or NULL */
};

struct metrics {
	struct metrics_src  src;
	struct http_server  http;
	bool                listening;
};

/*
 * Serve GET /metrics on src->cfg->metrics_listen (nothing if unset). On
 * failure prints one line on stderr and returns false.
 */
bool metrics_start(struct metrics *m, const struct metrics_src *src);
void metrics_stop(struct metrics *m);
/* The bound address ("127.0.0.1:9187"), or NULL when off. */
const char *metrics_address(const struct metrics *m);

/* The whole exposition text. */
void metrics_render(const struct metrics *m, struct buf *out);

/* The `stats` response's "stats" member: ,"stats":{...} (PROTOCOL.md). */
void metrics_stats_json(const struct metrics *m, struct buf *out);

/* ---- exposition format writers (exposed for tests) ---- */

/* # HELP and # TYPE lines ("counter", "gauge", "histogram"). */
void expo_family(struct buf *out, const char *name, const char *type, const char *help);
/* Append name="value" to a label set (comma-separated, no braces); value escaped. */
void expo_label(struct buf *labels, const char *name, const char *value);
/* One sample line: name{labels} value; `labels` NULL or "" for none. */
void expo_sample(struct buf *out, const char *name, const char *labels, double value);
/* A number as the format wants it: +Inf, -Inf, NaN, or the shortest exact text. */
void expo_number(struct buf *out, double v);
/* A whole histogram family: cumulative _bucket{le} lines, _sum, _count. */
void expo_histogram(struct buf *out, const char *name, const char *help, const struct histogram *h);

/* ---- process_* series (what Prometheus client libraries export) ---- */

/* The figures of /proc/self/stat the process_* series report. */
struct proc_stat_figures {
	double cpu_seconds;     /* user + system CPU time (utime + stime) */
	double virtual_bytes;   /* vsize */
	double resident_bytes;  /* rss pages * page size */
	double start_time;      /* seconds since the epoch: boot time + starttime */
};

/*
 * Parse the text of /proc/self/stat (proc(5)): fields 14 and 15 (utime,
 * stime, in clock ticks), 22 (starttime, ticks since boot), 23 (vsize,
 * bytes) and 24 (rss, pages). The command name (field 2) may hold spaces
 * and parentheses, so fields are counted from its last ')'. `ticks` is
 * sysconf(_SC_CLK_TCK), `page` the page size, `boot_time` the btime of
 * /proc/stat. False if the text is malformed (out is then unchanged).
 */
bool metrics_parse_proc_stat(const char *text, long ticks, long page, double boot_time,
			     struct proc_stat_figures *out);

#endif /* PGC_METRICS_H */
