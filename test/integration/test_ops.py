"""Operating it: /metrics, logs, the config file and SIGHUP, install (issue 7)."""
import json
import math
import os
import re
import select
import signal
import socket
import subprocess
import time

import formats
from harness import DAEMON, ROOT, VALGRIND, Failure, insert, wait_for

METRICS = ("--metrics-listen", "127.0.0.1:0")


def sent_mix(d):
    """Rows of every fate over three pipelined clients; returns what was sent."""
    good_events, good_checks = 240, 30
    clients = [d.client() for _ in range(3)]
    reqs = [[] for _ in clients]
    for i in range(good_events):
        reqs[i % 3].append(insert(i))
    for i in range(good_checks):
        reqs[i % 3].append({"id": "c%d" % i, "table": "t_checks", "row": {"id": i, "v": i, "code": "k%d" % i}})
    bad_checks = [
        {"id": "b1", "table": "t_checks", "row": {"id": 1000, "v": -1}},            # 23514 check
        {"id": "b2", "table": "t_checks", "row": {"id": 1001, "v": 1, "code": "k3"}},  # 23505 unique
        {"id": "b3", "table": "t_checks", "row": {"id": 1002, "v": 1, "code": "k4"}},  # 23505 unique
        {"id": "b4", "table": "t_checks", "row": {"id": "x", "v": 1}},              # 22P02
    ]
    reqs[0] += bad_checks
    reqs[1] += [{"id": "n%d" % i, "table": "no_such_table", "row": {"a": i}} for i in range(2)]  # 42P01
    reqs[2] += ["this is not json", "{\"id\": 1,"]                                       # PC001 x2
    reqs[2] += [{"id": "op", "op": "nope"}]                                           # PC009
    for c, r in zip(clients, reqs):
        c.send(*r)
    acks = []
    for c, r in zip(clients, reqs):
        acks += c.recv_n(len(r))
    for c in clients:
        assert c.request({"op": "flush", "id": "f"})["ok"]
    return {"events": good_events, "checks": good_checks, "acks": acks, "clients": clients}


def test_metrics_scrape_matches_rows_sent(t):
    d = t.daemon(*METRICS, "--connections", "2")
    sent = sent_mix(d)
    failed = [a for a in sent["acks"] if not a["ok"]]
    assert len(failed) == 9, failed       # 6 rows and 3 request lines
    m = d.metrics()
    st = d.stats()

    # rows by table, as the database stores them
    assert t.db.count("events") == sent["events"]
    assert t.db.count("t_checks") == sent["checks"]
    assert m.value("pgcoalesce_rows_received_total", table="events") == sent["events"]
    assert m.value("pgcoalesce_rows_committed_total", table="events") == sent["events"]
    assert m.value("pgcoalesce_rows_received_total", table="t_checks") == sent["checks"] + 4
    assert m.value("pgcoalesce_rows_committed_total", table="t_checks") == sent["checks"]
    assert m.total("pgcoalesce_rows_failed_total", table="events") == 0
    # failures by table, SQLSTATE class and code
    f = "pgcoalesce_rows_failed_total"
    assert m.value(f, table="t_checks", code="23514", **{"class": "23"}) == 1
    assert m.value(f, table="t_checks", code="23505", **{"class": "23"}) == 2
    assert m.value(f, table="t_checks", code="22P02", **{"class": "22"}) == 1
    assert m.total(f, **{"class": "23"}) == 3
    assert m.total(f, table="no_such_table") == 2
    assert m.total(f, table="no_such_table", **{"class": "42"}) == 2
    assert m.total(f) == 6
    # refused before a row existed
    assert m.value("pgcoalesce_requests_rejected_total", code="PC001") == 2
    assert m.value("pgcoalesce_requests_rejected_total", code="PC009") == 1
    assert m.value("pgcoalesce_requests_rejected_total", code="PC002") == 0
    # gauges
    assert m.value("pgcoalesce_pending_rows") == 0
    assert m.value("pgcoalesce_clients_connected") == 3
    assert m.value("pgcoalesce_db_up") == 1
    # the rows may all have gone through the first connection before the
    # second finished its set-up (its malloc warm-up takes a moment)
    wait_for(lambda: d.metrics().value("pgcoalesce_db_connections_up") == 2,
             what="both database connections up")
    assert m.value("pgcoalesce_db_connections") == 2
    assert m.value("pgcoalesce_max_pending_rows") == 100000

    # histograms agree with the counters
    acked = sent["events"] + sent["checks"] + 6
    assert m.value("pgcoalesce_ack_latency_seconds_count") == acked
    assert m.value("pgcoalesce_batch_rows_sum") == acked
    batches = m.value("pgcoalesce_batch_rows_count")
    assert m.value("pgcoalesce_flush_duration_seconds_count") == batches
    # the unknown table's rows failed on their own (a client's mistake): not a failed batch
    assert m.value("pgcoalesce_batches_failed_total") == 0
    assert 2 <= m.value("pgcoalesce_batches_committed_total") < batches  # events and t_checks
    assert 0 < m.value("pgcoalesce_ack_latency_seconds_sum") < acked * 10
    big = m.value("pgcoalesce_batch_rows_bucket", le="1000")
    assert big == batches, "a batch bigger than --max-batch-rows"
    for fam in ("pgcoalesce_rows_received_total", "pgcoalesce_batches_failed_total",
                "pgcoalesce_retries_total", "pgcoalesce_client_connections_total"):
        assert m[fam]["type"] == "counter", fam
    for fam in ("pgcoalesce_pending_rows", "pgcoalesce_db_up", "pgcoalesce_clients_connected"):
        assert m[fam]["type"] == "gauge", fam
    for name, fam in m.items():
        assert name.startswith(("pgcoalesce_", "process_")), name
        assert fam["help"], name
        assert (fam["type"] == "counter") == name.endswith("_total"), name

    # the stats request shows the same figures
    assert st["rows_received"] == m.total("pgcoalesce_rows_received_total")
    assert st["rows_committed"] == m.total("pgcoalesce_rows_committed_total")
    assert st["rows_failed"] == m.total("pgcoalesce_rows_failed_total")
    assert st["batches_committed"] == m.value("pgcoalesce_batches_committed_total")
    assert st["batches_failed"] == m.value("pgcoalesce_batches_failed_total")
    assert st["rows_failed_by_class"] == {"22": 1, "23": 3, "42": 2}, st["rows_failed_by_class"]
    assert st["requests_rejected"]["PC001"] == 2
    assert st["tables"]["public.t_checks"]["rows_failed_by_code"] == {"22P02": 1, "23505": 2, "23514": 1}
    assert st["tables"]["public.events"]["rows_received"] == sent["events"]
    assert st["batch_rows"]["count"] == batches and st["batch_rows"]["sum"] == acked
    assert st["ack_latency_seconds"]["buckets"]["+Inf"] == acked
    for key in ("rows_received", "rows_committed", "rows_failed", "batches_committed", "batches_failed",
                "retries", "pending_rows", "clients_connected", "db_connections_up"):
        assert isinstance(st[key], int), key   # PROTOCOL.md's required fields stay


