#!/usr/bin/env python3
"""`make bench`: what the sidecar costs a database owner, against the
alternatives, measured in one run on one private PostgreSQL.

Contenders, one after the other on the demo table of sql/demo.sql (each starts
from an emptied, vacuumed table after a CHECKPOINT):

  - direct per-row INSERTs with pgbench: 16, 64 and 256 clients, simple and
    prepared protocol (what an application does without the sidecar);
  - the sidecar driven by `pgcoalesce-cli bench`: 256 clients x 1 insert in
    flight (a drop-in for per-row code) and 64 clients x 32 in flight, each
    with default options (INSERT ... unnest) and with `--write-path copy`,
    and 256 x 1 with `--io-uring off` (one system call per read and per
    send, what a kernel or container without io_uring gets), with
    `--sched-batch off`, and with both (SIDECARS
    below; a contender may add daemon options, and
    `--sidecar 'CxK [OPTION...]'` adds one from the command line, e.g.
    `make bench BENCH_ARGS="--sidecar '64x32 --connections 1'"`);
  - client-side batches, what a careful team writes itself
    (test/bench/ceiling.c): INSERT ... SELECT FROM unnest with typed array
    parameters, text COPY and binary COPY, on 1 connection and on 2 (two
    statements in flight, as the sidecar's two connections), at 1000 rows per
    statement and at the average batch size each sidecar contender formed
    (read from its `stats`: batch_rows sum / count). The median of
    BENCH_CEILING_RUNS runs (default 3) of BENCH_ROWS rows each.

The I/O floor under the closed loop (issue 12 item 5): bin/bench-ackfloor
(test/bench/ackfloor.c) answers every line ok with no JSON decoding and no
database, one read and one send per row (the sidecar's I/O with --io-uring off), under
the same `pgcoalesce-cli bench --clients 256 --pipeline 1`; its CPU per row
answered is printed beside the sidecar's in the targets. Not a contender.

Upserts (issue 13), a section each for `update set` (a device's last seen:
SET seen = EXCLUDED.seen, kind = EXCLUDED.kind) and `add` (a counter: SET
hits = devices.hits + EXCLUDED.hits), on the devices table of sql/demo.sql:
10,000 device ids drawn Zipf-distributed (pgbench's random_zipfian(1, 10000,
1.1), and `pgcoalesce-cli bench --upsert` draws them the same way), direct
per-row INSERT ... ON CONFLICT with pgbench (16 and 64 clients, prepared)
against the sidecar contenders with default options. An upsert of a stored
device adds no row, so "rows" there are upserts committed: for `add` the
increase of sum(hits) in the table (each upsert adds 1), for `update set`,
which leaves no count behind, the load generator's (pgbench's transactions,
the sidecar's acks ok).

Idempotency keys: the sidecar contenders 256 x 1 and 64 x 32 again, each
without and then with a key on every row (`pgcoalesce-cli bench --keys`),
and the cost of keys from the pair: rows/s and CPU per row, without -> with.
A keyed contender first writes one keyed row so the sidecar's key table
exists (it makes it on first use), then starts from empty tables.

Contenders the sidecar cannot run (its ping lists no "on_conflict" or
"key": a sidecar older than issue 13) are skipped with a note.

Then a slow-disk section: PostgreSQL restarted with bin/slowfsync.so preloaded
(BENCH_FSYNC_US, default 1000 microseconds added to every fsync and
fdatasync: see test/bench/slowfsync.c), and the best direct configuration of
the first section, the sidecar contenders and the single-connection unnest
ceiling again. LD_PRELOAD is set only in the environment of the command that
starts the postmaster, so only server processes carry the shim. Check lines
show what the shim adds to an fdatasync (the shortest of 20 on tmpfs, where
the call itself is free: robust on a busy machine), whether it is mapped in
the server's processes and in the sidecar, the mean time of the server's WAL
syncs in each section (pg_stat_wal: the server runs with track_wal_io_timing
on; the disk's own time included) and the commit time of a lone single-row
INSERT with and without it.

Pinning: the postmaster starts under `taskset -c 0`, so it and every backend
and auxiliary process stay on CPU 0; the sidecar, `pgcoalesce-cli bench`,
pgbench and bench-ceiling run under `taskset -c 1` (and so does this script).
With a single CPU everything runs unpinned and the header says so.

Per contender the output shows rows/s and latency p50/p99 (per row for
pgbench and the sidecar, per statement for client batches), and CPU per
committed row in microseconds, all from the same run:

  - PG backends: utime + stime (/proc/PID/stat) of the cluster's client
    backends over the run, divided by the rows committed (count(*) of the
    table before and after, not the load generator's count). The sidecar's
    and the monitor's backends live through the run: their CPU is read
    before and after. pgbench's and bench-ceiling's backends start and end
    inside the run, so their CPU is taken from the postmaster's cutime +
    cstime, which the kernel adds every reaped child's total CPU to: the
    increase over the run, less what children that ended had used before
    it, is exactly what the children that ended used during the run. The
    snapshot is retried until the postmaster's cutime does not move while
    the children are read, so no child is counted twice or missed. The
    children that end during a run are counted as client backends:
    autovacuum is off (every contender starts from a vacuumed table, so
    none pays for another's rows) and the auxiliary processes (checkpointer,
    background writer, walwriter, logical replication launcher) live as long
    as the server. The monitor's own backend (this script's psql session for
    the counts, idle during runs) is left out.
  - PG total: the whole server, postmaster and auxiliary processes
    (walwriter, checkpointer, ...) included.
  - sidecar: the daemon's own utime + stime over the run.
  - load gen: the CPU of `pgcoalesce-cli bench`, pgbench or bench-ceiling,
    from its rusage when it ended (connection set-up and row generation
    included).

Ratios, same run: a sidecar's rows/s against the best direct per-row figure
and against the pinned single-connection ceiling (unnest, 1000 rows per
statement, 1 connection); its PG backend CPU per row against the best
client-side batch at the same batch size (the lowest PG backend CPU per row of
the client batch contenders run at that size, named in the output). Issue 12's
targets are printed beside them. Nothing is asserted.

Environment: BENCH_SECONDS (default 10) per pgbench and sidecar contender
(pgbench's -T gets the time its clients take to connect on top);
BENCH_ROWS per client-batch run (default 30000 x BENCH_SECONDS);
BENCH_CEILING_RUNS (default 3); BENCH_FSYNC_US (default 1000).
`make bench BENCH_SECONDS=1` is a smoke run of every part (under a minute).

`scripts/bench.py --profile` (`make profile`) instead reports the sidecar's own
CPU cost: callgrind instructions per acked row, as the difference between a
run of PROFILE_ROWS (default 50000) rows and a run of 1000 rows, divided by
the difference in rows, so start-up and connection set-up do not count,
under PROFILE_LOAD (default 16x32: clients x requests in flight each; 256x1
for the closed loop). Instruction counts are repeatable where timings are not.
"""
import argparse
import json
import math
import os
import re
import resource
import shlex
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
CEILING_ROWS = int(os.environ.get("BENCH_ROWS", str(30000 * SECONDS)))
CEILING_RUNS = int(os.environ.get("BENCH_CEILING_RUNS", "3"))
FSYNC_US = int(os.environ.get("BENCH_FSYNC_US", "1000"))
PG_PORT = "5499"
# track_wal_io_timing: pg_stat_wal then has the time spent in WAL syncs, the
# slow-disk check (two clock reads per WAL write and sync: the same for all).
PG_SETTINGS = ["-c max_connections=300", "-c shared_buffers=256MB", "-c autovacuum=off",
               "-c track_wal_io_timing=on"]
