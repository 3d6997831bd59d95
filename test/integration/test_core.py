"""The core path (issue 2): rows in, multi-row INSERTs out, every row acked with the truth.

Each test checks what PostgreSQL stores, not only what the sidecar says.
"""
import json
import os
import signal
import socket
import threading
import time

from faultkit import Session
import harness
from harness import Client, Failure, insert, wait_for


def pipelined_load(d, nclients, rows_per_client, make_req):
    """Send rows_per_client requests on each of nclients connections at once
    (every connection writes all its lines before reading); returns
    {client_index: [responses]}."""
    clients = [d.client(timeout=60) for _ in range(nclients)]
    results = {}
    errors = []

    def work(k):
        try:
            c = clients[k]
            c.send(*[make_req(k, i) for i in range(rows_per_client)])
            results[k] = c.recv_n(rows_per_client)
        except Exception as ex:  # reported by the caller
            errors.append(ex)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(nclients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return results


def test_lone_row_is_acked(t):
    d = t.daemon()
    c = d.client()
    ack = c.request(insert(1))
    assert ack == {"id": 1, "ok": True}, ack
    assert t.db.count() == 1


def test_many_pipelined_connections_coalesce_into_few_transactions(t):
    d = t.daemon("--max-delay-ms", "20")
    nclients, per = 16, 500

    def req(k, i):
        return {"id": "%d-%d" % (k, i), "table": "events",
                "row": {"device_id": k, "kind": "c%d-%d" % (k, i)}}

    results = pipelined_load(d, nclients, per, req)
    for k, resps in results.items():
        ids = sorted(r["id"] for r in resps)
        assert ids == sorted("%d-%d" % (k, i) for i in range(per)), "client %d: wrong ids" % k
        bad = [r for r in resps if r.get("ok") is not True]
        assert not bad, bad[:3]
    total = nclients * per
    assert t.db.count() == total
    assert t.db.scalar("SELECT count(DISTINCT kind) FROM events") == total
    xacts = t.db.scalar("SELECT count(DISTINCT xmin::text) FROM events")
    # per-row INSERTs would be 8000 transactions; the sidecar writes up to
    # --max-batch-rows (1000) per transaction
    assert xacts <= 48, "%d rows took %d transactions" % (total, xacts)
    st = d.stats()
    assert st["rows_committed"] == total and st["rows_failed"] == 0, st
    assert st["batches_committed"] == xacts, (st, xacts)


def test_lone_row_waits_for_the_deadline_only_when_eager_flush_is_off(t):
    # eager-flush off: the row waits for --max-delay-ms (the deadline), no longer
    d = t.daemon("--max-delay-ms", "300", "--eager-flush", "off")
    c = d.client()
    c.request(insert(0))  # warm up: schema cached, statements prepared
    waits = []
    for i in range(1, 4):
        t0 = time.monotonic()
        ack = c.request(insert(i))
        waits.append(time.monotonic() - t0)
        assert ack == {"id": i, "ok": True}, ack
    # Not before the deadline, and within it plus one round trip (generous
    # slack for a loaded CI machine; the figure is printed when it fails).
    assert min(waits) >= 0.29, "acked before --max-delay-ms: %r" % waits
    assert sorted(waits)[1] < 0.3 + 0.25, "ack too late after the deadline: %r" % waits

    # eager-flush on (default): a lone row is flushed at once, long before a long deadline
    d2 = t.daemon("--max-delay-ms", "5000")
    c2 = d2.client()
    c2.request(insert(100))
    t0 = time.monotonic()
    ack = c2.request(insert(101))
    wait = time.monotonic() - t0
    assert ack == {"id": 101, "ok": True}, ack
    assert wait < 1.0, "eager flush waited %.3fs" % wait


def test_group_flushes_at_max_batch_rows_before_the_deadline(t):
    d = t.daemon("--max-delay-ms", "60000", "--eager-flush", "off", "--max-batch-rows", "100")
    c = d.client()
    c.send(*[insert(i) for i in range(250)])
    acks = c.recv_n(200, timeout=20)  # two full groups; 50 rows wait for the deadline
    assert all(a["ok"] for a in acks), acks[:3]
    assert t.db.count() == 200
    assert t.db.scalar("SELECT count(DISTINCT xmin::text) FROM events") == 2
    # the last 50 lines may still be unread when the acks of the first 200 arrive
    st = wait_for(lambda: (lambda s: s if s["rows_received"] == 250 else None)(d.stats()), 10,
                  what="every row read")
    assert st["pending_rows"] == 50, st
    ack = c.request({"op": "flush", "id": "f"})
    rest = [ack] + c.recv_n(50)
    assert rest[-1] == {"id": "f", "ok": True} and all(a["ok"] for a in rest), rest  # after every earlier row
    assert t.db.count() == 250


def test_group_flushes_at_max_batch_bytes(t):
    d = t.daemon("--max-delay-ms", "60000", "--eager-flush", "off", "--max-batch-bytes", "20000")
    c = d.client()
    big = "x" * 1000
    c.send(*[insert(i, device_id=i, kind=big) for i in range(40)])
    acks = c.recv_n(19, timeout=20)  # ~1 KB a row: a group is ready at 20 KB, a batch holds <= 20 KB
    assert all(a["ok"] for a in acks), acks[:3]
    # committed + pending is 40 as soon as every row is read (pending counts
    # rows in flight too): wait for no batch in flight instead
    st = wait_for(lambda: (lambda s: s if s["rows_received"] == 40 and s["batches_in_flight"] == 0
                           else None)(d.stats()), 10, what="batches to settle")
    pending = st["pending_rows"]
    assert t.db.count() == 40 - pending, (t.db.count(), st)
    assert 1 <= pending <= 19, pending  # what is left waits for the (long) deadline
    per_xact = t.db.scalar("SELECT max(n) FROM (SELECT count(*) AS n FROM events GROUP BY xmin::text) x")
    assert per_xact <= 19, per_xact
    c.send({"op": "flush", "id": "f"})
    rest = c.recv_n(40 - 19 + 1)
    assert rest[-1] == {"id": "f", "ok": True} and all(a["ok"] for a in rest), rest
    assert t.db.count() == 40


def test_bad_rows_fail_alone_and_good_neighbours_commit(t):
    t.db.execute("INSERT INTO t_checks (id, v, code) VALUES (1, 1, 'taken')")
    d = t.daemon("--max-delay-ms", "200", "--eager-flush", "off")
    c = d.client()
    reqs, expect = [], {}
    for i in range(2, 502):
        row = {"id": i, "v": i, "code": "c%d" % i}
        want = None
        if i == 50:
            row["id"] = 1                       # duplicate key (pre-existing row)
            want = ("23505", "t_checks_pkey")
        elif i == 120:
            row["v"] = -5                       # CHECK violation
            want = ("23514", "t_checks_v_check")
        elif i == 200:
            row["v"] = "twelve"                 # malformed integer
            want = ("22P02", None)
        elif i == 300:
            row["code"] = "c299"                # duplicate key within the batch
            want = ("23505", "t_checks_code_key")
        elif i == 400:
            del row["v"]                        # NOT NULL
            want = ("23502", None)
        reqs.append({"id": i, "table": "t_checks", "row": row})
        expect[i] = want
    c.send(*reqs)
    acks = c.by_id(c.recv_n(len(reqs)))
    for i, want in expect.items():
        a = acks[json.dumps(i)]
        if want is None:
            assert a == {"id": i, "ok": True}, a
            continue
        assert a["ok"] is False, a
        e = a["error"]
        assert e["code"] == want[0], (i, e)
        if want[1]:
            assert e.get("constraint") == want[1], (i, e)
    e = acks["50"]["error"]
    assert e["message"] == 'duplicate key value violates unique constraint "t_checks_pkey"', e
    assert e["detail"] == "Key (id)=(1) already exists.", e
    e = acks["200"]["error"]
    assert e["message"] == 'invalid input syntax for type integer: "twelve"', e
    e = acks["120"]["error"]
    assert e["message"].startswith('new row for relation "t_checks" violates check constraint'), e
    e = acks["400"]["error"]
    assert e.get("column") == "v", e
    # exactly the good rows are stored (the in-batch duplicate: the first wins)
    stored = {r["id"] for r in t.db.rows("SELECT id FROM t_checks")}
    want_ids = {1} | {i for i in range(2, 502) if expect[i] is None}
    assert stored == want_ids, sorted(stored ^ want_ids)[:10]
    st = d.stats()
    assert st["rows_failed"] == 5 and st["rows_committed"] == 495, st


def test_returning_reaches_the_right_client(t):
    d = t.daemon("--max-delay-ms", "10")
    nclients, per = 8, 400

    def req(k, i):
        return {"id": [k, i][0] * 100000 + i, "table": "events",
                "row": {"device_id": k, "kind": "r%d-%d" % (k, i)},
                "returning": ["id", "kind", "device_id", "created_at"]}

    results = pipelined_load(d, nclients, per, req)
    stored = {r["id"]: r for r in t.db.rows("SELECT id, kind, device_id FROM events")}
    seen_ids = set()
    for k, resps in results.items():
        for a in resps:
            assert a["ok"] is True, a
            i = a["id"] - k * 100000
            row = a["row"]
            assert set(row) == {"id", "kind", "device_id", "created_at"}, row
            assert row["kind"] == "r%d-%d" % (k, i) and row["device_id"] == k, (k, a)
            assert stored[row["id"]]["kind"] == row["kind"], (row, stored[row["id"]])
            assert isinstance(row["created_at"], str), row
            seen_ids.add(row["id"])
    assert len(seen_ids) == nclients * per == len(stored)


def test_returning_star_types_values_as_protocol_says(t):
    d = t.daemon()
    c = d.client()
    c.send_raw('{"id":"s","table":"t_values","returning":["*"],"row":{'
               '"i":7,"b":9223372036854775807,"n":12345678901234567890.123456789012345678,'
               '"f":1.5,"bo":true,"j":{"a":[1,2]},"jb":{"k":"v"},"ia":[1,2,3],'
               '"t":"caf\\u00e9","ts":"2026-11-22T10:00:00Z",'
               '"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}}\n')
    a = c.recv()
    assert a["ok"] is True, a
    r = a["row"]
    assert r["i"] == 7 and r["b"] == 9223372036854775807, r
    assert str(r["n"]) == "12345678901234567890.123456789012345678", r
    assert r["f"] == 1.5 and r["bo"] is True, r
    assert r["j"] == {"a": [1, 2]} and r["jb"] == {"k": "v"}, r
    assert r["ia"] == "{1,2,3}", r  # arrays in PostgreSQL's text output format
    assert r["t"] == "caf\u00e9" and r["dflt"] == "the default", r
    assert r["ts"].startswith("2026-11-22 10:00:00"), r
    assert r["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", r
    assert r["vc"] is None and r["r"] is None, r
    assert isinstance(r["id"], int), r


def test_sigterm_drains_every_pending_row(t):
    d = t.daemon("--max-delay-ms", "600000", "--eager-flush", "off",
                 "--max-batch-rows", "1000000", "--max-batch-bytes", "1073741824")
    clients = [d.client() for _ in range(4)]
    per = 1500
    for k, c in enumerate(clients):
        c.send(*[insert(k * per + i) for i in range(per)])
    wait_for(lambda: d.stats()["pending_rows"] == 4 * per, 20, what="all rows pending")
    assert t.db.count() == 0
    d.send_signal(signal.SIGTERM)
    for k, c in enumerate(clients):
        acks = c.recv_n(per)
        assert all(a["ok"] is True for a in acks), [a for a in acks if not a["ok"]][:3]
        assert sorted(a["id"] for a in acks) == list(range(k * per, (k + 1) * per))
    assert d.wait_exit(30) == 0, d.log()
    assert t.db.count() == 4 * per
    assert "shutdown complete" in d.log()


def test_requests_after_shutdown_began_get_pc005(t):
    d = t.daemon("--max-delay-ms", "600000", "--eager-flush", "off")
    c = d.client()
    c.send(insert(1))
    wait_for(lambda: d.stats()["pending_rows"] == 1, 10, what="row pending")
    # hold shutdown open: lock the table so the drain cannot finish at once
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    try:
        d.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in d.log(), 10, what="shutdown to begin")
        a = c.request(insert(2))
        assert a["ok"] is False and a["error"]["code"] == "PC005", a
        # a new connection is refused: the socket is gone
        try:
            Client(d.socket, 2).close()
            raise Failure("still accepting connections after SIGTERM")
        except OSError:
            pass
    finally:
        holder.release()
    assert c.recv() == {"id": 1, "ok": True}
    assert d.wait_exit(30) == 0
    assert t.db.count() == 1


def test_second_signal_during_shutdown_stops_now(t):
    """A second SIGTERM/SIGINT while the drain waits means "now": rows not yet
    in a COMMIT are answered PC005 at once (and are not stored), the process
    exits 0 within a second or two; a third signal changes nothing more."""
    d = t.daemon("--max-delay-ms", "600000", "--eager-flush", "off", "--shutdown-timeout-ms", "60000")
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    c = d.client()
    c.send(*[insert(i) for i in range(10)])
    wait_for(lambda: d.stats()["pending_rows"] == 10, 10, what="rows pending")
    d.send_signal(signal.SIGTERM)
    wait_for(lambda: "shutting down" in d.log(), 10, what="shutdown to begin")
    time.sleep(0.3)                         # the drain's batch waits for the lock
    assert d.proc.poll() is None, d.log()
    d.send_signal(signal.SIGINT)
    acks = c.recv_n(10, timeout=10)
    assert sorted(a["id"] for a in acks) == list(range(10)), acks
    assert all(not a["ok"] and a["error"]["code"] == "PC005" for a in acks), acks
    assert "second signal" in acks[0]["error"]["message"], acks[0]
    d.send_signal(signal.SIGTERM)           # a third: nothing more to do
    assert d.wait_exit(10 if not harness.VALGRIND else 30) == 0, d.log()
    assert "second signal: stopping now" in d.log()
    holder.release()
    assert t.db.count() == 0


def test_signals_while_exiting_never_turn_exit_0_into_death(t):
    """Once the drain is over the exit status is decided: a SIGTERM, SIGINT or
    SIGHUP that arrives while the process frees its memory must not kill it.
    In a plain build that window is microseconds; the sanitizer pass's leak
    check at exit widens it to a tenth of a second, where this test failed
    one run in five before the signals were blocked for the exit."""
    d = t.daemon()
    c = d.client()
    assert c.request(insert(1))["ok"] is True
    d.send_signal(signal.SIGTERM)
    while d.proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            d.send_signal(sig)
        time.sleep(0.002)
    assert d.wait_exit(10) == 0, d.log()
    assert t.db.count() == 1


def test_alter_table_add_column_while_running(t):
    d = t.daemon()
    c = d.client()
    assert c.request(insert(1))["ok"] is True
    a = c.request({"id": 2, "table": "events", "row": {"device_id": 2, "kind": "x", "extra": "e"}})
    assert a["ok"] is False and a["error"]["code"] == "42703", a
    t.db.execute("ALTER TABLE events ADD COLUMN extra text")
    a = c.request({"id": 3, "table": "events", "row": {"device_id": 3, "kind": "x", "extra": "e3"}})
    assert a == {"id": 3, "ok": True}, a
    # a changed type is picked up too: the cached type must not be reused
    t.db.execute("ALTER TABLE events ALTER COLUMN extra TYPE int USING NULL")
    a = c.request({"id": 4, "table": "events", "row": {"device_id": 4, "kind": "x", "extra": 44}})
    assert a == {"id": 4, "ok": True}, a
    a = c.request({"id": 5, "table": "events", "row": {"device_id": 5, "kind": "x", "extra": "no"}})
    assert a["ok"] is False and a["error"]["code"] == "22P02", a
    assert t.db.rows("SELECT device_id, extra FROM events ORDER BY id") == [
        {"device_id": 1, "extra": None}, {"device_id": 3, "extra": None},
        {"device_id": 4, "extra": 44}]


def test_unknown_table_and_column(t):
    d = t.daemon()
    c = d.client()
    a = c.request({"id": 1, "table": "nope", "row": {"a": 1}})
    assert a["ok"] is False and a["error"]["code"] == "42P01", a
    assert "nope" in a["error"]["message"], a
    a = c.request({"id": 2, "table": "events", "row": {"device_id": 1, "kind": "k", "nope": 1}})
    assert a["ok"] is False and a["error"]["code"] == "42703", a
    assert '"nope"' in a["error"]["message"], a
    a = c.request({"id": 3, "table": "events", "row": {"device_id": 1, "kind": "k"}, "returning": ["nope"]})
    assert a["ok"] is False and a["error"]["code"] == "42703", a
    assert t.db.count() == 0
    # the table appears later: the next row goes in
    t.db.execute("CREATE TABLE nope (a int)")
    a = c.request({"id": 4, "table": "nope", "row": {"a": 1}})
    assert a == {"id": 4, "ok": True}, a


def test_ping_flush_stats_and_ids_echoed_exactly(t):
    d = t.daemon("--max-delay-ms", "60000", "--eager-flush", "off")
    c = d.client()
    raw_ids = ['1', '-0', '1.50', '1e3', '12345678901234567890123', '"a-9"', '"\\u00e9\\n\\/"', '"\u00e9"',
               'true', 'false', 'null', '2.0E-7']
    for rid in raw_ids:
        c.send_raw('{"op":"ping","id":%s}\n' % rid)
        line = c.readline().decode()
        assert line == '{"id":%s,"ok":true,"db":"up","features":["describe","on_conflict","key"]}' % rid, (rid, line)  # verbatim
    c.send_raw('{"op":"ping"}\n')
    assert c.readline() == b'{"id":null,"ok":true,"db":"up","features":["describe","on_conflict","key"]}'
    c.send(insert(1), insert(2))
    c.send({"op": "flush", "id": "f"})
    got = c.recv_n(3)
    assert got[-1] == {"id": "f", "ok": True}, got  # after every earlier row
    assert t.db.count() == 2
    st = c.request({"op": "stats", "id": 9})
    assert st["ok"] is True and st["id"] == 9
    s = st["stats"]
    for k in ("rows_received", "rows_committed", "rows_failed", "batches_committed",
              "batches_failed", "retries", "pending_rows", "clients_connected", "db_connections_up"):
        assert isinstance(s[k], int), (k, s)
    assert s["rows_received"] == 2 and s["rows_committed"] == 2 and s["clients_connected"] == 1, s
    table = s["tables"]["public.events"]   # PROTOCOL.md: at least these (extensions allowed)
    assert {k: table[k] for k in ("rows_committed", "rows_failed", "pending_rows")} == \
        {"rows_committed": 2, "rows_failed": 0, "pending_rows": 0}, s
    # a flush with nothing pending answers at once
    assert c.request({"op": "flush", "id": 10}) == {"id": 10, "ok": True}


def test_flush_waits_for_rows_of_other_connections(t):
    d = t.daemon("--max-delay-ms", "60000", "--eager-flush", "off")
    a, b = d.client(), d.client()
    a.send(*[insert(i) for i in range(10)])
    wait_for(lambda: d.stats()["pending_rows"] == 10, 10, what="rows pending")
    assert b.request({"op": "flush", "id": "fb"}) == {"id": "fb", "ok": True}
    assert t.db.count() == 10
    assert all(x["ok"] for x in a.recv_n(10))


def test_one_response_per_line_for_pipelined_mixed_requests(t):
    d = t.daemon()
    c = d.client()
    lines = []
    for i in range(300):
        m = i % 6
        if m == 0:
            lines.append(json.dumps(insert(i)))
        elif m == 1:
            lines.append('{"id":%d,"op":"ping"}' % i)
        elif m == 2:
            lines.append('{"id":%d, not json' % i)
        elif m == 3:
            lines.append('{"id":%d,"op":"stats"}' % i)
        elif m == 4:
            lines.append('{"id":%d,"table":"events","row":{"device_id":"zz","kind":"x"}}' % i)
        else:
            lines.append('{"id":%d,"op":"nope"}' % i)
    c.send_raw("\r\n".join(lines) + "\r\n")
    resps = c.recv_n(len(lines))
    nulls = [r for r in resps if r["id"] is None]
    assert len(nulls) == 50 and all(r["error"]["code"] == "PC001" for r in nulls), nulls[:2]
    byid = c.by_id(r for r in resps if r["id"] is not None)
    for i in range(300):
        if i % 6 == 2:
            continue
        r = byid[str(i)]
        m = i % 6
        if m in (0, 1, 3):
            assert r["ok"] is True, r
        elif m == 4:
            assert r["error"]["code"] == "22P02", r
        else:
            assert r["error"]["code"] == "PC009", r
    assert t.db.count() == 50
    assert c.at_eof(0.2) is False  # the connection stays usable after bad lines


def test_client_that_closes_early_still_has_its_rows_written(t):
    d = t.daemon("--max-delay-ms", "50", "--eager-flush", "off")
    c = d.client()
    c.send(*[insert(i) for i in range(500)])
    c.close()
    wait_for(lambda: t.db.count() == 500, 20, what="rows of a closed client")
    wait_for(lambda: d.stats()["pending_rows"] == 0, 10, what="nothing pending")


def test_last_line_without_newline_is_a_request(t):
    d = t.daemon()
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.socket)
    s.sendall(json.dumps(insert(7)).encode())
    s.shutdown(socket.SHUT_WR)
    f = s.makefile("rb")
    assert json.loads(f.readline()) == {"id": 7, "ok": True}
    assert f.readline() == b""
    s.close()
    assert t.db.count() == 1