def proc_figures(pid):
    """(CPU seconds, start time, soft RLIMIT_NOFILE) of a process, read from /proc
    the way Prometheus client libraries compute process_* series."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()     # fields[0] is proc(5)'s field 3
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        btime = next(int(l.split()[1]) for l in f if l.startswith("btime "))
    with open("/proc/%d/limits" % pid) as f:
        soft = next(l.split()[3] for l in f if l.startswith("Max open files"))
    return (int(fields[11]) + int(fields[12])) / tck, btime + int(fields[19]) / tck, soft


def test_metrics_process_series(t):
    """process_* as client libraries export them: names, types and HELP texts,
    and values that agree with what /proc says of the daemon's process."""
    d = t.daemon(*METRICS)
    pid = d.proc.pid
    m0 = d.metrics()
    clients = [d.client() for _ in range(20)]
    for c in clients:
        assert c.request({"op": "ping", "id": 1})["ok"]
    cpu_before, start, soft = proc_figures(pid)
    m = d.metrics()
    cpu_after, _, _ = proc_figures(pid)
    want = {"process_cpu_seconds_total": ("counter", "Total user and system CPU time spent in seconds."),
            "process_open_fds": ("gauge", "Number of open file descriptors."),
            "process_max_fds": ("gauge", "Maximum number of open file descriptors."),
            "process_virtual_memory_bytes": ("gauge", "Virtual memory size in bytes."),
            "process_resident_memory_bytes": ("gauge", "Resident memory size in bytes."),
            "process_start_time_seconds": ("gauge", "Start time of the process since unix epoch in seconds.")}
    for name, (typ, help_text) in want.items():
        assert name in m, (name, sorted(m))
        assert (m[name]["type"], m[name]["help"]) == (typ, help_text), (name, m[name])
        assert [(n, l) for n, l, _ in m[name]["samples"]] == [(name, {})], m[name]
    v = {name: m.value(name) for name in want}
    assert cpu_before <= v["process_cpu_seconds_total"] <= cpu_after, (cpu_before, v, cpu_after)
    assert abs(v["process_start_time_seconds"] - start) < 1e-6, (v, start)
    # valgrind keeps a few descriptors of the limit for itself
    limit = math.inf if soft == "unlimited" else int(soft)
    assert v["process_max_fds"] == limit or (VALGRIND and limit - 100 < v["process_max_fds"] < limit), (v, soft)
    # 20 more clients, 20 more descriptors (the harness's probes may come and go)
    assert v["process_open_fds"] >= m0.value("process_open_fds") + 20, (m0.value("process_open_fds"), v)
    assert v["process_open_fds"] <= v["process_max_fds"], v
    rss = v["process_resident_memory_bytes"]
    assert rss > 0 and rss % os.sysconf("SC_PAGE_SIZE") == 0 and rss < v["process_virtual_memory_bytes"], v
    with open("/proc/%d/status" % pid) as f:
        vm_rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
    assert vm_rss / 2 < rss < vm_rss * 2, (rss, vm_rss)


