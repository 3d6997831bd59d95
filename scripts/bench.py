#!/usr/bin/env python3
"""`make bench`: the sidecar against direct per-row INSERTs, side by side.

One private PostgreSQL (same settings for every contender), the demo table
from sql/demo.sql, and in one run:

  - direct per-row INSERTs with pgbench: 16, 64 and 256 clients, simple and
    prepared protocol (what an application does without the sidecar);
  - the sidecar driven by `pgcoalesce-cli bench`: 256 clients x 1 insert in
    flight (a drop-in for per-row code) and 64 clients x 32 in flight;
  - the ceiling: one connection inserting client-side rows 1000 per statement,
    with INSERT ... SELECT FROM unnest and with COPY (test/bench/ceiling.c).

Prints one table: rows/s, latency p50/p99 (per row for pgbench and the sidecar,
per 1000-row statement for the ceiling), and each sidecar figure as a ratio to
the best direct per-row figure of the same run. Nothing is asserted.

Environment: BENCH_SECONDS (default 10) per contender, BENCH_ROWS for the
ceiling (default 300000).

`scripts/bench.py --profile` (`make profile`) instead reports the sidecar's own
CPU cost: callgrind instructions per acked row, as the difference between a
run of PROFILE_ROWS (default 50000) rows and a run of 1000 rows, divided by
the difference in rows, so start-up and connection set-up do not count.
Instruction counts are repeatable where timings are not.
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CEILING_ROWS = int(os.environ.get("BENCH_ROWS", "300000"))
PG_SETTINGS = ["-c max_connections=300", "-c shared_buffers=256MB"]
PER_ROW_SQL = ("\\set d random(0, 999)\n"
               "INSERT INTO events (device_id, kind, value, payload) "
               "VALUES (:d, 'bench', 1.5, '{\"n\": 1}');\n")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pg_bindir():
    dirs = sorted((d for d in os.listdir("/usr/lib/postgresql")),
                  key=lambda v: [int(x) for x in v.split(".")])
    return os.path.join("/usr/lib/postgresql", dirs[-1], "bin")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


class Bench:
    def __init__(self, tmp):
        self.tmp = tmp
        self.pgdir = os.path.join(tmp, "pg")
        self.dsn = None
        self.results = []   # (name, rows_per_sec, p50_ms, p99_ms, kind)
        self.batches = []   # (name, batches, mean rows, mean flush ms, flush p50 ms, flush p99 ms)
        self.ceiling_runs = []  # (name, [rows/s of each run])

    def psql(self, sql):
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql])

    def fresh_table(self):
        self.psql("TRUNCATE events RESTART IDENTITY")
        self.psql("VACUUM ANALYZE events")
        self.psql("CHECKPOINT")

    def start_db(self):
        env = dict(os.environ, PGCLUSTER_PORT="5499")
        run([os.path.join(ROOT, "scripts/pgcluster.sh"), "start", self.pgdir] + PG_SETTINGS, env=env)
        self.dsn = run([os.path.join(ROOT, "scripts/pgcluster.sh"), "dsn", self.pgdir],
                       env=env).stdout.strip()
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn,
             "-f", os.path.join(ROOT, "sql/demo.sql")])

    def stop_db(self):
        subprocess.run([os.path.join(ROOT, "scripts/pgcluster.sh"), "stop", self.pgdir],
                       env=dict(os.environ, PGCLUSTER_PORT="5499"))

    # ---- contenders ----

    def pgbench(self, clients, mode):
        name = f"direct per-row, pgbench -M {mode}, {clients} clients"
        log(f"bench: {name} ({SECONDS}s)")
        self.fresh_table()
        script = os.path.join(self.tmp, "per_row.sql")
        with open(script, "w") as f:
            f.write(PER_ROW_SQL)
        logdir = tempfile.mkdtemp(dir=self.tmp)
        out = run([os.path.join(pg_bindir(), "pgbench"), "-n", "-f", script, "-M", mode,
                   "-c", str(clients), "-j", "2", "-T", str(SECONDS), "-l",
                   "--log-prefix", os.path.join(logdir, "tx"), self.dsn]).stdout
        tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
        lat = []
        for fn in os.listdir(logdir):
            with open(os.path.join(logdir, fn)) as f:
                lat.extend(int(line.split()[2]) / 1000.0 for line in f)
        shutil.rmtree(logdir)
        self.results.append((name, tps, pct(lat, 50), pct(lat, 99), "direct"))

    def sidecar(self, clients, pipeline):
        name = f"pgcoalesce, {clients} clients x {pipeline} in flight"
        log(f"bench: {name} ({SECONDS}s)")
        self.fresh_table()
        sock = os.path.join(self.tmp, "pgc.sock")
        err = open(os.path.join(self.tmp, "sidecar.log"), "a")
        daemon = subprocess.Popen([os.path.join(ROOT, "bin/pgcoalesce"), "--dsn", self.dsn,
                                   "--socket", sock, "--log-level", "warn"], stderr=err)
        try:
            wait_socket(sock)
            out = run([os.path.join(ROOT, "bin/pgcoalesce-cli"), "-s", sock, "bench",
                       "--clients", str(clients), "--pipeline", str(pipeline),
                       "--duration", str(SECONDS)]).stdout
            st = sidecar_stats(sock)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
        rate, p50, p99 = parse_cli_bench(out)
        self.results.append((name, rate, p50, p99, "sidecar"))
        fl, rows = st["flush_duration_seconds"], st["batch_rows"]
        self.batches.append((name, rows["count"], rows["sum"] / max(rows["count"], 1),
                             1000 * fl["sum"] / max(fl["count"], 1),
                             1000 * hist_quantile(fl, 0.5), 1000 * hist_quantile(fl, 0.99)))

    def ceiling(self, mode, runs=3):
        """The best a client can do: one connection, 1000 rows per statement.
        The median of `runs` runs (a short run here varies by a third)."""
        name = f"ceiling: 1 connection, {mode}, 1000 rows/statement"
        log(f"bench: {name} ({runs} x {CEILING_ROWS} rows)")
        figures = []
        for _ in range(runs):
            self.fresh_table()
            out = run([os.path.join(ROOT, "bin/bench-ceiling"), self.dsn, mode, str(CEILING_ROWS)]).stdout
            f = dict(kv.split("=") for kv in out.split()[1:])
            figures.append((float(f["rows_per_sec"]), float(f["p50_ms"]), float(f["p99_ms"])))
        figures.sort()
        rate, p50, p99 = figures[len(figures) // 2]
        self.results.append((name, rate, p50, p99, "ceiling"))
        self.ceiling_runs.append((name, [r for r, _, _ in figures]))

    # ---- report ----

    def report(self):
        best_direct = max(r[1] for r in self.results if r[4] == "direct")
        unnest = next(r[1] for r in self.results if r[4] == "ceiling" and "unnest" in r[0])
        width = max(len(r[0]) for r in self.results)
        print()
        print(f"{'contender':<{width}}  {'rows/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'vs best direct':>14}  {'vs unnest ceiling':>17}")
        print("-" * (width + 66))
        for name, rate, p50, p99, kind in self.results:
            ratio = f"{rate / best_direct:.2f}x" if kind != "direct" else ""
            ceil = f"{100 * rate / unnest:.0f}%" if kind == "sidecar" else ""
            print(f"{name:<{width}}  {rate:>9.0f}  {p50:>8.2f}  {p99:>8.2f}  {ratio:>14}  {ceil:>17}")
        print()
        print("sidecar batches (from its stats: a flush is one transaction, BEGIN to COMMIT;")
        print("p50/p99 are the upper bounds of the histogram buckets they fall in):")
        for name, n, mean_rows, mean_ms, f50, f99 in self.batches:
            print(f"  {name}: {n} batches, {mean_rows:.0f} rows each on average, "
                  f"flush mean {mean_ms:.2f} ms, p50 <= {f50:g} ms, p99 <= {f99:g} ms")
        for name, rates in self.ceiling_runs:
            print(f"  {name}: runs at {', '.join(f'{r:.0f}' for r in rates)} rows/s (median shown)")
        print()
        print(f"best direct per-row: {best_direct:.0f} rows/s; latency: per row "
              f"(per statement for the ceiling); {SECONDS}s per contender, "
              f"PostgreSQL settings: {' '.join(PG_SETTINGS)} (fsync and synchronous_commit on)")


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def wait_socket(path, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sidecar did not start on {path}")


def sidecar_stats(sock):
    """The sidecar's `stats` object (PROTOCOL.md), read over its socket."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b'{"op":"stats","id":1}\n')
    line = s.makefile("rb").readline()
    s.close()
    return json.loads(line)["stats"]


