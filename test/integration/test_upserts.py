"""Upserts (issue 13, docs/PROTOCOL.md `on_conflict`): every conflict shape,
checked against PostgreSQL itself.

The promise: the rows of a batch behave exactly as if each ran alone, in the
order the sidecar accepted them, as its own `INSERT ... ON CONFLICT ...`.
So every test here sends rows through the sidecar into one table and runs
the same rows one by one through psql (autocommit, one statement each, in
the order they were sent) into a twin table, then compares:

  - each ack with what its statement did there: the same SQLSTATE for a row
    that failed, else ok with the same "action" (`RETURNING xmax = 0` tells
    an insert from an update; no row returned means it did nothing) and the
    same RETURNING values (none for a row that did nothing);
  - the final contents of the two tables.

These tests need the daemon side of issue 13; until it lands they fail
(the v1 sidecar ignores `on_conflict`).
"""
import json
import subprocess
import threading

from faultkit import Session, backend
from harness import Failure, wait_for

# The table the shapes are written to: a primary key (the usual arbiter),
# a second unique column (conflicts the arbiter does not cover), a CHECK
# (poison rows), a counter and a note.
SCHEMA = """
CREATE TABLE {t} (
    id   int PRIMARY KEY,
    tag  text CONSTRAINT {t}_tag_key UNIQUE,
    v    int CHECK (v >= 0),
    n    bigint,
    note text
)"""

SIDECAR = "application_name = 'pgcoalesce'"
ONE_BATCH = ("--max-delay-ms", "200", "--eager-flush", "off")  # pipelined rows share a batch


def make_twins(t, seed_sql=""):
    """Tables `up` (the sidecar's) and `up_twin` (psql's), alike and seeded alike."""
    for name in ("up", "up_twin"):
        t.db.execute(SCHEMA.format(t=name))
        if seed_sql:
            t.db.execute(seed_sql.format(t=name))


def req(i, row, table="up", returning=None, **on_conflict):
    """An insert request with id i; on_conflict from the keywords (none: a plain insert)."""
    r = {"id": i, "table": table, "row": row}
    if on_conflict:
        r["on_conflict"] = on_conflict
    if returning is not None:
        r["returning"] = returning
    return r


# ---------------------------------------------------------------- the one-by-one oracle

def ident(name):
    return '"%s"' % name.replace('"', '""')


