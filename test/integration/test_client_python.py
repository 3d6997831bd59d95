"""The Python client library (clients/python/pgcoalesce) against the real
daemon and database: acks, typed errors for every error class, lost
connections, the in-flight bound, timeouts, exact numbers, asyncio."""
import ast
import asyncio
import datetime
import decimal
import os
import pathlib
import signal
import sys
import threading
import time
import uuid

import harness
from faultkit import Session
from harness import Failure, wait_for

sys.path.insert(0, os.path.join(harness.ROOT, "clients", "python"))
import pgcoalesce  # noqa: E402
from pgcoalesce import _wire  # noqa: E402

LOCK_KEYED = "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;"
SLOW = 10.0 if harness.VALGRIND else 1.0  # valgrind runs the daemon about 4x slower


def raises(cls, fn, *args, **kw):
    """The exception of class `cls` that fn(*args, **kw) raises; Failure otherwise."""
    try:
        r = fn(*args, **kw)
    except cls as e:
        return e
    raise Failure("expected %s, got the result %r" % (cls.__name__, r))


def future_error(f, timeout=60):
    e = f.exception(timeout)
    if e is None:
        raise Failure("expected the future to fail, it gave %r" % (f.result(),))
    return e


# ---------------------------------------------------------------- no daemon needed

def test_pyclient_is_python39_syntax(t):
    """The package claims Python 3.9+: nothing in it may need newer syntax."""
    pkg = os.path.join(harness.ROOT, "clients", "python", "pgcoalesce")
    files = sorted(f for f in os.listdir(pkg) if f.endswith(".py"))
    assert "client.py" in files and "aio.py" in files, files
    for fn in files:
        with open(os.path.join(pkg, fn)) as f:
            ast.parse(f.read(), fn, feature_version=(3, 9))


def test_pyclient_address_forms(t):
    pa = pgcoalesce.parse_address
    assert pa("/run/pgcoalesce/pgcoalesce.sock") == ("unix", "/run/pgcoalesce/pgcoalesce.sock")
    assert pa("unix:/tmp/x.sock") == ("unix", "/tmp/x.sock")
    assert pa("unix:rel:1") == ("unix", "rel:1")
    assert pa("pgc.sock") == ("unix", "pgc.sock")
    assert pa(pathlib.Path("/run/x.sock")) == ("unix", "/run/x.sock")
    assert pa("tcp:127.0.0.1:7433") == ("tcp", "127.0.0.1", 7433)
    assert pa("localhost:7433") == ("tcp", "localhost", 7433)
    assert pa("[::1]:7433") == ("tcp", "::1", 7433)
    assert pa("tcp:[::1]:1") == ("tcp", "::1", 1)
    assert pa("./dir/a:1") == ("unix", "./dir/a:1")  # a path, though it ends in :digits
    for bad in ("tcp:host", "tcp:host:0", "tcp:h:99999", "unix:", ""):
        raises(ValueError, pa, bad)
    old = os.environ.get("PGCOALESCE_SOCKET")
    try:
        os.environ["PGCOALESCE_SOCKET"] = "/x/y.sock"
        assert pa() == ("unix", "/x/y.sock")
        os.environ["PGCOALESCE_SOCKET"] = ""  # set but empty counts as unset
        assert pa() == ("unix", "/tmp/pgcoalesce.sock")
    finally:
        if old is None:
            os.environ.pop("PGCOALESCE_SOCKET", None)
        else:
            os.environ["PGCOALESCE_SOCKET"] = old