PER_ROW_SQL = ("\\set d random(0, 999)\n"
               "INSERT INTO events (device_id, kind, value, payload) "
               "VALUES (:d, 'bench', 1.5, '{\"n\": 1}');\n")
# Upserts (issue 13): 10,000 devices, ids Zipf-distributed with pgbench's
# random_zipfian(1, 10000, 1.1); `pgcoalesce-cli bench --upsert` draws them the same way.
UPSERT_DEVICES = 10000
UPSERT_ZIPF_S = 1.1
UPSERT_SET = {"set": "seen = EXCLUDED.seen, kind = EXCLUDED.kind",
              "add": "hits = devices.hits + EXCLUDED.hits"}
# The sidecar contenders run again with and without idempotency keys.
KEYED = [(256, 1), (64, 32)]
CLK_TCK = os.sysconf("SC_CLK_TCK")
CEILING_MODES = ("unnest", "copy", "copy-binary")
CEILING_SIZE = 1000  # rows per statement of the classic ceiling
# The sidecar contenders: (clients, in flight per client, extra daemon options).
# Each shape runs on both write paths (README "Performance": which one runs
# when); the default path is the one these rows showed cheaper. The closed
# loop runs again without io_uring (what a container gets), without
# SCHED_BATCH, and without both: one read and one send per row under the
# normal policy, its client I/O before issue 12 item 5 (the item's baseline).
WRITE_PATH_COPY = ["--write-path", "copy"]
IO_URING_OFF = ["--io-uring", "off"]
SCHED_BATCH_OFF = ["--sched-batch", "off"]
CLIENT_IO_BEFORE = IO_URING_OFF + SCHED_BATCH_OFF
SIDECARS = [
    (256, 1, []),
    (256, 1, WRITE_PATH_COPY),
    (256, 1, IO_URING_OFF),
    (256, 1, SCHED_BATCH_OFF),
    (256, 1, CLIENT_IO_BEFORE),
    (64, 32, []),
    (64, 32, WRITE_PATH_COPY),
]
# Processes of a PostgreSQL server other than client backends, by the name
# they show in their command line ("postgres: walwriter ").
PG_AUX = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
          "autovacuum worker", "logical replication launcher", "logical replication worker",
          "archiver", "walsender", "walreceiver", "startup", "parallel worker", "stats collector")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pg_bindir():
    dirs = sorted((d for d in os.listdir("/usr/lib/postgresql")),
                  key=lambda v: [int(x) for x in v.split(".")])
    return os.path.join("/usr/lib/postgresql", dirs[-1], "bin")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


# ---- pinning ----

class Pinning:
    """PostgreSQL on the first CPU this process may use, everything else on the
    second; unpinned when there is only one."""

    def __init__(self):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            self.pg_cpu, self.load_cpu = cpus[0], cpus[1]
            self.pg = ["taskset", "-c", str(self.pg_cpu)]
            self.load = ["taskset", "-c", str(self.load_cpu)]
            self.text = (f"PostgreSQL (postmaster, backends, auxiliary processes) on CPU "
                         f"{self.pg_cpu}; sidecar, pgcoalesce-cli bench, pgbench, bench-ceiling "
                         f"and this script on CPU {self.load_cpu} (taskset)")
            os.sched_setaffinity(0, {self.load_cpu})
        else:
            self.pg = self.load = []
            self.text = "one CPU: nothing pinned, PostgreSQL and the load share it"


# ---- CPU of the server's processes ----

def read_stat(pid):
    """(ppid, utime + stime, cutime + cstime) in clock ticks from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()   # rest[0] is field 3 (state)
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def read_cmdline(pid):
    """The process title ("postgres: walwriter ", "postgres: USER DB [local] idle")."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").replace("\0", " ")
    except OSError:
        return ""


def is_client_backend(cmd):
    """A child of the postmaster that is not an auxiliary process. A backend
    just forked still shows the postmaster's command line: a client too."""
    if not cmd.startswith("postgres: "):
        return True
    return not cmd[len("postgres: "):].startswith(PG_AUX)


def is_connected(cmd):
    """A client backend past its start-up: its title shows the client and a state."""
    return "[local]" in cmd and not cmd.rstrip().endswith(("authentication", "startup"))


class ServerSnapshot:
    """The CPU of a PostgreSQL server at one moment: the postmaster's own, the
    total of its reaped children (cutime + cstime) and each live child's, with
    its process title. Consistent: retried until the postmaster's reaped total
    did not change while the children were read."""

    def __init__(self, pm_pid):
        for _ in range(50):
            _, own, reaped = read_stat(pm_pid)
            try:
                children = self._children(pm_pid)
            except (FileNotFoundError, ProcessLookupError):
                continue  # a child went away while being read
            _, own2, reaped2 = read_stat(pm_pid)
            if reaped == reaped2:
                self.own, self.reaped, self.children = own2, reaped, children
                return
        raise RuntimeError("the postmaster's children kept changing while being read")

    @staticmethod
    def _children(pm_pid):
        out = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                ppid, cpu, _ = read_stat(name)
            except (FileNotFoundError, ProcessLookupError):
                continue  # not a child of ours, or gone: the reaped total tells
            if ppid == pm_pid:
                out[int(name)] = (cpu, read_cmdline(name))
        return out

    def clients(self, exclude=()):
        return {p for p, (_, cmd) in self.children.items()
                if is_client_backend(cmd) and p not in exclude}

    def connected(self, exclude=()):
        """How many client backends have finished connecting."""
        return sum(1 for p, (_, cmd) in self.children.items()
                   if p not in exclude and is_client_backend(cmd) and is_connected(cmd))


