/*
 * stats.h — counters since start, reported by the `stats` request.
 */
#ifndef PGC_STATS_H
#define PGC_STATS_H

#include <stdint.h>

#include "buf.h"

struct stats {
	uint64_t rows_received;
	uint64_t rows_committed;
	uint64_t rows_failed;
	uint64_t batches_committed;
	uint64_t batches_failed;
	uint64_t retries;
	uint64_t in_doubt_resolved;
	uint64_t clients_total;
};

#endif /* PGC_STATS_H */
