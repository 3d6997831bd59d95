/*
 * cli_bench.h — `pgcoalesce-cli bench`: a load generator for the sidecar.
 *
 * C client connections on one libev loop, each keeping K insert requests in
 * flight (ids are the slot numbers 0..K-1, so out-of-order acks are fine),
 * for N rows in total or S seconds. Measures every ack's latency (request
 * queued -> ack read) and prints rows/s, acked ok/failed and latency
 * p50/p99/max; a live progress line on stderr when it is a terminal.
 * scripts/bench.py (`make bench`) parses this output.
 */
#ifndef PGC_CLI_BENCH_H
#define PGC_CLI_BENCH_H

/*
 * argv[0] is "bench". Exit status: 0 when every row was acked ok, 1 when
 * some failed or got no answer, 2 for a bad option or an unreachable socket.
 */
int cli_bench_main(int argc, char **argv, const char *socket_path);

#endif /* PGC_CLI_BENCH_H */
