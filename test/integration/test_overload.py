"""Overload and misbehaving clients: bounded pending rows (block / reject),
clients that never read their acks, clients that vanish, connection limits,
the socket file, the table allow-list."""
import os
import signal
import socket
import stat
import subprocess
import threading
import time

from faultkit import Session
from harness import Client, Failure, insert, wait_for


def rows(prefix, n, table="t_keyed", returning=None):
    return [insert("%s%d" % (prefix, i), table, returning, k="%s%d" % (prefix, i)) for i in range(n)]


class Producer:
    """A client pushing `n` requests in one blocking sendall on a thread (it
    blocks while the sidecar does not read), then reading all n answers."""

    def __init__(self, d, reqs):
        self.client = d.client(timeout=60)
        self.reqs = reqs
        self.done_sending = threading.Event()
        self.answers = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.client.send(*self.reqs)
            self.done_sending.set()
            self.answers = self.client.recv_n(len(self.reqs), timeout=60)
        except Exception as ex:  # reported by join()
            self.error = ex

    def join(self):
        self.thread.join(90)
        if self.error or self.answers is None:
            raise Failure("producer failed: %r" % self.error)
        return self.answers


def test_overload_block_holds_producers_back(t):
    """--overload block: at --max-pending-rows the producers are no longer read
    (their sends block), another connection's ping and stats still answer, and
    once the database takes rows again everything is written exactly once."""
    d = t.daemon("--max-pending-rows", "500", "--retry-timeout-ms", "60000")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    producers = [Producer(d, rows("p%d-" % i, 20000)) for i in range(2)]
    wait_for(lambda: d.stats()["pending_rows"] >= 500, 30, what="500 pending rows")
    other = d.client()
    for i in range(20):  # the limit holds while the producers keep pushing
        st = other.request({"op": "stats", "id": i})["stats"]
        assert 500 <= st["pending_rows"] <= 502, st  # +1 per client that had none pending
        assert other.request({"op": "ping", "id": i}) == {"id": i, "ok": True, "db": "up", "features": ["describe", "on_conflict", "key"]}
    assert not any(p.done_sending.is_set() for p in producers), "the sidecar kept reading"
    holder.release()
    for p in producers:
        answers = p.join()
        assert all(a["ok"] for a in answers), [a for a in answers if not a["ok"]][:3]
    assert t.db.scalar("SELECT count(DISTINCT k) = 40000 AND count(*) = 40000 FROM t_keyed") is True


def test_overload_block_while_database_is_down(t):
    """Memory stays bounded while the database is down too; rows wait, then are written."""
    t.cluster.stop()
    try:
        d = t.daemon("--max-pending-rows", "300", "--retry-timeout-ms", "60000", wait_db=False)
        p = Producer(d, rows("p", 5000))
        wait_for(lambda: d.stats()["pending_rows"] >= 300, 30, what="300 pending rows")
        st = d.stats()
        assert st["pending_rows"] <= 301 and st["db_connections_up"] == 0, st
        assert not p.done_sending.is_set()
    finally:
        t.cluster.start()
    assert all(a["ok"] for a in p.join())
    assert t.db.count("t_keyed") == 5000


def test_overload_reject_answers_pc004(t):
    d = t.daemon("--max-pending-rows", "100", "--overload", "reject")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    c = d.client()
    c.send(*rows("r", 300))
    rejected = c.recv_n(200)  # at once, while the first 100 still wait for the lock
    assert {a["error"]["code"] for a in rejected} == {"PC004"}, rejected[:3]
    assert {a["id"] for a in rejected} == {"r%d" % i for i in range(100, 300)}
    holder.release()
    acks = c.recv_n(100)
    assert all(a["ok"] for a in acks) and {a["id"] for a in acks} == {"r%d" % i for i in range(100)}
    assert sorted(r["k"] for r in t.db.rows("SELECT k FROM t_keyed")) == sorted("r%d" % i for i in range(100))


def test_client_not_reading_acks_is_disconnected(t):
    """A client that never reads: its acks are capped by --max-client-output-bytes,
    then it is disconnected with a log line. Its accepted rows are still written;
    another client is served all along."""
    # exactly one batch of the 5000 rows (size trigger, no eager or deadline
    # flush): it waits on the lock on one connection, the other stays free
    d = t.daemon("--max-client-output-bytes", "65536", "--max-batch-rows", "5000",
                 "--eager-flush", "off", "--max-delay-ms", "600000")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    slow = d.client()
    slow.send(*rows("s", 5000, returning=["*"]))  # about 750 kB of acks, none read
    wait_for(lambda: d.stats()["pending_rows"] == 5000, 30, what="5000 pending rows")
    fine = d.client()
    fine.send(*[insert(i) for i in range(20)] + [{"op": "flush", "id": "flush"}])
    acks = fine.recv_n(20)  # another table, another client: served while slow's rows wait
    assert sorted(a["id"] for a in acks) == list(range(20)) and all(a["ok"] for a in acks), acks
    holder.release()
    wait_for(lambda: "client disconnected: not reading its acks" in d.log(), 30, what="the disconnect")
    assert fine.recv() == {"id": "flush", "ok": True}
    assert t.db.count("t_keyed") == 5000 and t.db.count("events") == 20
    assert d.stats()["clients_connected"] == 2  # fine + the stats connection; slow is gone


