"""`make bench`'s instrument: the parts whose mistakes would skew its figures
without showing. The server-CPU accounting of scripts/bench.py (a backend that
ends during a run still counts, what it used before the run does not) and the
client-side batch contenders of bin/bench-ceiling (every mode writes exactly
the rows `pgcoalesce-cli bench` sends). No timing is checked."""
import importlib.util
import os
import subprocess

import harness
from harness import Failure, wait_for

CEILING = os.path.join(harness.BIN_DIR, "bench-ceiling")


def load_bench_py():
    spec = importlib.util.spec_from_file_location("bench_py", os.path.join(harness.ROOT, "scripts", "bench.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def postmaster_pid(t):
    with open(os.path.join(t.cluster.data, "postmaster.pid")) as f:
        return int(f.readline())


class Session:
    """A psql session kept open, to run queries on one backend and see its pid."""

    def __init__(self, dsn):
        self.p = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pid = int(self.query("SELECT pg_backend_pid()"))

    def query(self, sql):
        self.p.stdin.write(sql + ";\n")
        line = self.p.stdout.readline()
        if not line:
            raise Failure("psql ended at: %s" % sql)
        return line.strip()

    def end(self):
        """Disconnect, and wait until the postmaster has reaped the backend."""
        self.p.stdin.close()
        self.p.wait(timeout=30)
        wait_for(lambda: not os.path.exists("/proc/%d" % self.pid), what="the backend to be reaped")


BUSY = "SELECT count(*) FROM generate_series(1, 3000000)"  # some CPU in the backend


def test_bench_cpu_counts_only_the_run(t):
    bench = load_bench_py()
    pm = postmaster_pid(t)

    # a backend that works before the run and ends during it: its earlier CPU is left out
    s = Session(t.db.dsn)
    s.query(BUSY)
    before_run = bench.read_stat(s.pid)[1] / bench.CLK_TCK
    a = bench.ServerSnapshot(pm)
    assert s.pid in a.children and bench.is_client_backend(a.children[s.pid][1]), a.children
    s.end()
    b = bench.ServerSnapshot(pm)
    client, total = bench.server_cpu(a, b)
    assert before_run > 0, "the busy query used no measurable CPU"
    assert 0 <= client < before_run / 2 and client <= total, (client, total, before_run)

    # a backend born and ended inside the run (pgbench's, bench-ceiling's): all of it counts
    a = bench.ServerSnapshot(pm)
    s = Session(t.db.dsn)
    s.query(BUSY)
    used = bench.read_stat(s.pid)[1] / bench.CLK_TCK
    s.end()
    b = bench.ServerSnapshot(pm)
    client, total = bench.server_cpu(a, b)
    assert used > 0 and s.pid not in b.children
    assert client >= used and total >= client, (client, total, used)
    # the auxiliary processes are not client backends
    aux = [cmd for _, cmd in b.children.values() if not bench.is_client_backend(cmd)]
    assert any("walwriter" in c for c in aux) and any("checkpointer" in c for c in aux), b.children


def ceiling_command(*args):
    if not os.path.exists(CEILING):
        raise Failure("%s is missing: make bin/bench-ceiling (make test builds it)" % CEILING)
    return [CEILING] + list(args)


def run_ceiling(t, *args):
    return subprocess.run(ceiling_command(*args), capture_output=True, text=True, timeout=120)


def test_bench_ceiling_writes_the_cli_bench_rows(t):
    for mode in ("unnest", "copy", "copy-binary"):
        p = run_ceiling(t, "--rows-per-statement", "7", "--connections", "2", t.db.dsn, mode, "50")
        assert p.returncode == 0 and p.stderr == "", p
        f = dict(kv.split("=") for kv in p.stdout.split()[1:])
        assert (f["mode"], f["connections"], f["rows_per_statement"], f["rows"], f["statements"]) == \
            (mode, "2", "7", "50", "8"), p.stdout
        # the rows `pgcoalesce-cli bench` sends: device_id = row number mod 1000, the rest fixed
        assert t.db.scalar("SELECT array_agg(device_id ORDER BY device_id) FROM events") == \
            list(range(50)), mode
        assert t.db.count(where="kind = 'bench' AND value = 1.5 AND payload = '{\"n\": 1}'") == 50, mode
        t.db.execute("TRUNCATE events")

    # --wait-start: "ready" once connected, nothing written before the go line
    p = subprocess.Popen(ceiling_command("--wait-start", t.db.dsn, "unnest", "1500"), text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == "ready\n"
    assert t.db.count() == 0
    out, err = p.communicate("go\n", timeout=120)
    assert p.returncode == 0 and err == "" and " rows=1500 statements=2 " in out, (out, err)
    assert t.db.count() == 1500

    for bad in (["--connections", "0", t.db.dsn, "copy", "10"], [t.db.dsn, "insert", "10"],
                [t.db.dsn, "copy"]):
        p = run_ceiling(t, *bad)
        assert p.returncode == 2 and p.stderr.startswith("usage: bench-ceiling"), (bad, p)