def test_pyclient_request_lines_keep_numbers_exact(t):
    body = _wire.insert_body("t", {
        "big": 123456789012345678901234567890123456789,
        "dec": decimal.Decimal("12345678901234567890.123456789012345678"),
        "exp": decimal.Decimal("1.5E+3"), "nan": decimal.Decimal("NaN"),
        "fl": 0.1, "inf": float("-inf"), "b": True, "n": None,
        "ts": datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc),
        "u": uuid.UUID(int=1), "bytes": b"\x00\xff", "j": {"k": [1, decimal.Decimal("2.50")]},
        "s": "é\n\"",
    }, returning="id", schema="app")
    line = _wire.request_line(7, body, 1 << 20)
    assert line == (
        '{"id":7,"table":"t","schema":"app","row":{'
        '"big":123456789012345678901234567890123456789,'
        '"dec":12345678901234567890.123456789012345678,"exp":1.5E+3,"nan":"NaN",'
        '"fl":0.1,"inf":"-Infinity","b":true,"n":null,"ts":"2026-11-22T10:00:00+00:00",'
        '"u":"00000000-0000-0000-0000-000000000001","bytes":"\\\\x00ff",'
        '"j":{"k":[1,2.50]},"s":"\u00e9\\n\\""},"returning":["id"]}\n').encode(), line
    raises(TypeError, _wire.insert_body, "t", {"x": object()})
    raises(TypeError, _wire.insert_body, "t", {1: 2})
    e = raises(pgcoalesce.InvalidRequest, _wire.request_line, 1, body, 100)
    assert e.code == "PC003" and e.not_written is True, e


# ---------------------------------------------------------------- acks

def test_pyclient_insert_ok_and_returning(t):
    d = t.daemon()
    with pgcoalesce.Client(d.socket) as c:
        assert c.insert("events", {"device_id": 1, "kind": "a"}) is None
        row = c.insert("events", {"device_id": 2, "kind": "b"}, returning=["id", "kind"])
        assert set(row) == {"id", "kind"} and row["kind"] == "b" and isinstance(row["id"], int), row
        row = c.insert("Events", {"Kind": "x"}, schema="App", returning=["*"])
        assert row["Kind"] == "x" and row["kind"] is None and isinstance(row["id"], int), row
        futures = [c.insert_async("events", {"device_id": i, "kind": "p"}) for i in range(500)]
        assert [f.result(60) for f in futures] == [None] * 500
        assert c.in_flight == 0
    assert t.db.count() == 502
    assert t.db.scalar('SELECT "Kind" FROM "App"."Events"') == "x"


def test_pyclient_row_errors_are_typed(t):
    d = t.daemon()
    with pgcoalesce.Client(d.socket) as c:
        c.insert("t_checks", {"id": 1, "v": 1, "code": "dup"})
        results = c.insert_many("t_checks", [
            {"id": 2, "v": 2},                          # ok
            {"id": 3, "v": -1},                         # 23514 check
            {"id": 4, "v": 4, "code": "dup"},           # 23505 unique
            {"id": 5},                                  # 23502 not null
            {"id": 6, "v": "six"},                      # 22P02
            {"id": 7, "nope": 1},                       # 42703
        ], returning=["id"])
    assert results[0] == {"id": 2}, results
    errors = results[1:]
    assert all(isinstance(e, pgcoalesce.RowError) and e.not_written is True for e in errors), errors
    assert [e.sqlstate for e in errors] == ["23514", "23505", "23502", "22P02", "42703"], errors
    assert errors[0].constraint == "t_checks_v_check", vars(errors[0])
    assert errors[1].constraint == "t_checks_code_key" and "(code)=(dup)" in errors[1].detail
    assert errors[2].column == "v" and "null value" in errors[2].message
    assert str(errors[1]).startswith("23505: duplicate key value"), str(errors[1])
    assert isinstance(errors[0], pgcoalesce.PgcoalesceError)
    assert t.db.rows("SELECT id FROM t_checks ORDER BY id") == [{"id": 1}, {"id": 2}]


def test_pyclient_invalid_requests(t):
    d = t.daemon("--allow-table", "events", "--allow-table", "t_values", "--max-request-bytes", "2000")
    with pgcoalesce.Client(d.socket, max_request_bytes=2000) as c:
        e = raises(pgcoalesce.InvalidRequest, c.insert, "t_values", {"t": "a\x00b"})
        assert e.code == "PC002" and e.not_written is True, e
        e = raises(pgcoalesce.TableNotAllowed, c.insert, "t_checks", {"id": 1, "v": 1})
        assert e.code == "PC008" and e.not_written is True, e
        e = raises(pgcoalesce.InvalidRequest, c.insert, "events", {"kind": "x" * 3000})
        assert e.code == "PC003" and "not sent" in e.message, e  # refused before sending
        assert c.insert("events", {"device_id": 1, "kind": "still usable"}) is None
    # a client that believes the sidecar takes longer lines than it does: the
    # answer comes with "id": null, and the client cannot tell whose it is
    with pgcoalesce.Client(d.socket) as c:
        f = c.insert_async("events", {"device_id": 2, "kind": "x" * 3000})
        e = future_error(f)
        assert isinstance(e, pgcoalesce.ConnectionLost) and "max_request_bytes" in e.message, e
        assert c.insert("events", {"device_id": 3, "kind": "reconnected"}) is None
    assert t.db.count() == 2 and t.db.count("t_checks") == 0


