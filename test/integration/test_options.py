"""Options (DESIGN.md "Daemon interface"): flags, environment, --help, bad options."""
import errno
import json
import os
import re
import signal
import stat
import subprocess
import time

import harness
from harness import Client, Failure, insert, wait_for

# DESIGN.md's option table: every one must exist, as a flag and in the environment.
DESIGN_OPTIONS = ["socket", "socket-mode", "max-batch-rows", "max-batch-bytes", "max-delay-ms",
                  "connections", "max-pending-rows", "overload", "retry-timeout-ms",
                  "shutdown-timeout-ms", "max-request-bytes", "max-clients", "allow-table",
                  "log-level", "dsn"]


def run_daemon(args, env=None, timeout=10):
    e = {k: v for k, v in os.environ.items() if not k.startswith("PGCOALESCE_")}
    e.update(env or {})
    return subprocess.run([harness.DAEMON] + args, capture_output=True, text=True, env=e,
                          timeout=timeout)


def help_options():
    p = run_daemon(["--help"])
    assert p.returncode == 0, p
    return re.findall(r"^\s+--([a-z-]+)", p.stdout, re.M), p.stdout


def test_help_and_version(t):
    opts, text = help_options()
    for o in DESIGN_OPTIONS + ["help", "version"]:
        assert o in opts, "--%s missing from --help:\n%s" % (o, text)
    assert "PGCOALESCE_" in text and "DATABASE_URL" in text, text
    p = run_daemon(["--version"])
    assert p.returncode == 0 and re.fullmatch(r"pgcoalesce \d+\.\d+\.\d+\n", p.stdout), p