def test_metrics_http_is_robust(t):
    d = t.daemon(*METRICS)
    host, port = d.metrics_address().rsplit(":", 1)
    addr = (host, int(port))

    def read_to_eof(s):
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk

    def raw(data, shut=True):
        s = socket.create_connection(addr, timeout=10)
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = read_to_eof(s)
        s.close()
        return out

    def status(resp):
        return int(resp.split(b" ", 2)[1])

    # a client that never finishes its request is answered 408 and closed (HTTP_TIMEOUT, 10 s)
    slow = socket.create_connection(addr, timeout=30)
    t.cleanups.append(slow.close)
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    slow_since = time.monotonic()

    assert d.scrape("/")[0] == 404
    assert d.scrape("/metrics/x")[0] == 404
    st, headers, _ = d.scrape("/metrics", method="POST")
    assert st == 405 and headers["allow"] == "GET, HEAD"
    st, headers, body = d.scrape("/metrics", method="HEAD")
    assert st == 200 and body == "" and int(headers["content-length"]) > 1000
    assert d.scrape("/metrics?x=1")[0] == 200
    assert status(raw(b"GARBAGE\r\n\r\n")) == 400
    assert status(raw(b"GET /metrics HTTP/2.0\r\n\r\n")) == 505
    assert status(raw(b"GET /metrics\r\n\r\n")) == 400
    assert status(raw(b"GET /metrics HTTP/1.0\n\n")) == 200
    assert status(raw(b"GET http://localhost/metrics HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    assert status(raw(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", shut=False)) == 431
    assert raw(b"GET /metr") == b""     # gone before a whole request: nothing to answer
    # clients that send half a request and stall hold no one up: scrapes and the socket answer
    stalled = []
    for _ in range(8):
        s = socket.create_connection(addr, timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        stalled.append(s)
        t.cleanups.append(s.close)
    c = d.client()
    assert c.request({"op": "ping", "id": 1}, timeout=5)["ok"]
    for _ in range(5):
        d.metrics()
    # more than HTTP_MAX_CONNS (32) open at once: the extra ones are closed at accept
    for _ in range(40):
        s = socket.create_connection(addr, timeout=10)
        stalled.append(s)
        t.cleanups.append(s.close)
    fresh, refused, deadline = stalled[8:], set(), time.monotonic() + 3
    while time.monotonic() < deadline and len(refused) < 8:
        readable, _, _ = select.select([s for s in fresh if s not in refused], [], [], 0.2)
        for s in readable:
            try:
                if s.recv(1) == b"":
                    refused.add(s)
            except ConnectionResetError:
                refused.add(s)
    # 8 stalled + 40 new against 32 slots: some refused at once, most accepted
    assert 8 <= len(refused) <= 20, len(refused)
    for s in stalled:
        s.close()

    def scrape_ok():
        try:
            return d.scrape()[0] == 200
        except (ConnectionResetError, BrokenPipeError):
            return False  # the daemon has not yet seen them go: still full, closed at accept
    wait_for(scrape_ok, 10, what="a scrape once the stalled clients left")
    assert c.request({"op": "ping", "id": 2}, timeout=5)["ok"]
    assert any(e["msg"] == "metrics connection refused: too many open" for e in d.events())
    got = read_to_eof(slow)
    assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), got
    assert time.monotonic() - slow_since > 5, "closed long before its timeout"