def test_pyclient_overloaded(t):
    d = t.daemon("--max-pending-rows", "100", "--overload", "reject")
    holder = Session(t, LOCK_KEYED, "holder")
    with pgcoalesce.Client(d.socket) as c:
        futures = [c.insert_async("t_keyed", {"k": "r%d" % i}) for i in range(300)]
        rejected = [future_error(f) for f in futures[100:]]  # at once, while the lock holds
        assert all(isinstance(e, pgcoalesce.Overloaded) and e.code == "PC004" and e.not_written
                   for e in rejected), rejected[:3]
        assert not any(f.done() for f in futures[:100])
        holder.release()
        assert [f.result(60) for f in futures[:100]] == [None] * 100
    assert t.db.count("t_keyed") == 100


def test_pyclient_shutting_down(t):
    d = t.daemon("--shutdown-timeout-ms", "3000")
    holder = Session(t, LOCK_KEYED, "holder")
    c = pgcoalesce.Client(d.socket)
    futures = [c.insert_async("t_keyed", {"k": "p%d" % i}) for i in range(10)]
    wait_for(lambda: d.stats()["pending_rows"] == 10, 30, what="10 pending rows")
    d.send_signal(signal.SIGTERM)
    wait_for(lambda: "shutting down" in d.log(), 10, what="the shutdown to begin")
    e = raises(pgcoalesce.ShuttingDown, c.insert, "events", {"device_id": 1, "kind": "late"})
    assert e.code == "PC005" and e.not_written is True, e
    errors = [future_error(f) for f in futures]
    assert all(isinstance(e, pgcoalesce.ShuttingDown) for e in errors), errors
    assert d.wait_exit(30) == 0
    holder.release()
    e = raises(pgcoalesce.ConnectFailed, pgcoalesce.Client(d.socket, connect_timeout=0.3).ping)
    assert e.not_written is True, e
    c.close()
    assert t.db.count("t_keyed") == 0 and t.db.count() == 0


def test_pyclient_unavailable_and_ping(t):
    t.cluster.stop()
    try:
        d = t.daemon("--retry-timeout-ms", "300", wait_db=False)
        with pgcoalesce.Client(d.socket) as c:
            assert c.ping() is False
            e = raises(pgcoalesce.Unavailable, c.insert, "events", {"device_id": 1, "kind": "x"})
            assert e.code == "PC006" and e.not_written is True, e
    finally:
        t.cluster.start()
    with pgcoalesce.Client(d.socket) as c:
        wait_for(c.ping, 30 * SLOW, what="ping to say the database is up")
    assert t.db.count() == 0


def test_pyclient_connection_lost_on_sigkill(t):
    """Rows in flight when the sidecar dies are in doubt; the next call
    connects again (to a new sidecar on the same socket); nothing is resent."""
    d = t.daemon()
    holder = Session(t, LOCK_KEYED, "holder")
    c = pgcoalesce.Client(d.socket, connect_timeout=0.5)
    acked = [c.insert_async("events", {"device_id": i, "kind": "before"}) for i in range(200)]
    in_flight = [c.insert_async("t_keyed", {"k": "f%d" % i}) for i in range(200)]
    assert [f.result(60) for f in acked] == [None] * 200
    wait_for(lambda: d.stats()["pending_rows"] == 200, 30, what="200 rows pending")
    d.send_signal(signal.SIGKILL)
    errors = [future_error(f) for f in in_flight]
    assert all(isinstance(e, pgcoalesce.ConnectionLost) and e.not_written is False and
               e.code == "connection_lost" and "may or may not be written" in e.message
               for e in errors), errors[:3]
    assert c.in_flight == 0
    # Until the killed process is gone its listening socket may still take a
    # connection (the kernel closes a dying process's sockets newest first)
    d.wait_exit(30)
    e = raises(pgcoalesce.ConnectFailed, c.insert, "events", {"device_id": 0, "kind": "x"})
    assert e.not_written is True and d.socket in e.message, e
    holder.release()
    d2 = t.daemon("--socket", d.socket)  # the stale socket file is replaced
    assert c.insert("events", {"device_id": 1, "kind": "after"}, returning=["kind"]) == {"kind": "after"}
    c.close()
    assert d2.stop() == 0
    assert t.db.count(where="kind = 'after'") == 1 and t.db.count(where="kind = 'before'") == 200