def hist_quantile(h, q):
    """Upper bound of the bucket holding quantile q of a stats histogram."""
    want = q * h["count"]
    for bound, n in sorted(((float(b), n) for b, n in h["buckets"].items()), key=lambda x: x[0]):
        if n >= want:
            return bound
    return float("inf")


def parse_cli_bench(out):
    """rows/s and p50/p99 (ms) from `pgcoalesce-cli bench` output."""
    rate = float(re.search(r"([0-9.]+)\s*rows/s", out).group(1))
    p50 = float(re.search(r"p50[^0-9]*([0-9.]+)", out).group(1))
    p99 = float(re.search(r"p99[^0-9]*([0-9.]+)", out).group(1))
    return rate, p50, p99


def callgrind_run(bench, rows):
    """Total instructions of the daemon for one run of `rows` rows."""
    bench.fresh_table()
    sock = os.path.join(bench.tmp, "prof.sock")
    out = os.path.join(bench.tmp, f"callgrind.{rows}")
    err = open(os.path.join(bench.tmp, "profile.log"), "a")
    daemon = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               os.path.join(ROOT, "bin/pgcoalesce"), "--dsn", bench.dsn,
                               "--socket", sock, "--log-level", "warn"], stderr=err)
    try:
        wait_socket(sock, timeout=60)
        run([os.path.join(ROOT, "bin/pgcoalesce-cli"), "-s", sock, "bench",
             "--clients", "16", "--pipeline", "32", "--rows", str(rows)])
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in callgrind output")


