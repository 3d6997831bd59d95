/*
 * cli_stats.h — \stats: the sidecar's stats answer (PROTOCOL.md "stats") as
 * two tables in the session's output format: the counters, one a row
 * (nested figures as name.member, histograms as count, sum and the p50/p99
 * bucket bounds), then one row per table with its figures as columns.
 */
#ifndef PGC_CLI_STATS_H
#define PGC_CLI_STATS_H

#include <stddef.h>

#include "cli_session.h"

/* Print the "stats" object (its JSON text). */
void cli_stats_print(struct cli_session *s, const char *stats, size_t len);

#endif /* PGC_CLI_STATS_H */