def literal(v):
    """A value as the sidecar passes it: text for the column's input function."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        v = "true" if v else "false"
    elif isinstance(v, (dict, list)):
        v = json.dumps(v)
    return "'%s'" % str(v).replace("'", "''")


def statement(table, r, twin_names):
    """Request r as one direct INSERT ... ON CONFLICT ... into `table`,
    returning what it did and its RETURNING columns as one JSON line."""
    row = r["row"]
    if row:
        sql = "INSERT INTO %s AS t (%s) VALUES (%s)" % (
            table, ", ".join(ident(c) for c in row), ", ".join(literal(v) for v in row.values()))
    else:
        sql = "INSERT INTO %s AS t DEFAULT VALUES" % table
    oc = r.get("on_conflict")
    if oc is not None:
        sql += " ON CONFLICT"
        if "columns" in oc:
            sql += " (%s)" % ", ".join(ident(c) for c in oc["columns"])
        elif "constraint" in oc:
            sql += " ON CONSTRAINT %s" % ident(twin_names.get(oc["constraint"], oc["constraint"]))
        if oc["do"] == "nothing":
            sql += " DO NOTHING"
        else:
            sets = ["%s = EXCLUDED.%s" % (ident(c), ident(c)) for c in oc.get("set", [])]
            sets += ["%s = t.%s + EXCLUDED.%s" % (ident(c), ident(c), ident(c)) for c in oc.get("add", [])]
            sql += " DO UPDATE SET " + ", ".join(sets)
    ret = r.get("returning")
    cols = "NULL"
    if ret == ["*"]:
        cols = "to_json(t)"
    elif ret:
        cols = "json_build_object(%s)" % ", ".join("%s, t.%s" % (literal(c), ident(c)) for c in ret)
    return sql + (" RETURNING json_build_object('action', CASE WHEN t.xmax = 0 THEN 'insert' "
                  "ELSE 'update' END, 'row', %s)" % cols)


def one_by_one(db, table, reqs, twin_names=None, before=""):
    """Run `before` (SQL), then each request alone (autocommit) into `table`
    with psql, in order. Returns one outcome per request:
    ("error", SQLSTATE), or (action, returned row or None)."""
    lines = [before] if before else []
    for r in reqs:
        lines.append(statement(table, r, twin_names or {}) + ";")
        lines.append(r"\echo @@ :SQLSTATE")
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-d", db.dsn,
                        "-f", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise Failure("psql failed: %s" % p.stderr[-2000:])
    out, returned = [], []
    for line in p.stdout.splitlines():
        if line.startswith("@@ "):
            state = line[3:].strip()
            if state != "00000":
                out.append(("error", state))
            elif returned:
                got = json.loads(returned[-1])
                out.append((got["action"], got["row"]))
            else:
                out.append(("none", None))
            returned = []
        elif line:
            returned.append(line)
    if len(out) != len(reqs):
        raise Failure("psql ran %d of %d statements:\n%s" % (len(out), len(reqs), p.stderr[-2000:]))
    return out


def check_acks(reqs, acks, expected):
    """Each ack says what its row's statement did alone (see the docstring)."""
    by_id = {a.get("id"): a for a in acks}
    if len(by_id) != len(reqs):
        raise Failure("%d answers for %d requests: %r" % (len(by_id), len(reqs), acks[:5]))
    problems = []
    for r, (what, row) in zip(reqs, expected):
        a = by_id[r["id"]]
        if what == "error":
            if a.get("ok") is not False or a["error"]["code"] != row:
                problems.append("id %r: one by one it fails with %s; the sidecar said %r" % (r["id"], row, a))
            continue
        if a.get("ok") is not True:
            problems.append("id %r: one by one it does %s; the sidecar said %r" % (r["id"], what, a))
            continue
        if "on_conflict" in r and a.get("action") != what:
            problems.append("id %r: action %r, one by one %r: %r" % (r["id"], a.get("action"), what, a))
        if r.get("returning"):
            want = None if what == "none" else row
            if a.get("row") != want:
                problems.append("id %r: returned %r, one by one %r" % (r["id"], a.get("row"), want))
    if problems:
        raise Failure("%d acks differ from running the rows one by one:\n  %s"
                      % (len(problems), "\n  ".join(problems[:20])))


def same_tables(t, a="up", b="up_twin", order="id"):
    got = t.db.rows("SELECT * FROM %s ORDER BY %s" % (a, order))
    want = t.db.rows("SELECT * FROM %s ORDER BY %s" % (b, order))
    if got != want:
        diff = [(x, y) for x, y in zip(got, want) if x != y][:10]
        raise Failure("%s differs from %s (one by one): %d vs %d rows; first differences %r"
                      % (a, b, len(got), len(want), diff))
    return got


def batches(d):
    return d.stats()["batch_rows"]["count"]


def through_sidecar(t, d, reqs, one_batch=False):
    """Send reqs pipelined on one connection; their acks. one_batch: fail
    unless they all went in one transaction (else the test tests nothing)."""
    before = batches(d)
    c = d.client(timeout=120)
    c.send(*reqs)
    acks = c.recv_n(len(reqs), timeout=120)
    if one_batch:
        n = batches(d) - before
        if n != 1:
            raise Failure("the %d rows took %d transactions, not one: the shape was not tested" % (len(reqs), n))
    return acks


def compare(t, d, reqs, one_batch=False, twin_names=None, before=""):
    """The whole check: through the sidecar into `up`, one by one into `up_twin`."""
    acks = through_sidecar(t, d, reqs, one_batch)
    twin = [dict(r, table="up_twin") for r in reqs]
    expected = one_by_one(t.db, "up_twin", twin, twin_names, before)
    check_acks(reqs, acks, expected)
    return acks, same_tables(t)


# ---------------------------------------------------------------- shapes

def test_upsert_feature_is_listed_in_ping(t):
    """ping lists "on_conflict" in its features (a client checks before relying on it)."""
    d = t.daemon()
    r = d.client().request({"op": "ping", "id": 1})
    assert r["ok"] is True and "on_conflict" in r.get("features", []), r