def test_pyclient_flush_ping_stats(t):
    d = t.daemon("--max-delay-ms", "600000", "--eager-flush", "off")
    with pgcoalesce.Client(d.socket) as c:
        futures = [c.insert_async("events", {"device_id": i, "kind": "f"}) for i in range(20)]
        wait_for(lambda: d.stats()["pending_rows"] == 20, 30, what="20 pending rows")
        assert not any(f.done() for f in futures)
        assert c.flush() is None
        assert all(f.done() for f in wait_for(lambda: futures if all(f.done() for f in futures)
                                              else None, 30, what="the acks"))
        assert c.ping() is True
        st = c.stats()
        assert st["rows_committed"] == 20 and st["tables"]["public.events"]["rows_committed"] == 20, st
        assert isinstance(st["uptime_seconds"], (int, decimal.Decimal)), st
    assert t.db.count() == 20


def test_pyclient_exact_numbers_and_types(t):
    d = t.daemon()
    n38 = decimal.Decimal("12345678901234567890.123456789012345678")
    i38 = 12345678901234567890123456789012345678
    big = 9223372036854775807
    ts = datetime.datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with pgcoalesce.Client(d.socket) as c:
        row = c.insert("t_values", {"n": n38, "b": big, "ts": ts, "u": u, "na": [i38, n38],
                                    "jb": {"x": n38}}, returning=["id", "n", "b", "na"])
        assert row["n"] == n38 and str(row["n"]) == str(n38) and row["b"] == big, row
        assert row["na"] == "{%d,%s}" % (i38, n38), row  # arrays come back as PostgreSQL text
        c.insert("t_values", {"n": i38, "f": float("nan"), "i": -2147483648})
        c.insert("t_values", {"n": decimal.Decimal("-Infinity"), "f": 0.1})
    got = t.db.rows("SELECT n::text AS n, b::text AS b, f::text AS f, ts = '2026-11-22 "
                    "10:00:00.123456+00' AS ts, u::text AS u, jb->>'x' AS x FROM t_values ORDER BY id")
    assert got[0] == {"n": str(n38), "b": str(big), "f": None, "ts": True, "u": str(u), "x": str(n38)}, got
    assert got[1]["n"] == str(i38) and got[1]["f"] == "NaN", got
    assert got[2]["n"] == "-Infinity" and got[2]["f"] == "0.1", got


# ---------------------------------------------------------------- bounds and timeouts

def test_pyclient_in_flight_bound_holds_callers(t):
    """max_in_flight: callers wait for room instead of queueing rows without
    end (four threads share one client; the sidecar holds exactly the bound)."""
    d = t.daemon()
    holder = Session(t, LOCK_KEYED, "holder")
    c = pgcoalesce.Client(d.socket, max_in_flight=50)
    futures = []

    def produce(k):
        for i in range(500):
            futures.append(c.insert_async("t_keyed", {"k": "%d-%d" % (k, i)}))
    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    wait_for(lambda: d.stats()["pending_rows"] == 50, 30, what="50 pending rows")
    time.sleep(0.5 * SLOW)  # room for more to go out, were the bound not held
    assert d.stats()["pending_rows"] == 50 and c.in_flight == 50 and len(futures) == 50
    assert all(th.is_alive() for th in threads)
    holder.release()
    for th in threads:
        th.join(120)
    assert len(futures) == 2000 and all(f.result(60) is None for f in futures)
    assert c.in_flight == 0
    c.close()
    assert t.db.scalar("SELECT count(DISTINCT k) FROM t_keyed") == 2000