def test_bad_options_exit_2_with_one_line(t):
    cases = [
        (["--nope"], "--nope"),
        (["--max-delay-ms", "soon"], "--max-delay-ms"),
        (["--max-batch-rows", "0"], "--max-batch-rows"),
        (["--connections", "99999"], "--connections"),
        (["--overload", "maybe"], "--overload"),
        (["--log-level", "loud"], "--log-level"),
        (["--socket-mode", "999"], "--socket-mode"),
        (["--max-delay-ms"], "--max-delay-ms"),
        (["stray"], "stray"),
    ]
    for args, name in cases:
        p = run_daemon(args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and name in lines[0], (args, p.stderr)
        assert p.stdout == "", (args, p.stdout)


def test_every_option_is_read_from_the_environment(t):
    """A bad value in PGCOALESCE_<NAME> must be reported naming that variable:
    proof that the daemon reads every option from the environment."""
    opts, _ = help_options()
    checked = 0
    for o in opts:
        if o in ("help", "version", "dsn", "socket", "allow-table", "config"):
            continue  # any string is valid for these; checked by behaviour below
        if o == "init-db":
            continue  # an action of the command line, like --help, not a setting
        var = "PGCOALESCE_" + o.upper().replace("-", "_")
        p = run_daemon([], env={var: "not-a-valid-value-\u00e9"})
        assert p.returncode == 2 and var in p.stderr and len(p.stderr.splitlines()) == 1, (var, p)
        checked += 1
    assert checked >= 11, checked


def test_environment_options_take_effect_and_flags_win(t):
    sock = os.path.join(t.tmp, "env.sock")
    d = t.daemon("--connections", "4",
                 env={"PGCOALESCE_SOCKET": sock, "PGCOALESCE_SOCKET_MODE": "0600",
                      "PGCOALESCE_ALLOW_TABLE": "events, app.events",
                      "PGCOALESCE_MAX_REQUEST_BYTES": "200", "PGCOALESCE_CONNECTIONS": "3"})
    assert d.socket == sock
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    c = d.client()
    assert c.request(insert(1)) == {"id": 1, "ok": True}
    assert c.request({"id": 2, "table": "app.events", "row": {"kind": "k"}}) == {"id": 2, "ok": True}
    a = c.request({"id": 3, "table": "t_values", "row": {}})
    assert a["error"]["code"] == "PC008", a
    a = c.request({"id": 4, "table": "events", "row": {"device_id": 1, "kind": "x" * 300}})
    assert a["error"]["code"] == "PC003", a
    # the flag wins over PGCOALESCE_CONNECTIONS
    wait_for(lambda: d.stats()["db_connections_up"] == 4, 10, what="4 connections")


def test_database_from_dsn_env_database_url_and_pg_variables(t):
    other = t.cluster.new_database()
    # PGCOALESCE_DSN wins over DATABASE_URL
    d = t.daemon(dsn=False, env={"PGCOALESCE_DSN": t.db.dsn, "DATABASE_URL": other.dsn})
    assert d.client().request(insert(1))["ok"] is True
    assert t.db.count() == 1 and other.count() == 0
    d.stop()
    # DATABASE_URL as a URI
    uri = "postgresql:///%s?host=%s&port=%d&user=%s" % (other.name, t.cluster.dir, t.cluster.port,
                                                        t.cluster.user)
    d = t.daemon(dsn=False, env={"DATABASE_URL": uri})
    assert d.client().request(insert(2))["ok"] is True
    assert other.count() == 1
    assert 'dsn_from="DATABASE_URL"' in d.log(), d.log()
    d.stop()
    # an empty PGCOALESCE_DSN (compose's `${VAR}` of an unset VAR) is unset: DATABASE_URL applies
    d = t.daemon(dsn=False, env={"PGCOALESCE_DSN": "", "DATABASE_URL": uri})
    assert d.client().request(insert(5))["ok"] is True
    assert other.count() == 2
    d.stop()
    # libpq's own PG* variables
    d = t.daemon(dsn=False, env={"PGHOST": t.cluster.dir, "PGPORT": str(t.cluster.port),
                                 "PGUSER": t.cluster.user, "PGDATABASE": other.name})
    assert d.client().request(insert(3))["ok"] is True
    assert other.count() == 3
    d.stop()
    # --dsn wins over everything
    d = t.daemon(dsn=t.db.dsn, env={"PGCOALESCE_DSN": other.dsn, "DATABASE_URL": other.dsn})
    assert d.client().request(insert(4))["ok"] is True
    assert t.db.count() == 2 and other.count() == 3


def test_no_database_configured_says_so_once(t):
    """Nothing names a database: one error line at start says where it looked and
    that libpq's defaults (the local socket) are tried; the sidecar still listens
    and ping says the database is down. Anything configured, even one PG*
    variable alone, and the line is not there."""
    unset = {k: None for k in os.environ if k.startswith("PG") and not k.startswith("PGC_")}
    home = os.path.join(t.tmp, "home")      # no ~/.pgpass or ~/.pg_service.conf
    os.mkdir(home)
    d = t.daemon(dsn=False, wait_db=False, env=dict(unset, HOME=home, PGDATABASE=""))
    assert d.ping() == "down"
    assert d.stop() == 0
    evs = d.events()
    errors = [e for e in evs if e["level"] == "error"]
    assert len(errors) == 1 and errors[0]["msg"] == "no database configured", errors
    assert evs.index(errors[0]) < [e["msg"] for e in evs].index("listening"), evs
    looked = errors[0]["looked_for"]
    for name in ("--dsn", "PGCOALESCE_DSN", "DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE",
                 "PGUSER", "PGSERVICE", "PGPASSFILE"):
        assert name in looked, (name, looked)
    assert "libpq's defaults: the local Unix socket, port 5432" in errors[0]["fallback"], errors[0]
    for env in ({"PGDATABASE": "no_such_db"}, {"DATABASE_URL": t.db.dsn},
                {"PGCOALESCE_DSN": "dbname=no_such_db"}):
        d = t.daemon(dsn=False, wait_db="DATABASE_URL" in env, env=dict(unset, HOME=home, **env))
        assert d.stop() == 0
        assert not [e for e in d.events() if e["level"] == "error"], (env, d.log())
    d = t.daemon("--dsn", "", dsn=False, wait_db=False, env=dict(unset, HOME=home))  # asks for the defaults
    assert d.stop() == 0
    assert "no database configured" not in d.log(), d.log()


def test_log_level_debug_and_error(t):
    d = t.daemon("--log-level", "debug")
    d.client().request(insert(1))
    d.stop()
    assert "level=debug" in d.log(), d.log()
    d = t.daemon("--log-level", "error")
    d.client().request(insert(2))
    d.stop()
    assert "level=info" not in d.log() and "level=debug" not in d.log(), d.log()


def test_socket_mode_default_is_0660(t):
    d = t.daemon()
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660


def kernel_allows_io_uring():
    """Does io_uring_setup(2) work for this process (kernel, sysctl, seccomp)?"""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)       # struct io_uring_params, zeroed
    fd = libc.syscall(425, 4, params)               # __NR_io_uring_setup on x86_64 and arm64
    if fd < 0:
        return False
    os.close(fd)
    return True


def test_io_uring_is_used_where_the_kernel_allows_and_named_at_startup(t):
    """--io-uring on (the default) uses the ring exactly when the kernel lets
    this process set one up, and the startup line says so; off is off. Rows
    go through either way."""
    want = "on" if kernel_allows_io_uring() else None
    d = t.daemon("--io-uring", "on")
    state = d.listening("io_uring")
    if want:
        assert state == "on", state
    else:
        assert state.startswith("off ("), state   # and why
    c = d.client()
    assert c.request(insert(1))["ok"] is True
    d2 = t.daemon("--io-uring", "off")
    assert d2.listening("io_uring") == "off"
    c2 = d2.client()
    assert c2.request(insert(2))["ok"] is True
    assert t.db.count() == 2