def server_cpu(a, b, exclude=()):
    """Seconds of CPU between snapshots a and b: (client backends, whole server).
    Children that ended between them count as client backends (see the module
    docstring); `exclude` are client backends to leave out (the monitor)."""
    ended = [p for p in a.children if p not in b.children]
    ended_cpu = b.reaped - a.reaped - sum(a.children[p][0] for p in ended)
    live_client = live_all = 0
    for p, (cpu, cmd) in b.children.items():
        before = a.children.get(p, (0, cmd))[0]
        live_all += cpu - before
        if is_client_backend(cmd) and p not in exclude:
            live_client += cpu - before
    client = live_client + ended_cpu
    total = (b.own - a.own) + live_all + ended_cpu
    return client / CLK_TCK, total / CLK_TCK


def process_cpu(pid):
    """utime + stime of a live process, seconds."""
    return read_stat(pid)[1] / CLK_TCK


def children_cpu():
    """CPU seconds of this script's waited-for children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ---- the cluster ----

class Cluster:
    """The private PostgreSQL (scripts/pgcluster.sh), pinned, optionally with
    the slow-fsync shim, and a monitor session (one psql kept open) for counts."""

    def __init__(self, tmp, pin):
        self.dir = os.path.join(tmp, "pg")
        self.pin = pin
        self.env = dict(os.environ, PGCLUSTER_PORT=PG_PORT)
        self.dsn = self.pm_pid = self.monitor = self.monitor_pid = None
        self.shim = None

    def start(self, shim=None):
        """Start the server; with `shim` (a .so path) preloaded into it only."""
        env = dict(self.env)
        if shim:
            env.update(LD_PRELOAD=shim, BENCH_FSYNC_US=str(FSYNC_US))
        self.shim = shim
        run(self.pin.pg + [os.path.join(ROOT, "scripts/pgcluster.sh"), "start", self.dir] + PG_SETTINGS,
            env=env)
        self.dsn = run([os.path.join(ROOT, "scripts/pgcluster.sh"), "dsn", self.dir],
                       env=self.env).stdout.strip()
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            self.pm_pid = int(f.readline())
        self.psql_file(os.path.join(ROOT, "sql/demo.sql"))
        self.monitor = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                                         "-d", self.dsn], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.monitor_pid = int(self.query("SELECT pg_backend_pid()"))

    def stop(self):
        if self.monitor:
            self.monitor.stdin.close()
            self.monitor.wait(timeout=30)
            self.monitor = None
        subprocess.run([os.path.join(ROOT, "scripts/pgcluster.sh"), "stop", self.dir], env=self.env)

    def query(self, sql):
        """One value from the monitor session."""
        self.monitor.stdin.write(sql + ";\n")
        line = self.monitor.stdout.readline()
        if not line:
            raise RuntimeError(f"the monitor psql session ended at: {sql}")
        return line.strip()

    def count(self, table="events"):
        """Rows in `table`; for "devices" (upserts) the sum of hits: one per
        committed upsert that adds (--upsert add), none for the others."""
        if table == "devices":
            return int(self.query("SELECT coalesce(sum(hits), 0) FROM devices"))
        return int(self.query(f"SELECT count(*) FROM {table}"))

    def psql(self, sql):
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql])

    def psql_file(self, path):
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-f", path])

    def execute(self, sql):
        """Run a statement on the monitor session; wait for it to finish."""
        if self.query(sql + "; SELECT 'done'") != "done":
            raise RuntimeError(f"unexpected output from: {sql}")

    def fresh_table(self, table="events"):
        """An empty, vacuumed `table` (and an empty key table, where the
        sidecar made one), after a CHECKPOINT."""
        self.execute(f"TRUNCATE {table} RESTART IDENTITY")
        self.execute(f"VACUUM ANALYZE {table}")
        self.execute("DO $$ BEGIN IF to_regclass('pgcoalesce.keys') IS NOT NULL THEN "
                     "TRUNCATE pgcoalesce.keys; END IF; END $$")
        self.execute("CHECKPOINT")

    def snapshot(self):
        return ServerSnapshot(self.pm_pid)

    def reset_wal_stats(self):
        self.query("SELECT pg_stat_reset_shared('wal')")

    def wal_syncs(self):
        """(WAL syncs, their mean ms) since the last reset_wal_stats(): pg_stat_wal."""
        n, ms = self.query("SELECT wal_sync || ' ' || wal_sync_time FROM pg_stat_wal").split()
        return int(n), float(ms) / max(int(n), 1)

    def settle(self, allowed=(), timeout=5.0):
        """Wait until no client backend but the monitor's and `allowed` is left
        (backends of finished clients exit a moment after them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if not snap.clients(exclude={self.monitor_pid, *allowed}):
                return snap
            time.sleep(0.02)
        log("bench: warning: client backends still running, measuring anyway")
        return self.snapshot()

    def shim_mapped(self, pid):
        with open(f"/proc/{pid}/maps") as f:
            return "slowfsync" in f.read()


# ---- results ----

class Result:
    """One contender's figures. cpu: microseconds per committed row for
    'backend', 'server', 'sidecar', 'loadgen' (None where not measured)."""

    def __init__(self, name, kind, batch, rate, p50, p99, rows, cpu, note=""):
        self.name, self.kind, self.batch = name, kind, batch
        self.rate, self.p50, self.p99 = rate, p50, p99
        self.rows, self.cpu, self.note = rows, cpu, note
        self.mode = self.conns = None  # client batches: their mode and connections
        self.pgbench = None            # direct: (clients, protocol)
        self.spec = None               # sidecar: (clients, pipeline, extra options)
        self.keys = False              # sidecar: every row with an idempotency key
        self.upsert = None             # sidecar: "set" or "add" upserts


def per_row_us(seconds, rows):
    return 1e6 * seconds / rows if rows else float("nan")


class Bench:
    def __init__(self, tmp, pin, sidecars):
        self.tmp = tmp
        self.pin = pin
        self.sidecars = sidecars
        self.db = Cluster(tmp, pin)
        self.results = []    # the current section's Results
        self.sections = []   # (title, [Result])
        self.batches = []    # sidecar batch lines
        self.checks = {}     # lone-commit ms: 'plain', 'slow'; shim mapping checks
        self.floor = None    # the I/O floor at 256 x 1 (ackfloor)
        self.conn_ms = 0.0   # mean time to open a connection (pgbench -C)
        self.seen = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())  # upserts' seen

    # ---- one measured run ----

    def measure(self, cmd, sidecar=None, allowed=(), connections=0, handshake=False, table="events"):
        """Run `cmd` pinned to the load CPU; return (stdout, rows committed, CPU
        seconds dict) over the run: PG client backends, whole server, sidecar,
        the load generator. The run starts when the load generator is
        connected, so connection set-up (tens of ms of server CPU per
        connection here) is not counted as per-row cost: with `connections`,
        once that many client backends besides `allowed` are connected
        (pgbench); with `handshake`, when the program prints "ready" and is
        told to go (bench-ceiling --wait-start); else before it starts."""
        self.db.settle(allowed)
        load0 = children_cpu()
        p = subprocess.Popen(self.pin.load + cmd, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             stdin=subprocess.PIPE if handshake else subprocess.DEVNULL)
        if handshake and p.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{' '.join(cmd)}: {p.communicate()[1].strip()}")
        if connections:
            self.wait_connected(p, connections, {self.db.monitor_pid, *allowed})
        rows0, a = self.db.count(table), self.db.snapshot()
        side0 = process_cpu(sidecar.pid) if sidecar else 0.0
        gen0 = process_cpu(p.pid) if handshake or connections else 0.0
        out, err = p.communicate("go\n" if handshake else None)
        load = children_cpu() - load0 - gen0
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.strip()}")
        side = process_cpu(sidecar.pid) - side0 if sidecar else None
        b = self.db.settle(allowed)
        backend, server = server_cpu(a, b, exclude={self.db.monitor_pid})
        rows = self.db.count(table) - rows0
        return out, rows, dict(backend=backend, server=server, sidecar=side, loadgen=load)

    def wait_connected(self, p, n, exclude):
        """Until n client backends (besides `exclude`) have connected."""
        while self.db.snapshot().connected(exclude) < n:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} ended before its {n} connections were up")
            time.sleep(0.05)

    def add(self, name, kind, batch, rate, p50, p99, rows, cpu, note=""):
        us = {k: (per_row_us(v, rows) if v is not None else None) for k, v in cpu.items()}
        r = Result(name, kind, batch, rate, p50, p99, rows, us, note)
        self.results.append(r)
        return r

    # ---- contenders ----

    def pgbench(self, clients, mode, upsert=None):
        """Direct per-row statements from pgbench: INSERTs into events, or
        with `upsert` ("set", "add") INSERT ... ON CONFLICT into devices."""
        name = f"direct, pgbench -M {mode}, {clients} clients" + (f", upsert {upsert}" if upsert else "")
        # pgbench's -T clock runs while its clients connect, one after the
        # other on the server's one CPU: give it that time on top (measured
        # cost of a connection, with a margin); the run is measured from the
        # moment all are connected, so it still lasts about SECONDS.
        duration = SECONDS + math.ceil(1.5 * clients * self.conn_ms / 1000)
        log(f"bench: {name} ({duration}s)")
        table = "devices" if upsert else "events"
        self.db.fresh_table(table)
        script = self.upsert_script(upsert) if upsert else self.per_row_script()
        logdir = tempfile.mkdtemp(dir=self.tmp)
        out, rows, cpu = self.measure([os.path.join(pg_bindir(), "pgbench"), "-n", "-f", script,
                                       "-M", mode, "-c", str(clients), "-j", "2",
                                       "-T", str(duration), "-l", "--log-prefix",
                                       os.path.join(logdir, "tx"), self.db.dsn],
                                      connections=clients, table=table)
        m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
        if not m:
            raise RuntimeError(f"pgbench printed no tps:\n{out}")
        tps = float(m.group(1))
        if upsert == "set":  # nothing in the table counts them: pgbench's count
            rows = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
        lat = []
        for fn in os.listdir(logdir):
            with open(os.path.join(logdir, fn)) as f:
                lat.extend(int(line.split()[2]) / 1000.0 for line in f)
        shutil.rmtree(logdir)
        r = self.add(name, "direct", 1, tps, pct(lat, 50), pct(lat, 99), rows, cpu)
        r.pgbench = (clients, mode)
        return r

    def upsert_script(self, upsert):
        """pgbench's per-row upsert: the row `pgcoalesce-cli bench --upsert` sends."""
        script = os.path.join(self.tmp, f"upsert_{upsert}.sql")
        with open(script, "w") as f:
            f.write(f"\\set d random_zipfian(1, {UPSERT_DEVICES}, {UPSERT_ZIPF_S})\n"
                    f"INSERT INTO devices (device_id, seen, hits, kind) VALUES "
                    f"(:d, '{self.seen}', 1, 'bench') ON CONFLICT (device_id) DO UPDATE SET "
                    f"{UPSERT_SET[upsert]};\n")
        return script

    def per_row_script(self):
        script = os.path.join(self.tmp, "per_row.sql")
        with open(script, "w") as f:
            f.write(PER_ROW_SQL)
        return script

    def connection_ms(self):
        """The mean time to open a connection (pgbench -C, 20 connections)."""
        script = os.path.join(self.tmp, "select1.sql")
        with open(script, "w") as f:
            f.write("SELECT 1;\n")
        out = run(self.pin.load + [os.path.join(pg_bindir(), "pgbench"), "-n", "-C", "-f", script,
                                   "-c", "1", "-t", "20", self.db.dsn]).stdout
        return float(re.search(r"average connection time = ([0-9.]+) ms", out).group(1))

    def lone_commit_ms(self):
        """Median time of a single-row INSERT and its COMMIT from one client
        (pgbench, 300 transactions): the slow-disk shim's visible effect. The
        median, as other work on a shared machine stalls a few of them."""
        self.db.fresh_table()
        logdir = tempfile.mkdtemp(dir=self.tmp)
        run(self.pin.load + [os.path.join(pg_bindir(), "pgbench"), "-n", "-f",
                             self.per_row_script(), "-M", "prepared", "-c", "1", "-t", "300",
                             "-l", "--log-prefix", os.path.join(logdir, "tx"), self.db.dsn])
        lat = []
        for fn in os.listdir(logdir):
            with open(os.path.join(logdir, fn)) as f:
                lat.extend(int(line.split()[2]) / 1000.0 for line in f)
        shutil.rmtree(logdir)
        return pct(lat, 50)

    def sidecar(self, clients, pipeline, opts, upsert=None, keys=False):
        """The sidecar under `pgcoalesce-cli bench`: inserts into events, or
        with `upsert` ("set", "add") upserts into devices; `keys`: every row
        with its own idempotency key. None (and a note) when the sidecar
        does not have what the contender needs."""
        extra = (["--upsert", upsert] if upsert else []) + (["--keys"] if keys else [])
        name = (f"pgcoalesce {clients} x {pipeline}" + (" " + " ".join(opts) if opts else "")
                + (f", upsert {upsert}" if upsert else "") + (", keys" if keys else ""))
        table = "devices" if upsert else "events"
        log(f"bench: {name} ({SECONDS}s)")
        self.db.fresh_table(table)
        self.db.settle()
        sock = os.path.join(self.tmp, "pgc.sock")
        err = open(os.path.join(self.tmp, "sidecar.log"), "a")
        daemon = subprocess.Popen(self.pin.load + [os.path.join(ROOT, "bin/pgcoalesce"),
                                                   "--dsn", self.db.dsn, "--socket", sock,
                                                   "--log-level", "warn"] + opts, stderr=err)
        try:
            wait_socket(sock)
            wait_db_connections(sock)
            missing = [f for f in ("on_conflict" if upsert else None, "key" if keys else None)
                       if f and f not in sidecar_features(sock)]
            if missing:
                self.notes.append(f"  {name}: skipped, the sidecar's ping lists no "
                                  f"{' or '.join(missing)}")
                return None
            if keys:
                self.warm_key_table(sock)
            allowed = self.db.snapshot().clients(exclude={self.db.monitor_pid})
            if self.db.shim:
                self.checks["shim_in_sidecar"] = self.db.shim_mapped(daemon.pid)
            out, rows, cpu = self.measure([os.path.join(ROOT, "bin/pgcoalesce-cli"), "-s", sock,
                                           "bench", "--clients", str(clients), "--pipeline",
                                           str(pipeline), "--duration", str(SECONDS)] + extra,
                                          sidecar=daemon, allowed=allowed, table=table)
            st = sidecar_stats(sock)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            err.close()
        rate, p50, p99 = parse_cli_bench(out)
        if upsert == "set":  # nothing in the table counts them: the acks
            rows = int(re.search(r"acked ok: (\d+)", out).group(1))
        fl, br = st["flush_duration_seconds"], st["batch_rows"]
        mean_rows = br["sum"] / max(br["count"], 1)
        r = self.add(name, "sidecar", mean_rows, rate, p50, p99, rows, cpu)
        r.spec = (clients, pipeline, opts)
        r.keys = keys
        r.upsert = upsert
        self.batches.append(f"  {name}: {br['count']} batches, {mean_rows:.0f} rows each on average, "
                            f"flush mean {1000 * fl['sum'] / max(fl['count'], 1):.2f} ms, "
                            f"p50 <= {1000 * hist_quantile(fl, 0.5):g} ms, "
                            f"p99 <= {1000 * hist_quantile(fl, 0.99):g} ms")
        return r

    def ackfloor(self, clients, pipeline):
        """The I/O floor under the sidecar's closed-loop CPU (issue 12 item 5):
        bin/bench-ackfloor answers every line ok and does nothing else, with
        the sidecar's I/O at 256 x 1 (a read and a send per row). Its CPU per
        row answered, and the load generator's; not a contender."""
        log(f"bench: the I/O floor, bin/bench-ackfloor, {clients} x {pipeline} ({SECONDS}s)")
        sock = os.path.join(self.tmp, "floor.sock")
        srv = subprocess.Popen(self.pin.load + [os.path.join(ROOT, "bin/bench-ackfloor"), sock])
        try:
            wait_socket(sock)
            load0, srv0 = children_cpu(), process_cpu(srv.pid)
            out = run(self.pin.load + [os.path.join(ROOT, "bin/pgcoalesce-cli"), "-s", sock, "bench",
                                       "--clients", str(clients), "--pipeline", str(pipeline),
                                       "--duration", str(SECONDS)]).stdout
            srv_cpu, load = process_cpu(srv.pid) - srv0, children_cpu() - load0
        finally:
            srv.kill()
            srv.wait()
        acked = int(re.search(r"acked ok: (\d+)", out).group(1))
        return dict(shape=(clients, pipeline), rate=parse_cli_bench(out)[0],
                    server=per_row_us(srv_cpu, acked), loadgen=per_row_us(load, acked))

    def warm_key_table(self, sock):
        """One keyed row before the run, so the sidecar's key table exists (it
        is made on first use) and its creation is not in the measured run;
        then the table is emptied again."""
        run([os.path.join(ROOT, "bin/pgcoalesce-cli"), "-s", sock, "bench", "--keys", "--rows", "1",
             "--clients", "1", "--pipeline", "1"])
        self.db.fresh_table("events")

    def ceiling(self, mode, size, conns, runs=CEILING_RUNS):
        """A client-side batch contender: the median of `runs` runs (rows/s and
        latency from the median run by rows/s, each CPU figure its own median)."""
        name = f"client batch: {mode}, {conns} conn{'s' if conns > 1 else ''}, {size} rows/stmt"
        log(f"bench: {name} ({runs} x {CEILING_ROWS} rows)")
        figs = []
        for _ in range(runs):
            self.db.fresh_table()
            out, rows, cpu = self.measure([os.path.join(ROOT, "bin/bench-ceiling"),
                                           "--rows-per-statement", str(size), "--connections",
                                           str(conns), "--wait-start", self.db.dsn, mode,
                                           str(CEILING_ROWS)], handshake=True)
            line = next(x for x in out.splitlines() if x.startswith("ceiling "))
            f = dict(kv.split("=") for kv in line.split()[1:])
            figs.append((float(f["rows_per_sec"]), float(f["p50_ms"]), float(f["p99_ms"]), rows, cpu))
        figs.sort(key=lambda x: x[0])
        rate, p50, p99, rows, _ = figs[len(figs) // 2]
        # every run commits CEILING_ROWS rows: the median of the seconds is the median per row
        cpu = {k: statistics.median(x[4][k] for x in figs) for k in ("backend", "server", "loadgen")}
        note = f"runs at {', '.join(f'{x[0]:.0f}' for x in figs)} rows/s" if runs > 1 else ""
        r = self.add(name, "client", size, rate, p50, p99, rows, dict(cpu, sidecar=None), note)
        r.mode, r.conns = mode, conns
        return r

    # ---- sections ----

    def section(self, title):
        self.results, self.batches, self.notes = [], [], []
        self.sections.append((title, self.results, self.batches, self.notes))

    def upsert_sections(self):
        """Per-row INSERT ... ON CONFLICT with pgbench against the sidecar's
        upserts, the same rows and skew, once for `update set` and once for
        `add`."""
        for upsert in ("set", "add"):
            self.section(f"upserts, update {upsert}: {UPSERT_DEVICES} devices, ids Zipf-distributed "
                         f"(s = {UPSERT_ZIPF_S}), ON CONFLICT (device_id) DO UPDATE SET "
                         f"{UPSERT_SET[upsert]}")
            self.notes.append(
                "  rows: upserts committed, counted by the load generator (pgbench's transactions, "
                "the sidecar's acks ok): update set leaves no count in the table" if upsert == "set" else
                "  rows: upserts committed, counted in the table (the increase of sum(hits): each adds 1)")
            for clients in (16, 64):
                self.pgbench(clients, "prepared", upsert)
            for clients, pipeline, opts in self.sidecars:
                if not opts:
                    self.sidecar(clients, pipeline, opts, upsert=upsert)

    def keys_section(self):
        """The cost of idempotency keys: the same inserts with and without them."""
        self.section("idempotency keys: the same inserts without and with a key per row")
        for clients, pipeline in KEYED:
            self.sidecar(clients, pipeline, [])
            self.sidecar(clients, pipeline, [], keys=True)

    def normal_section(self):
        self.section("fsync as this machine's disk does it")
        self.db.reset_wal_stats()
        self.conn_ms = self.connection_ms()
        for mode in ("simple", "prepared"):
            for clients in (16, 64, 256):
                self.pgbench(clients, mode)
        sizes = [CEILING_SIZE]
        for clients, pipeline, opts in self.sidecars:
            r = self.sidecar(clients, pipeline, opts)
            sizes.append(max(1, round(r.batch)))
        self.floor = self.ackfloor(256, 1)
        for size in sorted(set(sizes), reverse=True):
            for conns in (1, 2):
                for mode in CEILING_MODES:
                    self.ceiling(mode, size, conns)

    def slow_section(self, best_direct):
        """The same server restarted with the slow-fsync shim: the best direct
        configuration, the sidecars, the single-connection ceiling."""
        shim = os.path.join(self.tmp, "slowfsync.so")
        shutil.copy(os.path.join(ROOT, "bin/slowfsync.so"), shim)
        os.chmod(shim, 0o755)
        self.checks["plain"] = self.lone_commit_ms()
        self.checks["plain_syncs"] = self.db.wal_syncs()
        self.db.stop()
        self.db.start(shim=shim)
        self.db.reset_wal_stats()
        pids = [self.db.pm_pid] + list(self.db.snapshot().children)
        self.checks["shim_in_server"] = (sum(self.db.shim_mapped(p) for p in pids), len(pids))
        self.checks["shim_fdatasync"] = (fdatasync_ms(shim), fdatasync_ms(None))
        self.section(f"slow disk: {FSYNC_US} us added to every fsync/fdatasync of the server")
        self.checks["slow"] = self.lone_commit_ms()
        self.pgbench(*best_direct)
        for clients, pipeline, opts in self.sidecars:
            self.sidecar(clients, pipeline, opts)
        self.ceiling("unnest", CEILING_SIZE, 1)
        self.checks["slow_syncs"] = self.db.wal_syncs()


# ---- report ----

def best_direct(results):
    d = [r for r in results if r.kind == "direct"]
    return max(d, key=lambda r: r.rate) if d else None


def the_ceiling(results):
    """The pinned single-connection ceiling: unnest, 1000 rows/statement, 1 connection."""
    return next((r for r in results if r.kind == "client" and r.mode == "unnest"
                 and r.conns == 1 and r.batch == CEILING_SIZE), None)


def best_client_batch(results, size):
    """The client batch at `size` rows/statement with the lowest PG backend CPU per row."""
    c = [r for r in results if r.kind == "client" and r.batch == size]
    return min(c, key=lambda r: r.cpu["backend"]) if c else None


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def print_throughput(results):
    direct, ceil = best_direct(results), the_ceiling(results)
    w = max(len(r.name) for r in results)
    print(f"{'contender':<{w}}  {'rows/batch':>10}  {'rows/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  "
          f"{'x best direct':>13}  {'% of ceiling':>12}")
    print("-" * (w + 72))
    for r in results:
        x = f"{r.rate / direct.rate:.2f}x" if direct and r.kind != "direct" else ""
        c = f"{100 * r.rate / ceil.rate:.0f}%" if ceil and r.kind == "sidecar" else ""
        print(f"{r.name:<{w}}  {r.batch:>10.0f}  {r.rate:>9.0f}  {r.p50:>8.2f}  {r.p99:>8.2f}  "
              f"{x:>13}  {c:>12}")


def print_cpu(results, ratios=True):
    w = max(len(r.name) for r in results)
    print(f"{'CPU per committed row, us':<{w}}  {'rows':>9}  {'PG backends':>11}  {'PG total':>8}  "
          f"{'sidecar':>7}  {'load gen':>8}  {'PG backends vs best client batch, same size' if ratios else ''}")
    print("-" * (w + 105 if ratios else w + 60))
    for r in results:
        ratio = ""
        if ratios and r.kind == "sidecar":
            best = best_client_batch(results, max(1, round(r.batch)))
            if best:
                ratio = (f"{r.cpu['backend'] / best.cpu['backend']:.2f}x ({best.mode}, "
                         f"{best.conns} conn: {best.cpu['backend']:.2f})")
        print(f"{r.name:<{w}}  {r.rows:>9}  {fmt(r.cpu['backend'], '11.2f'):>11}  "
              f"{fmt(r.cpu['server'], '8.2f'):>8}  {fmt(r.cpu['sidecar'], '7.2f'):>7}  "
              f"{fmt(r.cpu['loadgen'], '8.2f'):>8}  {ratio}")
    sizes = sorted({r.batch for r in results if r.kind == "client"}, reverse=True)
    if ratios and sizes:
        print()
        print("best client-side batch (lowest PG backend CPU per row) at each size:")
        for size in sizes:
            best = best_client_batch(results, size)
            print(f"  {size} rows/statement: {best.mode}, {best.conns} connection"
                  f"{'s' if best.conns > 1 else ''} ({best.cpu['backend']:.2f} us)")


def print_targets(results, floor=None):
    ceil = the_ceiling(results)
    print("issue 12 targets, from this run (default options):")
    for r in results:
        if r.kind != "sidecar" or r.spec[2]:
            continue
        size = max(1, round(r.batch))
        best = best_client_batch(results, size)
        if r.spec[:2] == (64, 32):
            if ceil:
                print(f"  64 x 32 rows/s: {100 * r.rate / ceil.rate:.0f}% of the pinned single-connection "
                      f"ceiling ({r.rate:.0f} vs {ceil.rate:.0f}; target >= 85%)")
            if best:
                print(f"  64 x 32 PG backend CPU per row: {r.cpu['backend'] / best.cpu['backend']:.2f}x "
                      f"the best client-side batch of {size} rows ({best.name}: "
                      f"{r.cpu['backend']:.2f} vs {best.cpu['backend']:.2f} us; target <= 1.2x)")
        if r.spec[:2] == (256, 1):
            before = next((b for b in results if b.kind == "sidecar" and not b.keys and not b.upsert
                           and b.spec == (256, 1, CLIENT_IO_BEFORE)), None)
            print(f"  256 x 1 sidecar CPU per row: {r.cpu['sidecar']:.2f} us, load generator "
                  f"{r.cpu['loadgen']:.2f} us (issue: about 6 and 5 before; aim: sidecar at half)"
                  + (f"; {r.cpu['sidecar'] / before.cpu['sidecar']:.2f}x the same run's "
                     f"{before.cpu['sidecar']:.2f} us with {' '.join(CLIENT_IO_BEFORE)}" if before else ""))
            if floor and floor["shape"] == (256, 1):
                print(f"  256 x 1 I/O floor (bin/bench-ackfloor: reads each line and answers it, no "
                      f"JSON, no database): {floor['server']:.2f} us per row, load generator "
                      f"{floor['loadgen']:.2f} us, {floor['rate']:.0f} rows/s, with one read and one "
                      f"send per row; the sidecar against it: {r.cpu['sidecar'] - floor['server']:+.2f} us")


def print_against_default(results, opts, title, off_first=False):
    """Each sidecar shape run with daemon options `opts` against the same shape
    on the defaults, same run: default -> opts, or opts -> default where opts
    turn off what the default does (off_first)."""
    lines = []
    for r in results:
        if r.kind != "sidecar" or r.keys or r.upsert or r.spec[2] != opts:
            continue
        plain = next((p for p in results if p.kind == "sidecar" and not p.keys and not p.upsert
                      and p.spec[:2] == r.spec[:2] and not p.spec[2]), None)
        if plain is None:
            continue
        a, b = (r, plain) if off_first else (plain, r)
        lines.append(f"  {r.spec[0]} x {r.spec[1]}: PG backends {a.cpu['backend']:.2f} -> "
                     f"{b.cpu['backend']:.2f} us per row ({b.cpu['backend'] / a.cpu['backend']:.2f}x), "
                     f"PG total {a.cpu['server']:.2f} -> {b.cpu['server']:.2f}, sidecar "
                     f"{a.cpu['sidecar']:.2f} -> {b.cpu['sidecar']:.2f} "
                     f"({b.cpu['sidecar'] / a.cpu['sidecar']:.2f}x), load generator "
                     f"{a.cpu['loadgen']:.2f} -> {b.cpu['loadgen']:.2f}; {a.rate:.0f} -> "
                     f"{b.rate:.0f} rows/s; batches of {a.batch:.0f} and {b.batch:.0f} rows")
    if lines:
        print(title)
        print("\n".join(lines))


def print_key_cost(results):
    """Each sidecar contender with keys against the same without, same run."""
    lines = []
    for r in results:
        if r.kind != "sidecar" or not r.keys:
            continue
        plain = next((p for p in results if p.kind == "sidecar" and not p.keys and p.spec == r.spec), None)
        if plain is None:
            continue
        lines.append(f"  {r.spec[0]} x {r.spec[1]}: {plain.rate:.0f} -> {r.rate:.0f} rows/s "
                     f"({r.rate / plain.rate:.2f}x); PG backends {plain.cpu['backend']:.2f} -> "
                     f"{r.cpu['backend']:.2f} us per row ({r.cpu['backend'] - plain.cpu['backend']:+.2f}), "
                     f"PG total {plain.cpu['server']:.2f} -> {r.cpu['server']:.2f}, sidecar "
                     f"{plain.cpu['sidecar']:.2f} -> {r.cpu['sidecar']:.2f}")
    if lines:
        print("the cost of keys (without -> with, same run):")
        print("\n".join(lines))


def report(bench, header):
    print()
    print("\n".join(header))
    for i, (title, results, batches, notes) in enumerate(bench.sections):
        print()
        print(f"== {title}")
        print()
        if not results:
            print("\n".join(notes or ["  no contender ran"]))
            continue
        print_throughput(results)
        print()
        print_cpu(results, ratios=(i == 0))
        if notes:
            print("\n".join(notes))
        if any(getattr(r, "keys", False) for r in results):
            print()
            print_key_cost(results)
        if any(r.kind == "sidecar" and r.spec[2] == WRITE_PATH_COPY for r in results):
            print()
            print_against_default(results, WRITE_PATH_COPY,
                                  "write paths, unnest (the default) -> copy (same run):")
        for opts, title in ((IO_URING_OFF, "client I/O, one system call per read and per send "
                             "(--io-uring off) -> through io_uring (the default), same run:"),
                            (SCHED_BATCH_OFF, "always SCHED_NORMAL (--sched-batch off) -> SCHED_BATCH "
                             "while batches are big (the default), same run:"),
                            (CLIENT_IO_BEFORE, "both off (the client I/O before issue 12 item 5) -> "
                             "the defaults, same run:")):
            if any(r.kind == "sidecar" and r.spec[2] == opts for r in results):
                print()
                print_against_default(results, opts, title, off_first=True)
        if batches:
            print()
            print("sidecar batches (from its stats: a flush is one transaction, BEGIN to COMMIT;")
            print("p50/p99 are the upper bounds of the histogram buckets they fall in):")
            print("\n".join(batches))
        medians = [f"  {r.name}: {r.note} (median shown)" for r in results if r.note]
        if medians:
            print("client batches, " + ("median of %d runs:" % CEILING_RUNS))
            print("\n".join(medians))
        if i == 0:
            print()
            print_targets(results, bench.floor)
    print()
    print(slow_check_line(bench.checks))
    print()
    print("Latency: per row (request sent to ack read) for pgbench and the sidecar, per statement "
          "for client batches. CPU: utime+stime from /proc over each run, per row counted in the "
          "table (scripts/bench.py's docstring says how), from the moment the load generator's "
          f"connections were up (opening one took {bench.conn_ms:.1f} ms here, pgbench -C).")


def slow_check_line(ch):
    if "slow" not in ch:
        return "slow-disk check: no slow-disk section was run"
    mapped, total = ch["shim_in_server"]
    side = ch.get("shim_in_sidecar")
    (pn, pms), (sn, sms) = ch["plain_syncs"], ch["slow_syncs"]
    with_shim, without = ch["shim_fdatasync"]
    return "\n".join([
        f"slow-disk check (BENCH_FSYNC_US={FSYNC_US}):",
        f"  the shim adds {with_shim - without:.3f} ms to an fdatasync (the shortest of 20 on tmpfs: "
        f"{with_shim:.3f} ms with it, {without:.3f} ms without)",
        f"  it is mapped in {mapped} of {total} server processes"
        + ("" if side is None else f", {'and' if side else 'not'} in the sidecar"),
        f"  the server's WAL syncs took {sms:.3f} ms on average with it ({sn} syncs) against "
        f"{pms:.3f} ms without ({pn} syncs; pg_stat_wal), what the disk added included",
        f"  a lone single-row INSERT + COMMIT took {ch['slow']:.3f} ms with it against "
        f"{ch['plain']:.3f} ms without (pgbench, 1 client, median of 300 transactions)"])


def fdatasync_ms(shim):
    """The shortest of 20 fdatasync() calls on a tmpfs file (free there, so what
    is left is the shim's delay) by a Python process, with `shim` preloaded."""
    code = ("import os, sys, tempfile, time\n"
            "fd, path = tempfile.mkstemp(dir=sys.argv[1])\n"
            "ts = []\n"
            "for _ in range(20):\n"
            "    t = time.perf_counter(); os.fdatasync(fd); ts.append(time.perf_counter() - t)\n"
            "os.unlink(path)\n"
            "print(min(ts) * 1000)\n")
    env = dict(os.environ, LD_PRELOAD=shim, BENCH_FSYNC_US=str(FSYNC_US)) if shim else os.environ
    where = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return float(run([sys.executable, "-c", code, where], env=env).stdout)


# ---- helpers ----

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


def wait_db_connections(sock, timeout=10):
    """Until the sidecar's database connections are up (and stay so for 0.3 s),
    so they are not born inside the measured run."""
    deadline = time.time() + timeout
    last, since = -1, time.time()
    while time.time() < deadline:
        up = sidecar_stats(sock)["db_connections_up"]
        if up != last:
            last, since = up, time.time()
        elif up > 0 and time.time() - since >= 0.3:
            return
        time.sleep(0.05)
    raise RuntimeError("the sidecar's database connections did not come up")


def sidecar_features(sock):
    """The extensions the sidecar lists in its ping's features (PROTOCOL.md)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b'{"op":"ping","id":1}\n')
    line = s.makefile("rb").readline()
    s.close()
    return json.loads(line).get("features") or []


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


def callgrind_run(db, tmp, rows, clients, pipeline):
    """Total instructions of the daemon for one run of `rows` rows."""
    db.fresh_table()
    sock = os.path.join(tmp, "prof.sock")
    out = os.path.join(tmp, f"callgrind.{rows}")
    err = open(os.path.join(tmp, "profile.log"), "a")
    daemon = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               os.path.join(ROOT, "bin/pgcoalesce"), "--dsn", db.dsn,
                               "--socket", sock, "--log-level", "warn"], stderr=err)
    try:
        wait_socket(sock, timeout=60)
        run([os.path.join(ROOT, "bin/pgcoalesce-cli"), "-s", sock, "bench",
             "--clients", str(clients), "--pipeline", str(pipeline), "--rows", str(rows)])
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
        err.close()
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in callgrind output")


def profile(db, tmp):
    rows = int(os.environ.get("PROFILE_ROWS", "50000"))
    clients, pipeline, _ = parse_sidecar_spec(os.environ.get("PROFILE_LOAD", "16x32"))
    log(f"profile: callgrind, {clients} clients x {pipeline} in flight, 1000 and {rows} rows")
    small = callgrind_run(db, tmp, 1000, clients, pipeline)
    large = callgrind_run(db, tmp, rows, clients, pipeline)
    per_row = (large - small) / (rows - 1000)
    print(f"sidecar CPU at {clients} x {pipeline}: {per_row:.0f} instructions per acked row "
          f"(callgrind; {large} instructions for {rows} rows, {small} for 1000)")


def parse_sidecar_spec(spec):
    """'64x32 --connections 1' -> (64, 32, ['--connections', '1'])."""
    words = shlex.split(spec)
    m = re.fullmatch(r"(\d+)x(\d+)", words[0] if words else "")
    if not m:
        raise argparse.ArgumentTypeError(f"--sidecar wants 'CLIENTSxPIPELINE [OPTION...]', not {spec!r}")
    return int(m.group(1)), int(m.group(2)), words[1:]


def make_tmp(prefix):
    tmp = tempfile.mkdtemp(prefix=prefix)
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        os.chmod(tmp, 0o755)
    return tmp


def header(pin, db):
    version = db.query("SHOW server_version")
    sync = db.query("SHOW wal_sync_method")
    return [f"make bench: PostgreSQL {version}, {os.cpu_count()} CPUs; pinning: {pin.text}",
            f"PostgreSQL settings: fsync on, synchronous_commit on, wal_sync_method={sync}, "
            f"{' '.join(s[3:] for s in PG_SETTINGS)}; {SECONDS} s per pgbench/sidecar contender, "
            f"client batches {CEILING_ROWS} rows per run"]


def main():
    ap = argparse.ArgumentParser(description="make bench / make profile (see the docstring)")
    ap.add_argument("--profile", action="store_true", help="callgrind instructions per row")
    ap.add_argument("--sidecar", action="append", type=parse_sidecar_spec, default=[],
                    metavar="'CxK [OPTION...]'", help="add a sidecar contender")
    args = ap.parse_args()
    tmp = make_tmp("pgcoalesce-profile-" if args.profile else "pgcoalesce-bench-")
    try:
        if args.profile:
            db = Cluster(tmp, argparse.Namespace(pg=[], load=[]))
            try:
                db.start()
                profile(db, tmp)
            finally:
                db.stop()
            return
        pin = Pinning()
        bench = Bench(tmp, pin, SIDECARS + args.sidecar)
        try:
            bench.db.start()
            head = header(pin, bench.db)
            log(f"bench: pinning: {pin.text}")
            bench.normal_section()
            bench.upsert_sections()
            bench.keys_section()
            best = best_direct(bench.sections[0][1])
            bench.slow_section(best.pgbench)
            report(bench, head)
        finally:
            bench.db.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