def test_client_gone_with_rows_pending(t):
    """A client that closes its socket with rows pending loses only its acks."""
    d = t.daemon()
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    c = d.client()
    c.send(*rows("g", 1000))
    wait_for(lambda: d.stats()["pending_rows"] == 1000, 30, what="1000 pending rows")
    c.close()
    holder.release()
    wait_for(lambda: d.stats()["rows_committed"] == 1000, 30, what="the rows to be written")
    assert t.db.count("t_keyed") == 1000
    assert d.client().request({"op": "ping", "id": 1})["ok"]


def test_half_closed_client_gets_its_acks(t):
    """A client that shuts down its sending side still reads every ack, then EOF."""
    d = t.daemon()
    c = d.client()
    c.send(*rows("h", 200))
    c.sock.shutdown(socket.SHUT_WR)
    acks = c.recv_n(200)
    assert all(a["ok"] for a in acks)
    assert c.at_eof(10)
    assert t.db.count("t_keyed") == 200


def admitted(d):
    """A client the sidecar admitted (answered a ping), or None if it closed it at once."""
    c = Client(d.socket)
    try:
        if c.request({"op": "ping", "id": "admitted"}).get("ok"):
            return c
    except (Failure, OSError):
        pass
    c.close()
    return None


def test_max_clients_is_enforced(t):
    d = t.daemon("--max-clients", "2")
    # the harness's readiness probe may still hold a slot for a moment
    a = wait_for(lambda: admitted(d), 10, interval=0.05, what="a first client")
    b = wait_for(lambda: admitted(d), 10, interval=0.05, what="a second client")
    t.cleanups += [a.close, b.close]
    extra = d.client()
    assert extra.at_eof(10), "a third client was accepted"
    wait_for(lambda: "client refused: --max-clients reached" in d.log(), 10, what="the refusal to be logged")
    assert a.request({"op": "ping", "id": 3})["ok"] and b.request({"op": "ping", "id": 4})["ok"]
    a.close()
    c = wait_for(lambda: admitted(d), 10, interval=0.05, what="the freed slot to be used")
    c.close()