def test_upsert_same_key_twice_in_one_batch(t):
    """Rows hitting the same key in one batch never raise 21000 ("ON CONFLICT
    DO UPDATE command cannot affect row a second time"): the second updates
    what the first wrote, in arrival order, for set, add and DO NOTHING,
    with rows of different column sets mixed in."""
    make_twins(t, "INSERT INTO {t} (id, v, n, note) VALUES (1, 1, 10, 'seeded')")
    d = t.daemon(*ONE_BATCH)
    upd = dict(columns=["id"], do="update", set=["v", "note"], add=["n"])
    reqs = [
        req(1, {"id": 1, "v": 5, "n": 1, "note": "a"}, **upd),       # seeded: update
        req(2, {"id": 2, "v": 1, "n": 1, "note": "b"}, **upd),       # insert
        req(3, {"id": 2, "v": 2, "n": 2, "note": "c"}, **upd),       # updates row 2's write
        req(4, {"id": 1, "v": 7, "n": 3, "note": "d"}, **upd),       # a third time key 1
        req(5, {"id": 2, "n": 4}, **upd),                            # another column set: v, note from DEFAULT
        req(6, {"id": 3, "v": 0, "n": 1}, columns=["id"], do="nothing"),  # insert
        req(7, {"id": 3, "v": 9, "n": 9}, columns=["id"], do="nothing"),  # nothing: row 6 is there
        req(8, {"id": 2, "v": 3, "n": 5, "note": "e"}, **upd),
        req(9, {"id": 3, "v": 4, "n": 6, "note": "f"}, **upd),       # updates what DO NOTHING kept
    ]
    acks, rows = compare(t, d, reqs, one_batch=True)
    assert [a.get("action") for a in sorted(acks, key=lambda a: a["id"])] == \
        ["update", "insert", "update", "update", "update", "insert", "none", "update", "update"], acks
    assert rows[1]["n"] == 1 + 2 + 4 + 5, rows


def test_upsert_same_keys_across_batches(t):
    """The same keys again and again over many small batches (one row at a
    time, then pipelined into batches of 7 on two connections, which may
    overlap: a batch's COMMIT with the next one's statements)."""
    make_twins(t)
    d = t.daemon("--max-batch-rows", "7", "--connections", "2")
    upd = dict(columns=["id"], do="update", set=["note"], add=["n"])
    c = d.client()
    lone = [req("l%d" % i, {"id": i % 3, "n": i, "note": "lone %d" % i}, **upd) for i in range(6)]
    acks = [c.request(r) for r in lone]  # each its own batch
    piped = [req("p%d" % i, {"id": i % 5, "n": i, "note": "piped %d" % i}, **upd) for i in range(200)]
    acks += through_sidecar(t, d, piped)
    reqs = lone + piped
    check_acks(reqs, acks, one_by_one(t.db, "up_twin", [dict(r, table="up_twin") for r in reqs]))
    rows = same_tables(t)
    assert [r["n"] for r in rows] == [sum(i for i in range(6) if i % 3 == k) + sum(i for i in range(200) if i % 5 == k)
                                      for k in range(5)], rows


def test_upsert_poison_rows_fail_alone(t):
    """Rows that fail on their own data (a CHECK on the insert path or on the
    update path, a unique column the arbiter does not cover, a value the
    type cannot read) fail alone with their own SQLSTATE; the rows around
    them, the same keys included, behave as one by one."""
    make_twins(t, "INSERT INTO {t} (id, tag, v, n) VALUES (1, 'one', 1, 1), (2, 'two', 2, 2)")
    d = t.daemon(*ONE_BATCH)
    upd = dict(columns=["id"], do="update", set=["v"], add=["n"])
    reqs = [
        req(1, {"id": 1, "v": 3, "n": 1}, **upd),                  # update
        req(2, {"id": 1, "v": -1, "n": 1}, **upd),                 # update path violates the CHECK
        req(3, {"id": 5, "v": -1, "n": 1}, **upd),                 # insert path violates the CHECK
        req(4, {"id": 5, "v": 5, "n": 1}, **upd),                  # so this one inserts
        req(5, {"id": 6, "tag": "two", "v": 1}, **upd),            # insert conflicts on tag: 23505
        req(6, {"id": 1, "tag": "two", "n": 1}, columns=["id"], do="update", set=["tag"]),  # a taken tag: 23505
        req(7, {"id": 1, "v": "x"}, **upd),                        # 22P02
        req(8, {"id": 1, "v": 4, "n": 100}, **upd),                # key 1 after its poison rows
        req(9, {"id": 2, "tag": "two", "v": 0}, columns=["id"], do="nothing"),
        req(10, {"id": 7, "tag": "one"}, columns=["id"], do="nothing"),  # conflicts on tag, not id: 23505
        req(11, {"id": 1, "n": 1}),                                # no on_conflict: 23505 alone
        req(12, {"id": 8, "v": 8}),                                # plain insert beside them
    ]
    acks, _ = compare(t, d, reqs, one_batch=True)
    failed = sorted(a["id"] for a in acks if not a["ok"])
    assert failed == [2, 3, 5, 6, 7, 10, 11], acks