def test_metrics_database_down_and_rate_limited_warnings(t):
    gone = os.path.join(t.tmp, "no-postgres-here")
    d = t.daemon(*METRICS, "--log-level", "debug", "--retry-timeout-ms", "500",
                 dsn="host=%s dbname=x" % gone, wait_db=False)
    c = d.client()
    c.send(*[insert(i) for i in range(5)])
    acks = c.recv_n(5, timeout=10)
    assert {a["error"]["code"] for a in acks} == {"PC006"}, acks
    time.sleep(2.5)   # reconnects back off from 50 ms: several attempts per connection
    m = d.metrics()
    assert m.value("pgcoalesce_db_up") == 0
    assert m.value("pgcoalesce_db_connections_up") == 0
    assert m.value("pgcoalesce_rows_failed_total", table="events", code="PC006", **{"class": "PC"}) == 5
    assert m.value("pgcoalesce_pending_rows") == 0
    assert c.request({"op": "ping", "id": 1}) == {"id": 1, "ok": True, "db": "down",
                                                        "features": ["describe", "on_conflict", "key"]}
    expired = [e for e in d.events() if e["msg"] == "rows failed: not written within --retry-timeout-ms"]
    assert expired and expired[0]["level"] == "warn" and expired[0]["sqlstate"] == "PC006", expired
    assert sum(int(e["rows"]) for e in expired) <= 5 and len(expired) <= 2, expired
    evs = d.events()
    attempts = [e for e in evs if e["msg"] == "database connection attempt failed"]
    warned = [e for e in evs if e["msg"] == "database unreachable"]
    assert len(attempts) >= 6, len(attempts)
    assert len(warned) == 1, warned          # once per 30 s, however many attempts
    assert warned[0]["level"] == "warn" and "no-postgres-here" in warned[0]["error"]
    assert all(e["level"] == "debug" for e in attempts)


def ack_time(c, req, timeout=30):
    t0 = time.monotonic()
    ack = c.request(req, timeout=timeout)
    assert ack["ok"], ack
    return time.monotonic() - t0


def wait_log(d, msg, n=1, timeout=10):
    return wait_for(lambda: [e for e in d.events() if e["msg"] == msg][n - 1:] and
                    [e for e in d.events() if e["msg"] == msg], timeout, what="log %r x%d" % (msg, n))


def test_sighup_changes_max_delay_in_behaviour(t):
    conf = os.path.join(t.tmp, "pgcoalesce.conf")
    with open(conf, "w") as f:
        f.write("# long delay, deadline-only batching\nmax-delay-ms = 3000\neager-flush = off\n"
                "connections = 2\n")
    d = t.daemon("--config", conf, *METRICS)
    c = d.client()
    slow = ack_time(c, insert(1))
    assert slow >= 2.0, "a lone row waited %.3fs with max-delay-ms = 3000" % slow

    # a row waiting under the long delay, then the delay shortens: it goes at once
    c.send(insert(2))
    time.sleep(0.3)
    with open(conf, "w") as f:
        f.write("max-delay-ms = 50\neager-flush = off\nconnections = 3\n")
    t_hup = time.monotonic()
    d.send_signal(signal.SIGHUP)
    ack = c.recv(timeout=10)
    waited = time.monotonic() - t_hup
    assert ack == {"id": 2, "ok": True}, ack
    assert waited < 1.5, "the waiting row was acked %.3fs after SIGHUP" % waited
    fast = ack_time(c, insert(3))
    assert fast < 1.0 and fast < slow / 2, (fast, slow)

    evs = d.events()
    changed = [e for e in evs if e["msg"] == "config option changed"]
    assert [(e["option"], e["old"], e["new"]) for e in changed] == [("max-delay-ms", "3000", "50")], changed
    restart = [e for e in evs if e["msg"] == "config option needs a restart: not applied"]
    assert [(e["option"], e["current"], e["new"], e["level"]) for e in restart] == \
        [("connections", "2", "3", "warn")], restart
    assert [e for e in evs if e["msg"] == "config reloaded"][0]["applied"] == "1"
    m = d.metrics()
    assert m.value("pgcoalesce_db_connections") == 2          # not applied
    assert m.value("pgcoalesce_config_reloads_total", result="ok") == 1

    # a broken file: logged with file and line, the running configuration stays
    with open(conf, "w") as f:
        f.write("max-delay-ms = 3000\nmax-batch-rows = lots\n")
    d.send_signal(signal.SIGHUP)
    err = wait_log(d, "config reload failed: the running configuration stays")[0]
    assert err["level"] == "error"
    assert err["error"].startswith(conf + ":2: invalid value \"lots\" for max-batch-rows"), err
    assert ack_time(c, insert(4)) < 1.0                       # still 50 ms
    m = d.metrics()
    assert m.value("pgcoalesce_config_reloads_total", result="error") == 1
    assert m.value("pgcoalesce_config_last_reload_successful") == 0
    assert t.db.count() == 4


