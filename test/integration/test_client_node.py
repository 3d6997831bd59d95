"""The Node.js client library (clients/node): its node:test files, run with
`node --test` against the real daemon and database started here (the node
tests start nothing themselves; they get sockets, pids and the database
from PGCOALESCE_TEST_* variables). One test per node test file."""
import os
import re
import shutil
import subprocess

import harness
from faultkit import Session
from harness import Failure

NODE_DIR = os.path.join(harness.ROOT, "clients", "node")


def run_node_tests(t, filename, env=None):
    """Run one node test file; Failure unless every one of its tests passed."""
    node = shutil.which("node")
    if node is None:  # never a silent skip: CI installs nodejs (make deps does too)
        raise Failure("node is not installed: `make deps` installs Debian's nodejs")
    path = os.path.join(NODE_DIR, "test", filename)
    with open(path) as f:
        expected = len(re.findall(r"^test\(", f.read(), re.M))
    e = {k: v for k, v in os.environ.items() if not k.startswith("PGCOALESCE_")}
    e.update(env or {})
    limit = 540 if harness.VALGRIND else 160  # below run.py's per-test alarm: keep node's output
    try:
        p = subprocess.run([node, "--test", "--test-reporter=tap", path], cwd=NODE_DIR, env=e,
                           capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as ex:
        raise Failure("node --test %s still running after %ds:\n%s\n%s" %
                      (filename, limit, (ex.stdout or "")[-8000:], (ex.stderr or "")[-3000:]))
    counts = dict(re.findall(r"^# (pass|fail|cancelled|skipped|todo) (\d+)$", p.stdout, re.M))
    if p.returncode != 0 or counts.get("pass") != str(expected) or counts.get("fail") != "0":
        raise Failure("node --test %s: exit %d, %s (expected %d passed)\n%s\n%s" %
                      (filename, p.returncode, counts, expected, p.stdout[-8000:], p.stderr[-3000:]))


def test_node_client_unit(t):
    run_node_tests(t, "unit.test.js")


def test_node_client_against_daemon(t):
    d = t.daemon("--allow-table", "events", "--allow-table", "t_values", "--allow-table", "t_checks",
                 "--allow-table", "App.Events", "--allow-table", "t_keyed", "--allow-table", "devices")
    run_node_tests(t, "client.test.js", {"PGCOALESCE_TEST_SOCKET": d.socket,
                                         "PGCOALESCE_TEST_DSN": t.db.dsn})


def test_node_client_held_rows(t):
    """Timeouts, overload, shutdown and a killed sidecar, with rows held in
    flight by a lock on t_keyed."""
    d = t.daemon()
    r = t.daemon("--max-pending-rows", "100", "--overload", "reject", "--shutdown-timeout-ms", "2000")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    run_node_tests(t, "held.test.js", {
        "PGCOALESCE_TEST_SOCKET": d.socket, "PGCOALESCE_TEST_PID": str(d.proc.pid),
        "PGCOALESCE_TEST_SOCKET_REJECT": r.socket, "PGCOALESCE_TEST_PID_REJECT": str(r.proc.pid)})
    assert r.wait_exit(30) == 0
    d.wait_exit(30)
    holder.release()
    # the rows answered PC004 or PC005 are not stored (the killed sidecar's are in doubt)
    assert t.db.count("t_keyed", "k LIKE 'r%'") == 0
    assert t.db.count(where="kind = 'late'") == 0