def test_pyclient_timeouts(t):
    d = t.daemon()
    holder = Session(t, LOCK_KEYED, "holder")
    c = pgcoalesce.Client(d.socket, max_in_flight=1)
    e = raises(pgcoalesce.RequestTimeout, c.insert, "t_keyed", {"k": "slow"}, timeout=0.3)
    assert e.not_written is False and e.code == "timeout", e  # sent: it may still be written
    assert c.in_flight == 1  # the sidecar still has it: it holds its place until answered
    e = raises(pgcoalesce.RequestTimeout, c.ping, timeout=0.3)
    assert e.not_written is True and "not sent" in e.message, e
    holder.release()
    wait_for(lambda: c.in_flight == 0, 30, what="the late answer")
    assert c.ping(timeout=30) is True
    c.close()
    assert t.db.count("t_keyed") == 1  # the timed-out row was written after all


def test_pyclient_close_waits_for_answers(t):
    d = t.daemon("--max-delay-ms", "300", "--eager-flush", "off")
    c = pgcoalesce.Client(d.socket)
    futures = [c.insert_async("events", {"device_id": i, "kind": "c"}) for i in range(100)]
    c.close()
    assert all(f.done() and f.result() is None for f in futures)
    e = raises(pgcoalesce.ClientClosed, c.insert, "events", {"device_id": 1, "kind": "x"})
    assert e.not_written is True, e
    assert t.db.count() == 100


# ---------------------------------------------------------------- asyncio

def test_pyclient_asyncio_many_concurrent(t):
    d = t.daemon()

    async def main():
        async with pgcoalesce.AsyncClient(d.socket, max_in_flight=200) as c:
            rows = await asyncio.gather(*(c.insert("events", {"device_id": i, "kind": "a"},
                                                   returning=["id", "device_id"])
                                          for i in range(5000)))
            assert c.in_flight == 0
            errs = await asyncio.gather(c.insert("t_checks", {"id": 1, "v": -1}),
                                        c.insert("nope", {}), c.ping(), c.flush(), c.stats(),
                                        return_exceptions=True)
            return rows, errs
    rows, errs = asyncio.run(main())
    assert sorted(r["device_id"] for r in rows) == list(range(5000))
    assert len({r["id"] for r in rows}) == 5000
    assert isinstance(errs[0], pgcoalesce.RowError) and errs[0].code == "23514", errs
    assert isinstance(errs[1], pgcoalesce.RowError) and errs[1].code == "42P01", errs
    assert errs[2] is True and errs[3] is None and errs[4]["rows_committed"] == 5000, errs
    assert t.db.count() == 5000


def test_pyclient_asyncio_bound_timeout_and_lost(t):
    """asyncio: the bound holds callers, a timeout fails one call, and a
    SIGKILL fails the calls in flight with ConnectionLost."""
    d = t.daemon()
    holder = Session(t, LOCK_KEYED, "holder")

    async def main():
        c = pgcoalesce.AsyncClient(d.socket, max_in_flight=100, connect_timeout=0.5)
        tasks = [asyncio.ensure_future(c.insert("t_keyed", {"k": "a%d" % i})) for i in range(1000)]
        while d.stats()["pending_rows"] < 100:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5 * SLOW)
        assert d.stats()["pending_rows"] == 100 and c.in_flight == 100
        assert sum(tk.done() for tk in tasks) == 0
        try:
            await c.ping(timeout=0.2)
            raise Failure("ping should wait for room and time out")
        except pgcoalesce.RequestTimeout as e:
            assert e.not_written is True, e
        # the callers waiting for room reconnect at once, and a dying process's
        # listening socket may take connections after its clients saw EOF:
        # remove the path first, so they certainly find nothing
        os.unlink(d.socket)
        d.send_signal(signal.SIGKILL)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await c.ping()
            raise Failure("ping should fail to connect")
        except pgcoalesce.ConnectFailed as e:
            assert e.not_written is True, e
        await c.close()
        return results
    results = asyncio.run(main())
    # the 100 in flight are in doubt; the 900 waiting for room were never sent
    lost = [r for r in results if isinstance(r, pgcoalesce.ConnectionLost)]
    unsent = [r for r in results if isinstance(r, pgcoalesce.ConnectFailed)]
    assert len(lost) == 100 and len(unsent) == 900, [type(r).__name__ for r in results[:3]]
    assert all(e.not_written is False and "may or may not" in e.message for e in lost), lost[:3]
    assert all(e.not_written is True for e in unsent)
    holder.release()