def test_sighup_log_level_and_overridden_values(t):
    conf = os.path.join(t.tmp, "pgcoalesce.conf")
    with open(conf, "w") as f:
        f.write("log-level = warn\nmax-batch-rows = 500\n")
    d = t.daemon("--config", conf, "--max-batch-rows", "100")
    c = d.client()
    assert c.request(insert(1))["ok"]
    assert not [e for e in d.events() if e["msg"] == "client connected"]   # info is off
    with open(conf, "w") as f:
        f.write("log-level = info\nmax-batch-rows = 700\n")
    d.send_signal(signal.SIGHUP)
    wait_log(d, "config reloaded")
    d.client().request({"op": "ping"})
    wait_log(d, "client connected")
    evs = d.events()
    over = [e for e in evs if e["msg"] == "config file value not applied: overridden"]
    assert [(e["option"], e["value"], e["file"], e["by"]) for e in over] == \
        [("max-batch-rows", "100", "700", "command line")], over
    assert [(e["option"], e["old"], e["new"]) for e in evs if e["msg"] == "config option changed"] == \
        [("log-level", "warn", "info")]


def test_sighup_without_config_file(t):
    d = t.daemon()
    d.send_signal(signal.SIGHUP)
    wait_log(d, "SIGHUP: no --config file to re-read")
    assert d.client().request({"op": "ping", "id": 1})["ok"]


def test_config_file_applied_and_overridden(t):
    conf = os.path.join(t.tmp, "p.conf")
    with open(conf, "w") as f:
        f.write("""# pgcoalesce test configuration
   connections = 3
max-pending-rows = 5000

max-batch-rows=7
max-delay-ms = 60000
eager-flush = off
log-level = "debug"
allow-table = events, t_checks
""")
    d = t.daemon(*METRICS, "--config", conf, "--connections", "4",
                 env={"PGCOALESCE_MAX_PENDING_ROWS": "6000"})
    m = d.metrics()
    assert m.value("pgcoalesce_db_connections") == 4          # the flag wins over the file
    assert m.value("pgcoalesce_max_pending_rows") == 6000     # the environment wins over the file
    c = d.client()
    c.send(*[insert(i) for i in range(20)])
    # max-batch-rows = 7 from the file: 14 rows go in two batches, 6 wait for the 60 s deadline
    acks = c.recv_n(14, timeout=10)
    assert all(a["ok"] for a in acks)
    c.send({"op": "flush", "id": "f"})
    rest = c.recv_n(7, timeout=10)         # the 6 acks, then the flush's answer
    assert rest[-1] == {"id": "f", "ok": True} and all(a["ok"] for a in rest), rest
    m = d.metrics()
    assert m.value("pgcoalesce_batch_rows_count") == 3, m.samples("pgcoalesce_batch_rows_bucket")
    assert m.value("pgcoalesce_batch_rows_bucket", le="5") == 0
    assert m.value("pgcoalesce_batch_rows_bucket", le="10") == 3
    ack = c.request({"id": 1, "table": "app.events", "row": {"kind": "x"}})
    assert ack["error"]["code"] == "PC008", ack                # allow-table from the file
    evs = d.events()
    assert any(e["level"] == "debug" for e in evs)             # log-level from the file
    assert [e for e in evs if e["msg"] == "listening"][0]["config"] == conf
    assert t.db.count() == 20


def run_daemon_args(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("PGCOALESCE_")}
    e.update(env or {})
    return subprocess.run([DAEMON] + list(args), capture_output=True, text=True, timeout=30, env=e)


def test_config_errors_exit_2_with_one_line(t):
    def conf(text):
        p = os.path.join(t.tmp, "bad%d.conf" % t.next_serial())
        with open(p, "w") as f:
            f.write(text)
        return p

    cases = [
        (conf("max-delay-ms = 5\nmax-delay-msec = 5\n"), ":2: unknown option \"max-delay-msec\""),
        (conf("# ok\n\nconnections 4\n"), ":3: expected \"option = value\""),
        (conf("connections = 0\n"), ":1: invalid value \"0\" for connections (expected an integer from 1 to 256)"),
        (conf("overload = maybe\n"), ":1: invalid value \"maybe\" for overload (expected block|reject)"),
        (conf("config = /etc/other.conf\n"), ":1: option \"config\" cannot be set in a config file"),
        (conf("log-format = xml\n"), ":1: invalid value \"xml\" for log-format (expected logfmt|json)"),
        (conf("metrics-listen = 9187\n"), ":1: invalid value \"9187\" for metrics-listen"),
    ]
    for path, want in cases:
        p = run_daemon_args("--config", path, "--socket", os.path.join(t.tmp, "never.sock"))
        assert p.returncode == 2, (path, p.returncode, p.stderr)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pgcoalesce: " + path + want), (want, p.stderr)
    missing = os.path.join(t.tmp, "missing.conf")
    p = run_daemon_args("--config", missing)
    assert p.returncode == 2 and p.stderr == \
        "pgcoalesce: cannot read config file %s: No such file or directory\n" % missing, p.stderr
    p = run_daemon_args(env={"PGCOALESCE_CONFIG": missing})
    assert p.returncode == 2 and missing in p.stderr and len(p.stderr.splitlines()) == 1
    p = run_daemon_args("--log-format", "yaml")
    assert p.returncode == 2 and p.stderr.splitlines() == \
        ['pgcoalesce: invalid value "yaml" for --log-format (expected logfmt|json)']
    p = run_daemon_args("--metrics-listen", "[::1:80")
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, p.stderr
    # --help wins over a bad file, and documents the new options
    p = run_daemon_args("--config", cases[0][0], "--help")
    assert p.returncode == 0
    for opt in ("--config FILE", "--metrics-listen HOST:PORT", "--log-format logfmt|json", "SIGHUP"):
        assert opt in p.stdout, opt