def test_upsert_returning(t):
    """RETURNING works for upserts: the row as inserted or updated, and no
    row at all for a row that did nothing."""
    make_twins(t, "INSERT INTO {t} (id, v, n, note) VALUES (1, 1, 1, 'seeded')")
    d = t.daemon(*ONE_BATCH)
    ret = ["id", "v", "n", "note"]
    upd = dict(columns=["id"], do="update", set=["v"], add=["n"])
    reqs = [
        req(1, {"id": 1, "v": 2, "n": 5}, returning=ret, **upd),
        req(2, {"id": 2, "v": 3, "n": 1}, returning=ret, **upd),
        req(3, {"id": 2, "v": 4, "n": 1}, returning=["*"], **upd),
        req(4, {"id": 1, "v": 9}, returning=ret, columns=["id"], do="nothing"),
        req(5, {"id": 3, "v": 9}, returning=["n", "id"], do="nothing"),
        req(6, {"id": 3, "v": -5}, returning=ret, **upd),           # fails: no row
        req(7, {"id": 4, "v": 1, "n": 1}, returning=ret),           # a plain insert beside them
    ]
    acks, _ = compare(t, d, reqs, one_batch=True)
    by_id = {a["id"]: a for a in acks}
    assert by_id[4] == {"id": 4, "ok": True, "action": "none"}, by_id[4]
    assert by_id[1]["row"] == {"id": 1, "v": 2, "n": 6, "note": "seeded"}, by_id[1]


def test_upsert_with_a_concurrent_writer(t):
    """Another session (psql, outside the sidecar) updates and inserts the
    same keys in a transaction that is open while the sidecar's batch
    arrives: the batch waits for it, then behaves as if it ran after it,
    row by row. Once the session commits, once it rolls back (its insert
    then never happened: the sidecar's row inserts)."""
    seed = "INSERT INTO {t} (id, v, n, note) VALUES (1, 1, 0, 'a'), (2, 1, 0, 'b')"
    make_twins(t, seed)
    d = t.daemon()
    upd = dict(columns=["id"], do="update", set=["note"], add=["n"])
    outside = ("UPDATE {t} SET n = n + 100, note = 'outside' WHERE id IN (1, 2); "
               "INSERT INTO {t} (id, v, n, note) VALUES ({new}, 1, 7, 'outside');")
    for end, new in (("COMMIT", 10), ("ROLLBACK", 11)):
        gate = Session(t, "SELECT pg_advisory_lock(4242);", "gate_" + end.lower())
        writer = Session(t, "BEGIN; %s SELECT pg_advisory_lock(4242); %s;" % (outside.format(t="up", new=new), end),
                         "writer_" + end.lower(), hold=False)
        wait_for(lambda: t.db.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                     "AND NOT granted"), 30, what="the writer to hold its row locks")
        reqs = [req("%s%d" % (end, i), {"id": k, "n": 1, "note": "%s%d" % (end, i)}, **upd)
                for i, k in enumerate([1, new, 2, 3 + new, new])]
        c = d.client()
        c.send(*reqs)
        backend(t.db, SIDECAR + " AND wait_event_type = 'Lock'", what="the sidecar's batch to wait for the writer")
        gate.release()
        assert writer.proc.wait(30) == 0, writer.output()
        acks = c.recv_n(len(reqs))
        twin = [dict(r, table="up_twin") for r in reqs]
        expected = one_by_one(t.db, "up_twin", twin, before="BEGIN; %s %s;" % (outside.format(t="up_twin", new=new), end))
        check_acks(reqs, acks, expected)
        same_tables(t)
        actions = [a["action"] for a in sorted(acks, key=lambda a: a["id"])]
        assert actions[1] == ("update" if end == "COMMIT" else "insert"), (end, acks)