# ---------------------------------------------------------------- upserts and keys (issue 13)

def test_pyclient_key_and_on_conflict_request_lines(t):
    """key= and on_conflict= on the wire as docs/PROTOCOL.md has them; what the
    sidecar would refuse (PC002) is refused before sending."""
    body = _wire.insert_body("devices", {"device_id": 7, "hits": 1}, ["hits"], None,
                             {"columns": ["device_id"], "do": "update", "set": ["seen"], "add": ["hits"]},
                             "k-\u00e9\"")
    assert _wire.request_line(3, body, 1 << 20) == (
        '{"id":3,"table":"devices","row":{"device_id":7,"hits":1},"returning":["hits"],'
        '"on_conflict":{"columns":["device_id"],"do":"update","set":["seen"],"add":["hits"]},'
        '"key":"k-\u00e9\\""}\n').encode()
    assert _wire.insert_body("t", {}, on_conflict={"do": "nothing"}) == \
        ',"table":"t","row":{},"on_conflict":{"do":"nothing"}'
    assert _wire.insert_body("t", {}, on_conflict={"constraint": "t_pkey", "do": "nothing"}) == \
        ',"table":"t","row":{},"on_conflict":{"constraint":"t_pkey","do":"nothing"}'
    assert _wire.needed_features() == () and _wire.needed_features(key="k") == ("key",)
    assert _wire.needed_features({"do": "nothing"}, "k") == ("on_conflict", "key")
    for oc in ["update", {"do": "upsert"}, {"do": "update", "set": ["a"]}, {"columns": ["a"], "do": "update"},
               {"columns": ["a"], "do": "update", "set": ["n"], "add": ["n"]},
               {"columns": ["a"], "constraint": "c", "do": "nothing"}, {"columns": [], "do": "nothing"},
               {"columns": "a", "do": "nothing"}, {"do": "nothing", "set": ["a"]},
               {"do": "nothing", "where": "a > 0"}, {"constraint": "", "do": "nothing"}]:
        raises(ValueError, _wire.insert_body, "t", {}, on_conflict=oc)
    for key in ["", "x" * 201, "\u00e9" * 100 + "x", "a\u0000b"]:
        raises(ValueError, _wire.insert_body, "t", {}, key=key)
    raises(TypeError, _wire.insert_body, "t", {}, key=5)
    assert '"key":"%s"' % ("x" * 200) in _wire.insert_body("t", {}, key="x" * 200)
    r = _wire.response_result("insert+", {"id": 1, "ok": True, "action": "update", "row": {"n": 2}})
    assert r == pgcoalesce.Result({"n": 2}, "update", False) and r.row == {"n": 2}, r
    assert _wire.response_result("insert+", {"id": 1, "ok": True, "duplicate": True}) == \
        pgcoalesce.Result(None, None, True)
    assert _wire.response_result("features", {"ok": True, "features": ["key", 3]}) == ["key"]
    assert _wire.response_result("features", {"ok": True, "db": "up"}) == []


class _PingPeer:
    """A socket whose other end plays the sidecar for the feature check only:
    it answers a ping with `features` (None: a v1 answer without the field),
    ok to anything else, and keeps every line it got."""

    def __init__(self, t, features):
        import socket
        self.path = os.path.join(t.tmp, "peer%d.sock" % id(self))
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.lines = []
        self.features = features
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        t.cleanups.append(self.srv.close)

    def _serve(self):
        import json
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as f:
            for line in f:
                req = json.loads(line)
                self.lines.append(req)
                ans = {"id": req["id"], "ok": True}
                if req.get("op") == "ping":
                    ans["db"] = "up"
                    if self.features is not None:
                        ans["features"] = self.features
                elif "key" in req:
                    ans["duplicate"] = True
                conn.sendall((json.dumps(ans) + "\n").encode())