def cpu_seconds(pid):
    """User plus system CPU time of a process so far, from /proc."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_pauses_accepting_without_spinning(t):
    """When accept() fails for want of file descriptors, the pending
    connection stays queued and the listening socket stays readable: the
    sidecar stops watching it for a moment instead of spinning on it (on the
    Unix socket and on --metrics-listen alike), logs it, and takes the queued
    clients once descriptors are free again."""
    d = t.daemon("--metrics-listen", "127.0.0.1:0")
    host, port = d.metrics_address().rsplit(":", 1)
    pid = d.proc.pid
    # the limit bounds descriptor numbers: the lowest limit that leaves two
    # free (valgrind keeps its own far above, near the old limit)
    in_use = {fd for fd in map(int, os.listdir("/proc/%d/fd" % pid)) if fd < 1000}
    limit = next(n for n in range(1, 1000) if n - len([fd for fd in in_use if fd < n]) == 2)
    soft = [l.split()[3] for l in open("/proc/%d/limits" % pid) if l.startswith("Max open files")][0]
    restore = ["prlimit", "--pid", str(pid), "--nofile=%s:" % soft]  # the soft limit only: no privilege needed
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=%d:" % limit], check=True)
    t.cleanups.append(lambda: subprocess.run(restore))
    held = [Client(d.socket) for _ in range(2)]    # what the limit lets in
    for c in held:
        assert c.request({"op": "ping", "id": "held"})["ok"]
    queued = [Client(d.socket) for _ in range(3)]  # connect() works: the backlog
    http = socket.create_connection((host, int(port)), timeout=10)
    wait_for(lambda: "accept failed: pausing accepts" in d.log(), 10, what="the pause to be logged")
    before = cpu_seconds(pid)
    time.sleep(1.0)
    used = cpu_seconds(pid) - before
    # spinning on a readable socket burns the whole second; pausing, next to nothing
    assert used < 0.5, "the sidecar used %.2f s of CPU in 1 s while out of descriptors" % used
    for c in held:
        c.close()
    http.close()
    for c in queued:
        assert c.request({"op": "ping", "id": "queued"}, timeout=20)["ok"]
        c.close()
    subprocess.run(restore, check=True)
    assert d.scrape()[0] == 200


def test_socket_mode(t):
    d = t.daemon()
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
    d = t.daemon("--socket-mode", "0600")
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600
    d = t.daemon(env={"PGCOALESCE_SOCKET_MODE": "0666"})
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o666


def test_stale_socket_is_replaced(t):
    path = os.path.join(t.tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays behind, nobody listens: as after a crash
    d = t.daemon("--socket", path)
    assert d.client().request({"op": "ping", "id": 1})["ok"]


def test_live_socket_is_not_stolen(t):
    first = t.daemon()
    second = t.daemon("--socket", first.socket, wait=False)
    assert second.wait_exit(30) != 0
    assert "another process is listening on %s" % first.socket in second.log(), second.log()
    assert first.client().request({"op": "ping", "id": 1})["ok"]


def test_socket_path_that_is_not_a_socket_is_left_alone(t):
    path = os.path.join(t.tmp, "precious")
    with open(path, "w") as f:
        f.write("data")
    d = t.daemon("--socket", path, wait=False)
    assert d.wait_exit(30) != 0
    assert "exists and is not a socket" in d.log(), d.log()
    with open(path) as f:
        assert f.read() == "data"


def test_allow_table(t):
    """Names match exactly as clients write them: "events" and "public.events" differ."""
    d = t.daemon("--allow-table", "events", "--allow-table", "app.events")
    c = d.client()
    assert c.request(insert(1, "events")) == {"id": 1, "ok": True}
    assert c.request({"id": 2, "table": "app.events", "row": {"kind": "x"}}) == {"id": 2, "ok": True}
    assert c.request({"id": 3, "schema": "app", "table": "events", "row": {"kind": "y"}}) == {"id": 3, "ok": True}
    for i, (table, schema) in enumerate([("t_keyed", None), ("public.events", None), ("Events", None),
                                         ("events", "public"), ("app.events", "app")]):
        req = {"id": 10 + i, "table": table, "row": {"k": "x"}}
        if schema:
            req["schema"] = schema
        ack = c.request(req)
        assert not ack["ok"] and ack["error"]["code"] == "PC008", (req, ack)
    assert t.db.count("t_keyed") == 0 and t.db.count("events") == 1 and t.db.count("app.events") == 2


def test_allow_table_from_environment(t):
    d = t.daemon(env={"PGCOALESCE_ALLOW_TABLE": "events,t_keyed"})
    c = d.client()
    assert c.request(insert("k", "t_keyed", k="k"))["ok"]
    assert c.request(insert(1, "events"))["ok"]
    ack = c.request(insert(2, "t_checks", id=1, v=1))
    assert ack["error"]["code"] == "PC008", ack


def test_ever_new_table_and_column_names_do_not_grow_memory_for_good(t):
    """A client naming a new table or column set with every row (typos, hostile
    input) leaves no state behind once those rows are answered: idle groups
    that never committed a row and column sets no row holds are freed."""
    d = t.daemon()
    c = d.client()
    assert c.request(insert(0)) == {"id": 0, "ok": True}  # events keeps its group and figures
    n = 3000
    c.send(*[{"id": i, "table": "no_such_table_%d" % i, "row": {"a": 1}} for i in range(n)])
    acks = c.recv_n(n)
    assert all(a["error"]["code"] == "42P01" for a in acks), [a for a in acks if a["ok"]][:3]
    c.send(*[{"id": i, "table": "events", "row": {"device_id": 1, "kind": "k", "col_%d" % i: 1}}
             for i in range(n)])
    acks = c.recv_n(n)
    assert all(a["error"]["code"] == "42703" for a in acks), [a for a in acks if a["ok"]][:3]
    # a few hundred at most, within about a second: sweeps run as the
    # registries grow and once a second, not per row
    # (one column set per group left, and events' own: at most 64 unheld ones)
    def settled():
        s = d.stats()
        return s if s["groups"] < 600 and s["colsets"] <= s["groups"] + 64 else None
    st = wait_for(settled, 10, what="idle groups and unheld column sets to be freed")
    assert st["tables"]["public.events"]["rows_committed"] == 1, st["tables"]
    assert st["tables"]["public.events"]["rows_failed"] == n, st["tables"]
    assert c.request(insert(1)) == {"id": 1, "ok": True}


def test_client_reading_slowly_is_paused_not_disconnected(t):
    """A client that pipelines many requests and reads its answers only a
    while later: once its unread answers pass half of --max-client-output-bytes
    it is no longer read (its sends block) instead of growing to the limit
    and being disconnected; once it reads, it gets every answer."""
    d = t.daemon("--max-client-output-bytes", "65536")
    c = d.client(timeout=60)
    n = 50000  # about 1.6 MB of answers: far more than the socket buffers hold
    errors = []

    def send():
        try:
            c.send(*[{"op": "ping", "id": i} for i in range(n)])
        except Exception as ex:  # reported below
            errors.append(ex)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    sender.join(1.0)  # reading nothing meanwhile; the sender is held back
    assert sender.is_alive(), "the sidecar read every request while its answers were not read"
    answers = c.recv_n(n, timeout=60)
    sender.join(30)
    assert not errors, errors
    assert [a["id"] for a in answers] == list(range(n)) and all(a["ok"] for a in answers), answers[:3]
    assert "not reading its acks" not in d.log()