def profile(bench):
    rows = int(os.environ.get("PROFILE_ROWS", "50000"))
    log(f"profile: callgrind, 16 clients x 32 in flight, 1000 and {rows} rows")
    small = callgrind_run(bench, 1000)
    large = callgrind_run(bench, rows)
    per_row = (large - small) / (rows - 1000)
    print(f"sidecar CPU: {per_row:.0f} instructions per acked row "
          f"(callgrind; {large} instructions for {rows} rows, {small} for 1000)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--profile":
        tmp = tempfile.mkdtemp(prefix="pgcoalesce-profile-")
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
            os.chmod(tmp, 0o755)
        bench = Bench(tmp)
        try:
            bench.start_db()
            profile(bench)
        finally:
            bench.stop_db()
            shutil.rmtree(tmp, ignore_errors=True)
        return
    tmp = tempfile.mkdtemp(prefix="pgcoalesce-bench-")
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        os.chmod(tmp, 0o755)
    bench = Bench(tmp)
    try:
        bench.start_db()
        for mode in ("simple", "prepared"):
            for clients in (16, 64, 256):
                bench.pgbench(clients, mode)
        bench.sidecar(256, 1)
        bench.sidecar(64, 32)
        bench.ceiling("unnest")
        bench.ceiling("copy")
        bench.report()
    finally:
        bench.stop_db()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