def test_lines_in_pieces_from_many_clients_stay_whole_and_their_own(t):
    """Lines of several clients arriving in pieces, interleaved: the daemon
    reads every client through one shared buffer and keeps only each one's
    unfinished line, so every row is its own client's, whole, once (CRLF and a
    last line without newline at EOF included)."""
    d = t.daemon()
    n = 8
    clients = [d.client() for _ in range(n)]
    lines = {k: [json.dumps(insert("c%d-%d" % (k, i), device_id=k, kind="k%d-%d-%s" % (k, i, "x" * 40 * k)))
                 for i in range(3)] for k in range(n)}
    # a whole line and half of the next; then its rest, CRLF, and the start of
    # the last; then the rest of the last, no newline, and EOF. The pauses let
    # the daemon read each piece on its own (without them the test still holds).
    for k, c in enumerate(clients):
        c.send_raw(lines[k][0] + "\n" + lines[k][1][:len(lines[k][1]) // 2])
    time.sleep(0.2)
    for k, c in enumerate(clients):
        c.send_raw(lines[k][1][len(lines[k][1]) // 2:] + "\r\n" + lines[k][2][:7 + k])
    time.sleep(0.2)
    for k, c in enumerate(clients):
        c.send_raw(lines[k][2][7 + k:])
        c.sock.shutdown(socket.SHUT_WR)
    for k, c in enumerate(clients):
        acks = c.recv_n(3)
        assert sorted(a["id"] for a in acks) == ["c%d-%d" % (k, i) for i in range(3)], acks
        assert all(a["ok"] for a in acks), acks
        assert c.at_eof(10)
    stored = sorted((r["device_id"], r["kind"]) for r in t.db.rows("SELECT device_id, kind FROM events"))
    assert stored == sorted((k, "k%d-%d-%s" % (k, i, "x" * 40 * k)) for k in range(n) for i in range(3)), stored


def test_eager_flush_waits_for_the_batch_in_flight_of_its_table(t):
    """With one batch of a table in flight, new rows of that table wait for it
    (or for a full group, or the deadline) instead of trickling out in small
    batches on the other connections."""
    d = t.daemon("--max-delay-ms", "60000", "--connections", "2")
    c = d.client()
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    try:
        c.send(insert(1))
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgcoalesce' " \
                  "AND wait_event_type = 'Lock'"
        wait_for(lambda: t.db.scalar(waiting) == 1, 10, what="the first batch to wait for the lock")
        c.send(*[insert(i) for i in range(2, 51)])
        wait_for(lambda: d.stats()["pending_rows"] == 50, 10, what="rows accepted")
        time.sleep(0.3)  # room for a wrong second batch to start; the check below must see none
        assert t.db.scalar(waiting) == 1, "a second batch started while the first was in flight"
    finally:
        holder.release()
    acks = c.recv_n(50)
    assert all(a["ok"] for a in acks), acks[:3]
    assert t.db.scalar("SELECT count(DISTINCT xmin::text) FROM events") == 2


def test_deferred_constraint_fails_only_its_row(t):
    """A DEFERRABLE INITIALLY DEFERRED constraint fails at COMMIT, for no row in
    particular: the batch is written again row by row (constraints immediate),
    the violating rows fail with their own error, their neighbours commit."""
    t.db.execute("CREATE TABLE t_deferred (id int, k text, "
                 "CONSTRAINT t_deferred_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)")
    t.db.execute("INSERT INTO t_deferred VALUES (0, 'taken')")
    d = t.daemon("--max-delay-ms", "200", "--eager-flush", "off")
    c = d.client()
    reqs = [{"id": i, "table": "t_deferred", "row": {"id": i, "k": "k%d" % i}} for i in range(1, 21)]
    reqs[4]["row"]["k"] = "taken"   # id 5: a row already stored
    reqs[8]["row"]["k"] = "k3"      # id 9: a duplicate within the batch (the first wins)
    c.send(*reqs)
    acks = c.by_id(c.recv_n(len(reqs)))
    for i in (5, 9):
        e = acks[str(i)]["error"]
        assert e["code"] == "23505" and e["constraint"] == "t_deferred_k", (i, e)
    assert all(acks[str(i)] == {"id": i, "ok": True} for i in range(1, 21) if i not in (5, 9)), acks
    assert t.db.rows("SELECT id FROM t_deferred ORDER BY id") == \
        [{"id": i} for i in range(0, 21) if i not in (5, 9)]
    st = d.stats()
    assert st["rows_committed"] == 18 and st["rows_failed"] == 2, st


def test_batches_larger_than_the_socket_buffer(t):
    """Rows of 8 kB: each batch (--max-batch-bytes 1 MiB) is far more than the
    database socket takes at once, so the sidecar writes it as the socket
    drains. Every row is stored, in several transactions."""
    d = t.daemon()
    c = d.client()
    big = "x" * 8000
    c.send(*[insert(i, device_id=i, kind=big) for i in range(1000)])
    acks = c.recv_n(1000, timeout=60)
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    assert t.db.scalar("SELECT count(*) = 1000 AND min(length(kind)) = 8000 FROM events") is True
    assert t.db.scalar("SELECT count(DISTINCT xmin::text) FROM events") >= 8


def test_describe_answers_a_tables_columns(t):
    """op "describe": the columns in order with format_type's type, whether a
    plain INSERT can write each, and identity/generated; 42P01 for a name that
    resolves to nothing; PC008 outside --allow-table; the schema field."""
    t.db.execute("""
        CREATE TABLE app.t_desc (id int GENERATED ALWAYS AS IDENTITY, v varchar(5),
                                 w numeric(10,2) DEFAULT 1, g int GENERATED ALWAYS AS (length(v)) STORED);
        CREATE VIEW app.v_desc AS SELECT id, v, upper(v) AS up FROM app.t_desc;
    """)
    d = t.daemon("--allow-table", "events", "--allow-table", "app.t_desc", "--allow-table", "app.v_desc",
                 "--allow-table", "nope")
    c = d.client()
    ack = c.request({"op": "describe", "id": 1, "table": "events"})
    assert ack["ok"] and ack["id"] == 1 and ack["relation"] == "public.events", ack
    assert [(col["name"], col["type"], col["insertable"], col["generated"]) for col in ack["columns"]] == [
        ("id", "bigint", True, None), ("created_at", "timestamp with time zone", True, None),
        ("device_id", "integer", True, None), ("kind", "text", True, None),
        ("value", "double precision", True, None), ("payload", "jsonb", True, None)], ack
    ack = c.request({"op": "describe", "id": 2, "schema": "app", "table": "t_desc"})
    assert [(col["name"], col["type"], col["generated"]) for col in ack["columns"]] == [
        ("id", "integer", "identity always"), ("v", "character varying(5)", None),
        ("w", "numeric(10,2)", None), ("g", "integer", "stored")], ack
    ack = c.request({"op": "describe", "id": 3, "table": "app.v_desc"})
    assert ack["relation"] == "app.v_desc", ack
    assert [(col["name"], col["insertable"]) for col in ack["columns"]] == [
        ("id", True), ("v", True), ("up", False)], ack
    ack = c.request({"op": "describe", "id": 4, "table": "nope"})
    assert ack == {"id": 4, "ok": False, "error": {"code": "42P01", "message": 'relation "nope" does not exist'}}, ack
    ack = c.request({"op": "describe", "id": 5, "table": "t_keyed"})
    assert not ack["ok"] and ack["error"]["code"] == "PC008", ack
    ack = c.request({"op": "describe", "id": 6})
    assert not ack["ok"] and ack["error"]["code"] == "PC002", ack
    # many at once, pipelined with inserts: each answered once
    c.send(*[{"op": "describe", "id": "d%d" % i, "table": "events"} for i in range(20)] +
           [insert(i) for i in range(20)])
    acks = c.recv_n(40)
    assert sorted(a["id"] for a in acks if isinstance(a["id"], str)) == sorted("d%d" % i for i in range(20))
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]]


def test_describe_without_a_database_is_pc006(t):
    gone = os.path.join(t.tmp, "no-postgres-here")
    d = t.daemon(dsn="host=%s dbname=x" % gone, wait_db=False)
    ack = d.client().request({"op": "describe", "id": 1, "table": "events"})
    assert not ack["ok"] and ack["error"]["code"] == "PC006", ack


def test_a_client_reset_mid_read_is_closed_and_its_neighbours_go_on(t):
    """A client that goes away with our ack unread makes the next read of its
    socket fail (ECONNRESET on a Unix socket), not end: that client is closed
    with the reason, its committed row stays, and other clients are not
    touched. Runs the read error path with io_uring and (second pass) without."""
    d = t.daemon()
    other = d.client()
    c = d.client()
    c.send(insert(1))
    wait_for(lambda: t.db.count() == 1, 10, what="the row committed")
    time.sleep(0.2)                          # its ack is in c's receive buffer, unread
    c.send_raw(b'{"id":2,"table":"events","row":')  # a partial line: the daemon reads again
    c.sock.close()                           # closed with unread data: the peer sees a reset
    wait_for(lambda: 'reason="Connection reset by peer"' in d.log(), 10,
             what="the client closed for the reset")
    assert other.request(insert(3))["ok"] is True
    assert t.db.count() == 2