def test_io_uring_refused_by_seccomp_at_setup_or_later(t):
    """A seccomp profile that refuses io_uring_setup (Docker's and podman's
    defaults do) leaves the daemon reading and writing one call at a time,
    and the startup line says why. One that allows the setup but refuses
    io_uring_enter makes the first ring call fail under load: the daemon
    warns once, goes on without the ring, and every row of every client is
    committed and acked exactly once (uring.h)."""
    eperm = os.strerror(errno.EPERM)
    d = t.daemon("--io-uring", "on", preexec_fn=harness.refuse_syscall("io_uring_setup", errno.EPERM))
    assert d.listening("io_uring").startswith("off (io_uring_setup: %s" % eperm), d.listening("io_uring")
    assert d.client().request(insert(1))["ok"] is True

    d2 = t.daemon("--io-uring", "on", preexec_fn=harness.refuse_syscall("io_uring_enter", errno.EPERM))
    if kernel_allows_io_uring():
        assert d2.listening("io_uring") == "on", d2.listening("io_uring")
    else:                                                # no ring to fail: the plain path only
        assert d2.listening("io_uring").startswith("off ("), d2.listening("io_uring")
    clients = [d2.client() for _ in range(8)]
    for k, c in enumerate(clients):
        c.send(*[insert(1000 + 100 * k + i) for i in range(50)])
    for k, c in enumerate(clients):
        acks = c.by_id(c.recv_n(50))
        assert sorted(acks) == sorted(json.dumps(1000 + 100 * k + i) for i in range(50)), acks
        assert all(a["ok"] is True for a in acks.values()), acks
    assert t.db.count() == 401
    warned = d2.log().count("io_uring failed: reading and writing one system call at a time")
    assert warned == (1 if kernel_allows_io_uring() else 0), d2.log()


def test_sched_batch_follows_the_batch_size(t):
    """--sched-batch on: the daemon runs as SCHED_BATCH while
    its batches are big (32 rows or more) and as SCHED_NORMAL once they are
    small again, so a lone row is never left waiting for a busy CPU; off
    never changes the policy; a reload that turns it off puts it back to
    normal at once; full batches (the database is the bottleneck) stay
    normal (cpusched.h)."""
    conf = os.path.join(t.tmp, "sched.conf")
    with open(conf, "w") as f:
        f.write("sched-batch = on\n")
    one_batch = ("--max-delay-ms", "300", "--eager-flush", "off")  # pipelined rows share a batch

    def policy(d):
        return os.sched_getscheduler(d.proc.pid)

    def batch_of(d, c, n, first):
        c.send(*[insert(i) for i in range(first, first + n)])
        assert all(r["ok"] is True for r in c.recv_n(n)), "a row of %d failed" % n

    d = t.daemon("--config", conf, *one_batch)
    assert d.listening("sched_batch") == "on"
    assert policy(d) == os.SCHED_OTHER                  # light load until a big batch says otherwise
    c = d.client()
    batch_of(d, c, 40, 0)
    wait_for(lambda: policy(d) == os.SCHED_BATCH, what="SCHED_BATCH after a batch of 40")
    batch_of(d, c, 1, 100)
    wait_for(lambda: policy(d) == os.SCHED_OTHER, what="SCHED_NORMAL after a lone row")
    batch_of(d, c, 40, 200)
    wait_for(lambda: policy(d) == os.SCHED_BATCH, what="SCHED_BATCH again")
    with open(conf, "w") as f:
        f.write("sched-batch = off\n")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: policy(d) == os.SCHED_OTHER, what="SCHED_NORMAL after the reload turned it off")
    batch_of(d, c, 40, 300)
    assert policy(d) == os.SCHED_OTHER

    d2 = t.daemon("--sched-batch", "off", *one_batch)
    assert d2.listening("sched_batch") == "off"
    batch_of(d2, d2.client(), 40, 400)
    assert policy(d2) == os.SCHED_OTHER

    # full batches (--max-batch-rows): rows queue for the database, whose
    # results must be taken at once; a big batch below the limit still switches
    d3 = t.daemon("--max-batch-rows", "40", *one_batch)
    c3 = d3.client()
    batch_of(d3, c3, 40, 500)
    time.sleep(0.2)                                      # the loop has looked at the batch
    assert policy(d3) == os.SCHED_OTHER
    batch_of(d3, c3, 33, 600)
    wait_for(lambda: policy(d3) == os.SCHED_BATCH, what="SCHED_BATCH after a big batch below the limit")
    assert t.db.count() == 234


def test_sched_batch_refused_by_seccomp(t):
    """A container profile that refuses sched_setscheduler (EPERM) is found
    at startup: the listening line says off and why, the daemon keeps the
    policy it was started under through big batches, warns about nothing
    more, and every row is still committed and acked (cpusched.h)."""
    d = t.daemon("--max-delay-ms", "300", "--eager-flush", "off",
                 preexec_fn=harness.refuse_syscall("sched_setscheduler", errno.EPERM))
    assert d.listening("sched_batch") == "off (sched_setscheduler: %s)" % os.strerror(errno.EPERM), \
        d.listening("sched_batch")
    c = d.client()
    for first in (0, 100, 200):                          # big batches that would switch the policy
        c.send(*[insert(i) for i in range(first, first + 40)])
        assert all(r["ok"] is True for r in c.recv_n(40)), "a row failed"
    assert os.sched_getscheduler(d.proc.pid) == os.SCHED_OTHER
    assert t.db.count() == 120
    assert "cannot change the CPU scheduling policy" not in d.log(), d.log()
    assert d.stats()["batch_rows"]["sum"] == 120