def test_metrics_listen_in_use_exits_1(t):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    t.cleanups.append(s.close)
    port = s.getsockname()[1]
    p = run_daemon_args("--socket", os.path.join(t.tmp, "m.sock"), "--dsn", t.db.dsn,
                        "--metrics-listen", "127.0.0.1:%d" % port)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr == "pgcoalesce: --metrics-listen 127.0.0.1:%d: cannot listen on 127.0.0.1:%d: " \
        "Address already in use\n" % (port, port), p.stderr
    assert not os.path.exists(os.path.join(t.tmp, "m.sock"))   # nothing left behind


WEIRD = 'we"ird \\ na=me\n'


def exercise_logs(t, *args):
    """A run that logs most kinds of events; returns the daemon (stopped)."""
    d = t.daemon(*METRICS, "--log-level", "debug", "--max-request-bytes", "100", *args)
    c = d.client()
    c.send(*[insert(i) for i in range(500)])
    assert all(a["ok"] for a in c.recv_n(500))
    c.send({"id": "w", "table": WEIRD, "row": {"a": 1}}, "x" * 300, "nope")
    acks = c.recv_n(3)
    assert {a["error"]["code"] for a in acks} == {"42P01", "PC003", "PC001"}, acks
    d.metrics()
    d.send_signal(signal.SIGHUP)
    wait_log(d, "SIGHUP: no --config file to re-read")
    c.close()
    assert d.stop() == 0
    return d


def check_events(evs, d):
    msgs = [e["msg"] for e in evs]
    for want in ("listening", "database connected", "client connected", "client closed",
                 "batch done", "http request", "shutting down: flushing pending rows",
                 "shutdown complete"):
        assert want in msgs, (want, msgs)
    levels = {e["msg"]: e["level"] for e in evs}
    assert levels["database connected"] == "info" and levels["client connected"] == "info"
    assert levels["batch done"] == "debug"
    # a row failing on its own (a table that does not exist) is no failed batch: no warn line
    assert "batch failed" not in msgs, msgs
    bad = [e for e in evs if e["msg"] == "batch done" and e["table"] == WEIRD]
    assert len(bad) == 1, bad
    assert str(bad[0]["failed"]) == "1" and str(bad[0]["ok"]) == "0" and bad[0]["sqlstate"] == "42P01"
    # nothing per row above debug: 500 rows and 3 refused requests, a handful of lines
    # (besides a line per client connecting and leaving: the harness's probes are clients too)
    above = [e for e in evs if e["level"] != "debug" and e["msg"] not in ("client connected", "client closed")]
    assert len(above) < 10, above
    conns = [e for e in evs if e["msg"] == "client connected"]
    # (the harness probes the socket until the daemon answers: more probes on a loaded machine)
    assert len(conns) == len([e for e in evs if e["msg"] == "client closed"]) < 100, conns


def test_logs_are_logfmt_every_line(t):
    d = exercise_logs(t)
    text = d.log()
    assert not text.lstrip().startswith("{")
    evs = [formats.parse_logfmt(l) for l in text.splitlines()]   # every line, strictly
    check_events(evs, d)
    raw = [l for l in text.splitlines() if 'msg="batch done"' in l and 'we\\"ird' in l][0]
    assert 'table="we\\"ird \\\\ na=me\\n"' in raw, raw


def test_logs_as_json_with_log_format_json(t):
    d = exercise_logs(t, "--log-format", "json")
    lines = d.log().splitlines()
    evs = [formats.parse_json_log(l) for l in lines]
    check_events(evs, d)
    done = [e for e in evs if e["msg"] == "batch done"]
    assert all(isinstance(e["rows"], int) and isinstance(e["ms"], float) for e in done), done
    assert sum(e["ok"] for e in done) == 500
    listening = [e for e in evs if e["msg"] == "listening"][0]
    assert listening["connections"] == 2 and listening["eager_flush"] == "on"