def test_pyclient_checks_features_before_a_key(t):
    """A key or on_conflict goes only to a sidecar whose ping lists it (one
    that ignored it would write a resend twice): against one that does not,
    FeatureMissing (not written) and nothing but the ping is sent; against
    one that does, the ping is asked once per connection. (The other end
    plays the sidecar: a v1 sidecar's answer is the point here.)"""
    v1 = _PingPeer(t, None)
    with pgcoalesce.Client(v1.path) as c:
        e = raises(pgcoalesce.FeatureMissing, c.insert, "t_keyed", {"k": "a"}, key="a")
        assert e.not_written is True and e.code == "feature_missing" and '"key"' in e.message, e
        e = raises(pgcoalesce.FeatureMissing, c.insert, "t", {}, on_conflict={"do": "nothing"})
        assert "on_conflict" in e.message, e
        assert c.insert("t_keyed", {"k": "plain"}) is None  # no key: sent as always
    wait_for(lambda: len(v1.lines) == 2, 10, what="the peer to read the lines")
    assert [r.get("op", "insert") for r in v1.lines] == ["ping", "insert"], v1.lines
    assert "key" not in v1.lines[1]
    partial = _PingPeer(t, ["describe", "on_conflict"])
    with pgcoalesce.Client(partial.path) as c:
        raises(pgcoalesce.FeatureMissing, c.insert, "t", {}, on_conflict={"do": "nothing"}, key="k")
        assert c.insert("t", {}, on_conflict={"do": "nothing"}) == pgcoalesce.Result(None, None, False)
    new = _PingPeer(t, ["describe", "on_conflict", "key"])

    async def main():
        async with pgcoalesce.AsyncClient(new.path) as c:
            return await asyncio.gather(*(c.insert("t_keyed", {"k": "a"}, key="a%d" % i) for i in range(5)))
    assert asyncio.run(main()) == [pgcoalesce.Result(None, None, True)] * 5
    assert [r.get("op", "insert") for r in new.lines] == ["ping"] + ["insert"] * 5, new.lines


def test_pyclient_keys_and_upserts(t):
    """Against the real daemon (needs issue 13's daemon side): a keyed row
    resent is a duplicate and stored once, also from insert_many and the
    asyncio client; an upsert reports its action and RETURNING."""
    d = t.daemon()
    oc = {"columns": ["device_id"], "do": "update", "add": ["hits"], "set": ["kind"]}
    with pgcoalesce.Client(d.socket) as c:
        assert c.insert("t_keyed", {"k": "a"}, key="K-a") == pgcoalesce.Result(None, None, False)
        assert c.insert("t_keyed", {"k": "a"}, key="K-a") == pgcoalesce.Result(None, None, True)
        r = c.insert("devices", {"device_id": 1, "hits": 2, "kind": "x"}, ["hits"], on_conflict=oc)
        assert r == pgcoalesce.Result({"hits": 2}, "insert", False), r
        r = c.insert("devices", {"device_id": 1, "hits": 3, "kind": "y"}, ["hits", "kind"], on_conflict=oc,
                     key="inc-1")
        assert r == pgcoalesce.Result({"hits": 5, "kind": "y"}, "update", False), r
        r = c.insert("devices", {"device_id": 1, "hits": 3, "kind": "y"}, ["hits"], on_conflict=oc, key="inc-1")
        assert r == pgcoalesce.Result(None, None, True), r
        r = c.insert("devices", {"device_id": 1}, ["hits"], on_conflict={"do": "nothing"})
        assert r == pgcoalesce.Result(None, "none", False), r
        rows = [{"k": "m%d" % i} for i in range(100)]
        keys = ["M-%d" % i for i in range(100)]
        first = c.insert_many("t_keyed", rows, keys=keys)
        again = c.insert_many("t_keyed", rows, keys=keys)
        assert all(r == pgcoalesce.Result(None, None, False) for r in first), first[:3]
        assert all(r == pgcoalesce.Result(None, None, True) for r in again), again[:3]

    async def main():
        async with pgcoalesce.AsyncClient(d.socket) as c:
            return await asyncio.gather(*(c.insert("t_keyed", {"k": "m%d" % i}, key="M-%d" % i)
                                          for i in range(100)))
    assert all(r.duplicate for r in asyncio.run(main()))
    assert t.db.rows("SELECT device_id, hits, kind FROM devices") == [{"device_id": 1, "hits": 5, "kind": "y"}]
    assert t.db.count("t_keyed") == 101