def test_upsert_add_a_thousand_increments_of_one_key(t):
    """1000 increments of one key in one batch sum exactly, on a new key and
    on a stored one (the sidecar runs them as 1000 rounds in the batch's
    transaction; summing them first would have to give the same); `set`
    takes the last row's value, and each row's action is what it would be
    one by one: the first inserts, the rest update."""
    t.db.execute("INSERT INTO devices (device_id, seen, hits, kind) VALUES (2, '2026-01-01 00:00+00', 5, 'old')")
    d = t.daemon("--max-delay-ms", "2000", "--eager-flush", "off", "--max-batch-rows", "2000")
    oc = {"columns": ["device_id"], "do": "update", "set": ["seen", "kind"], "add": ["hits"]}
    for dev, base in ((1, 0), (2, 5)):
        reqs = [{"id": i, "table": "devices", "on_conflict": oc,
                 "row": {"device_id": dev, "seen": "2026-12-05 10:%02d:%02d+00" % (i // 60 % 60, i % 60),
                         "hits": i % 7, "kind": "k%d" % i}} for i in range(1000)]
        acks = through_sidecar(t, d, reqs, one_batch=True)
        assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
        actions = [a["action"] for a in sorted(acks, key=lambda a: a["id"])]
        want = (["insert"] if base == 0 else ["update"]) + ["update"] * 999
        assert actions == want, (dev, [x for x in enumerate(actions) if x[1] != want[x[0]]][:5])
        got = t.db.rows("SELECT hits, kind, seen = '2026-12-05 10:16:39+00' AS last_seen "
                        "FROM devices WHERE device_id = %d" % dev)
        assert got == [{"hits": base + sum(i % 7 for i in range(1000)), "kind": "k999", "last_seen": True}], got


def test_upsert_add_follows_sql_arithmetic(t):
    """add is `col = t.col + EXCLUDED.col`: a NULL on either side gives NULL,
    as one by one; numbers are exact."""
    make_twins(t, "INSERT INTO {t} (id, n) VALUES (1, NULL), (2, 5), (3, 9223372036854775000)")
    d = t.daemon(*ONE_BATCH)
    add = dict(columns=["id"], do="update", add=["n"])
    reqs = [req(1, {"id": 1, "n": 3}, **add), req(2, {"id": 2, "n": None}, **add),
            req(3, {"id": 2, "n": 4}, **add), req(4, {"id": 3, "n": 800}, **add),
            req(5, {"id": 3, "n": 7}, **add),     # 9223372036854775807: still fits
            req(6, {"id": 3, "n": 1}, **add),     # 22003 (bigint out of range), alone
            req(7, {"id": 4, "n": 2}, **add), req(8, {"id": 4, "n": 2}, **add)]
    acks, rows = compare(t, d, reqs, one_batch=True)
    assert [r["n"] for r in rows] == [None, None, 9223372036854775807, 4], rows
    assert [a["id"] for a in acks if not a["ok"]] == [6], acks


def test_upsert_do_nothing_with_and_without_target(t):
    """DO NOTHING without a target skips a conflict on any unique index; with
    a target only on that one (a conflict elsewhere is 23505, alone)."""
    make_twins(t, "INSERT INTO {t} (id, tag) VALUES (1, 'one')")
    d = t.daemon(*ONE_BATCH)
    reqs = [
        req(1, {"id": 1, "tag": "x"}, do="nothing"),                  # on id: nothing
        req(2, {"id": 2, "tag": "one"}, do="nothing"),                # on tag: nothing
        req(3, {"id": 3, "tag": "three"}, do="nothing"),              # insert
        req(4, {"id": 3, "tag": "three"}, do="nothing"),              # nothing: the row before
        req(5, {"id": 1, "tag": "y"}, columns=["id"], do="nothing"),  # on id: nothing
        req(6, {"id": 4, "tag": "one"}, columns=["id"], do="nothing"),  # on tag, not the target: 23505
        req(7, {"id": 5, "tag": "one"}, columns=["tag"], do="nothing"),  # target tag: nothing
        req(8, {"id": 5, "tag": "five"}, columns=["tag"], do="nothing"),  # insert
    ]
    acks, _ = compare(t, d, reqs, one_batch=True)
    assert [a["action"] if a["ok"] else a["error"]["code"] for a in sorted(acks, key=lambda a: a["id"])] == \
        ["none", "none", "insert", "none", "none", "23505", "none", "insert"], acks


def test_upsert_constraint_target(t):
    """A constraint name as the target (ON CONFLICT ON CONSTRAINT); a name
    that is no constraint, and columns that no unique index covers, fail
    as they do directly (42704, 42P10), each row alone."""
    make_twins(t, "INSERT INTO {t} (id, tag, n) VALUES (1, 'one', 1)")
    d = t.daemon(*ONE_BATCH)
    names = {"up_pkey": "up_twin_pkey", "up_tag_key": "up_twin_tag_key"}
    reqs = [
        req(1, {"id": 1, "n": 2}, constraint="up_pkey", do="update", add=["n"]),
        req(2, {"id": 9, "tag": "one", "n": 5}, constraint="up_tag_key", do="update", add=["n"], set=["id"]),
        req(3, {"id": 2, "tag": "one"}, constraint="up_pkey", do="nothing"),  # conflict on tag: 23505
        req(4, {"id": 3, "tag": "three"}, constraint="up_tag_key", do="nothing"),
        req(5, {"id": 4, "n": 1}, constraint="no_such_constraint", do="update", add=["n"]),
        req(6, {"id": 5, "n": 1}, columns=["n"], do="update", add=["n"]),
        req(7, {"id": 6, "n": 1}, constraint="up_pkey", do="update", add=["n"]),
    ]
    acks, rows = compare(t, d, reqs, one_batch=True, twin_names=names)
    codes = {a["id"]: a["error"]["code"] for a in acks if not a["ok"]}
    assert codes == {3: "23505", 5: "42704", 6: "42P10"}, acks
    assert [(r["id"], r["tag"], r["n"]) for r in rows] == [(3, "three", None), (6, None, 1), (9, "one", 8)], rows


def test_upsert_many_clients_same_keys(t):
    """Counters from many connections at once, on few hot keys: every
    increment is counted exactly once, no 21000, no deadlock surfaces."""
    d = t.daemon("--connections", "2")
    oc = {"columns": ["device_id"], "do": "update", "add": ["hits"], "set": ["kind"]}
    nclients, per = 8, 500
    errors, acks = [], []

    def work(k):
        try:
            c = d.client(timeout=120)
            c.send(*[{"id": "%d-%d" % (k, i), "table": "devices", "on_conflict": oc,
                      "row": {"device_id": i % 10, "hits": 1, "kind": "c%d" % k}} for i in range(per)])
            acks.extend(c.recv_n(per, timeout=120))
        except Exception as ex:  # reported below
            errors.append(ex)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(nclients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(acks) == nclients * per and all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    assert sum(1 for a in acks if a["action"] == "insert") == 10, "each key inserted once"
    assert t.db.rows("SELECT device_id, hits FROM devices ORDER BY 1") == \
        [{"device_id": k, "hits": nclients * per // 10} for k in range(10)]


def test_upsert_malformed_on_conflict_is_pc002(t):
    """A malformed on_conflict is refused (PC002) with a message naming the
    field, and nothing is written."""
    d = t.daemon()
    c = d.client()
    row = {"device_id": 1, "hits": 1}
    cases = [
        ("on_conflict", "update"),
        ("on_conflict", []),
        ("do", {"columns": ["device_id"]}),
        ("do", {"columns": ["device_id"], "do": "upsert", "set": ["hits"]}),
        ("do", {"columns": ["device_id"], "do": 1}),
        ("columns", {"columns": "device_id", "do": "nothing"}),
        ("columns", {"columns": [], "do": "nothing"}),
        ("columns", {"columns": [7], "do": "nothing"}),
        ("constraint", {"constraint": ["devices_pkey"], "do": "nothing"}),
        ("constraint", {"constraint": "", "do": "nothing"}),
        ("constraint", {"columns": ["device_id"], "constraint": "devices_pkey", "do": "nothing"}),
        ("columns", {"do": "update", "set": ["hits"]}),                       # update needs a target
        ("set", {"columns": ["device_id"], "do": "update"}),                  # nothing to update
        ("set", {"columns": ["device_id"], "do": "update", "set": "hits"}),
        ("add", {"columns": ["device_id"], "do": "update", "add": [None]}),
        ("hits", {"columns": ["device_id"], "do": "update", "set": ["hits"], "add": ["hits"]}),
        ("set", {"columns": ["device_id"], "do": "nothing", "set": ["hits"]}),  # set with nothing
        ("where", {"columns": ["device_id"], "do": "nothing", "where": "hits > 0"}),  # unknown: not ignored
    ]
    for i, (field, oc) in enumerate(cases):
        ack = c.request({"id": i, "table": "devices", "row": row, "on_conflict": oc})
        assert ack.get("ok") is False and ack["error"]["code"] == "PC002", (oc, ack)
        msg = ack["error"]["message"]
        assert "on_conflict" in msg and field in msg, "%r: the message should name %r: %r" % (oc, field, msg)
    assert t.db.count("devices") == 0