def test_log_format_from_environment_and_reload(t):
    conf = os.path.join(t.tmp, "p.conf")
    with open(conf, "w") as f:
        f.write("log-format = json\n")
    d = t.daemon("--config", conf)
    wait_log(d, "listening")
    assert d.log().startswith("{")
    with open(conf, "w") as f:
        f.write("log-format = logfmt\n")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: "config option changed" in d.log(), 10, what="the reload")
    lines = d.log().splitlines()
    json_lines = [l for l in lines if l.startswith("{")]
    fmt_lines = [l for l in lines if not l.startswith("{")]
    for l in json_lines:
        formats.parse_json_log(l)
    for l in fmt_lines:
        formats.parse_logfmt(l)
    assert fmt_lines and json_lines
    d2 = t.daemon(env={"PGCOALESCE_LOG_FORMAT": "json"})
    wait_log(d2, "listening")
    assert all(json.loads(l)["level"] for l in d2.log().splitlines())


# ---------------------------------------------------------------- install, man pages

def help_options(binary):
    """Options in the first column of `binary --help` ("  -s, --socket PATH   ...")."""
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30).stdout
    opts = set()
    for line in out.splitlines():
        if re.match(r"^\s+-", line):
            opts.update(re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", re.split(r"\s{2,}", line.strip())[0]))
    return sorted(opts)


def man_options(path):
    """Options named in the tags of the man page's .TP entries."""
    with open(path) as f:
        text = f.read()
    tags = re.findall(r"^\.TP\n(\.B[IR]? .*)$", text, re.M)
    opts = set()
    for tag in tags:
        opts.update(o.replace("\\-", "-") for o in re.findall(r"\\-(?:\\-)?[a-zA-Z](?:[a-zA-Z]|\\-)*", tag))
    return sorted(opts)


def test_man_pages_match_help(t):
    opts = help_options(DAEMON)
    assert "--metrics-listen" in opts and "--config" in opts and "--help" in opts, opts
    assert man_options(os.path.join(ROOT, "man", "pgcoalesce.1")) == opts
    # README calls contrib/pgcoalesce.conf "an example with every option"
    with open(os.path.join(ROOT, "contrib", "pgcoalesce.conf")) as f:
        in_example = set(re.findall(r"^#? ?([a-z][a-z-]*) = ", f.read(), re.M))
    missing = {o[2:] for o in opts} - {"config", "help", "version", "init-db"} - in_example  # actions, not settings
    assert not missing, sorted(missing)
    # the CLI grows on its own branch: every option of its --help is documented, and the
    # page has every option DESIGN.md gives it
    cli = os.path.join(os.path.dirname(DAEMON), "pgcoalesce-cli")
    copts, cman = help_options(cli), man_options(os.path.join(ROOT, "man", "pgcoalesce-cli.1"))
    assert "-s" in copts and "--help" in copts, copts
    assert set(copts) <= set(cman), sorted(set(copts) - set(cman))
    assert set(cman) >= {"-s", "-c", "-f", "-q", "-v", "--table", "--clients", "--pipeline", "--rows",
                         "--duration", "--help", "--version"}, cman
    for page in ("pgcoalesce.1", "pgcoalesce-cli.1", "libpgcoalesce.3"):
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(ROOT, "man", page)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and not p.stderr, (page, p.stderr)


def make(*args):
    """make in the repository with the flavour the binaries were built with (a plain
    `make install` after `make SANITIZE=...` would relink them unsanitized mid-run)."""
    try:
        with open(os.path.join(ROOT, "build", "flavor")) as f:
            flavor = f.read().strip()[1:]
    except OSError:
        flavor = ""
    cmd = ["make", "-s", "-C", ROOT] + (["SANITIZE=" + flavor] if flavor else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def tree(top):
    """Every directory and file under top, relative to it (directories end in /)."""
    out = []
    for dp, ds, fs in os.walk(top):
        rel = os.path.relpath(dp, top)
        out += [os.path.normpath(os.path.join(rel, d)) + "/" for d in ds]
        out += [os.path.normpath(os.path.join(rel, f)) for f in fs]
    return sorted(out)


def test_make_install_layout(t):
    dest = os.path.join(t.tmp, "dest")
    os.mkdir(dest)
    p = make("install", "DESTDIR=" + dest, "PREFIX=/opt/pgc")
    assert p.returncode == 0, p.stdout + p.stderr
    root = dest + "/opt/pgc"
    for f, mode in (("bin/pgcoalesce", 0o755), ("bin/pgcoalesce-cli", 0o755),
                    ("share/man/man1/pgcoalesce.1", 0o644), ("share/man/man1/pgcoalesce-cli.1", 0o644),
                    ("lib/systemd/system/pgcoalesce.service", 0o644),
                    ("share/doc/pgcoalesce/pgcoalesce.conf.example", 0o644),
                    ("etc/pgcoalesce/pgcoalesce.conf", 0o644),
                    ("lib/libpgcoalesce.so.0.1.0", 0o755), ("lib/libpgcoalesce.a", 0o644),
                    ("include/pgcoalesce.h", 0o644), ("lib/pkgconfig/pgcoalesce.pc", 0o644),
                    ("share/man/man3/libpgcoalesce.3", 0o644)):
        st = os.stat(os.path.join(root, f))
        assert st.st_mode & 0o777 == mode, (f, oct(st.st_mode))
    # the library's links: soname (what programs load) and the name -lpgcoalesce finds
    assert os.readlink(root + "/lib/libpgcoalesce.so.0") == "libpgcoalesce.so.0.1.0"
    assert os.readlink(root + "/lib/libpgcoalesce.so") == "libpgcoalesce.so.0"
    with open(root + "/lib/pkgconfig/pgcoalesce.pc") as f:
        pc = f.read()
    assert "libdir=/opt/pgc/lib\n" in pc and "includedir=/opt/pgc/include\n" in pc, pc
    assert "Version: 0.1.0\n" in pc and "Libs: -L${libdir} -lpgcoalesce\n" in pc, pc
    with open(root + "/lib/systemd/system/pgcoalesce.service") as f:
        unit = f.read()
    m = re.search(r"^ExecStart=(\S+) (.*)$", unit, re.M)
    assert m and m.group(1) == "/opt/pgc/bin/pgcoalesce", unit
    assert "--config /opt/pgc/etc/pgcoalesce/pgcoalesce.conf" in m.group(2), unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    # the example configuration the unit points at parses and starts the daemon
    example = root + "/share/doc/pgcoalesce/pgcoalesce.conf.example"
    d = t.daemon("--config", example, "--socket", os.path.join(t.tmp, "ex.sock"))
    assert d.client().request({"op": "ping", "id": 1})["ok"]
    assert d.stop() == 0
    # installing again over it, then uninstalling: no file and no directory left
    p = make("install", "DESTDIR=" + dest, "PREFIX=/opt/pgc")
    assert p.returncode == 0, p.stdout + p.stderr
    p = make("uninstall", "DESTDIR=" + dest, "PREFIX=/opt/pgc")
    assert p.returncode == 0, p.stderr
    assert tree(dest) == [], tree(dest)
    # that install compiled /opt/pgc/etc into the CLI (its config lookup): build
    # the default again for the tests that follow
    assert make().returncode == 0


def test_make_uninstall_keeps_what_was_there(t):
    """uninstall removes only the directories install made, once empty: an empty
    directory that was there before stays, so does one holding a file of
    someone else's, and a changed configuration keeps its directory."""
    dest = os.path.join(t.tmp, "dest")
    os.makedirs(dest + "/usr/share/man/man1")                 # there before, empty
    os.makedirs(dest + "/usr/bin")
    with open(dest + "/usr/bin/other-tool", "w") as f:        # there before, not ours
        f.write("x")
    before = tree(dest)
    p = make("install", "DESTDIR=" + dest, "PREFIX=/usr")
    assert p.returncode == 0, p.stdout + p.stderr
    assert os.path.exists(dest + "/etc/pgcoalesce/pgcoalesce.conf")   # SYSCONFDIR=/etc for /usr
    p = make("uninstall", "DESTDIR=" + dest, "PREFIX=/usr")
    assert p.returncode == 0, p.stderr
    assert tree(dest) == before, tree(dest)
    # a configuration the user changed stays, with the directories that hold it
    p = make("install", "DESTDIR=" + dest, "PREFIX=/usr")
    assert p.returncode == 0, p.stdout + p.stderr
    with open(dest + "/etc/pgcoalesce/pgcoalesce.conf", "a") as f:
        f.write("max-delay-ms = 10\n")
    p = make("uninstall", "DESTDIR=" + dest, "PREFIX=/usr")
    assert p.returncode == 0, p.stderr
    assert tree(dest) == sorted(before + ["etc/", "etc/pgcoalesce/", "etc/pgcoalesce/pgcoalesce.conf"]), \
        tree(dest)
    assert make().returncode == 0   # the default SYSCONFDIR in the CLI again (see above)
