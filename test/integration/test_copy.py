"""--write-path copy (issue 12, item 3): COPY writes a batch's plain rows
exactly as the INSERT it replaces would, or is not used.

The promise: with --write-path copy, every request gets the answer, and
PostgreSQL stores exactly what it would with --write-path unnest, that is
what a direct INSERT of the request's values stores (PROTOCOL.md); COPY only
changes how many statements a batch takes. So each test runs real rows
through a daemon started with --write-path copy and compares with direct
INSERTs of the same values (psql, one statement each, SQLSTATE by SQLSTATE,
value by value), and reads the `copy_statements` and `copy_failed` counters
of `stats` to know which path the rows took: a test whose rows silently
went by INSERT, or whose COPY failed and was hidden by the row-by-row
fallback, would prove nothing.
"""
import json
import subprocess
import threading

from faultkit import Load, Session, login_role, sqlstate_of
from harness import VALGRIND, Client, Failure, wait_for

COPY = ("--write-path", "copy")
ONE_BATCH = ("--max-delay-ms", "200", "--eager-flush", "off")  # pipelined rows share a batch
SIDECAR = "application_name = 'pgcoalesce'"
COPY_OFF_WARNING = "COPY failed where INSERT did not"


# ---------------------------------------------------------------- helpers

def copy_counts(d):
    """(copy_statements, copy_failed) of the daemon's stats."""
    s = d.stats()
    return s["copy_statements"], s["copy_failed"]


def batches(d):
    return d.stats()["batch_rows"]["count"]


def send_rows(d, table, rows, first_id=0, one_batch=False):
    """Send one request per row, pipelined on a new connection; the acks in
    the order of `rows`. one_batch: fail unless they all went in one
    transaction."""
    before = batches(d) if one_batch else 0
    c = d.client(timeout=120)
    reqs = [{"id": first_id + i, "table": table, "row": r} for i, r in enumerate(rows)]
    c.send(*reqs)
    acks = c.by_id(c.recv_n(len(reqs), timeout=120))
    c.close()
    if one_batch and batches(d) - before != 1:
        raise Failure("the %d rows took %d transactions, not one" % (len(rows), batches(d) - before))
    return [acks[json.dumps(r["id"])] for r in reqs]


def dollar(s):
    """`s` as an SQL literal that needs no escaping (dollar quoting)."""
    tag, n = "$q$", 0
    while tag in s or s.endswith(tag[:-1]):
        n += 1
        tag = "$q%d$" % n
    return tag + s + tag


def literal(v):
    """A request value as a direct INSERT's literal: the text the column's
    input function gets (PROTOCOL.md "Values"; arrays are built by callers)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "'true'" if v else "'false'"
    if isinstance(v, (dict, list)):
        return dollar(json.dumps(v, separators=(",", ":"), ensure_ascii=False))
    return dollar(str(v))


def ident(name):
    return '"%s"' % name.replace('"', '""')


def insert_sql(table, row):
    if not row:
        return "INSERT INTO %s DEFAULT VALUES" % table
    return "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(ident(c) for c in row),
                                                ", ".join(literal(v) for v in row.values()))


def one_by_one(db, statements):
    """Run each statement alone (autocommit), in order, with psql; each
    one's SQLSTATE, None where it succeeded."""
    lines = []
    for sql in statements:
        lines += [sql + ";", r"\echo @@ :SQLSTATE"]
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-d", db.dsn, "-f", "-"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    codes = [ln[3:].strip() for ln in p.stdout.splitlines() if ln.startswith("@@ ")]
    if p.returncode != 0 or len(codes) != len(statements):
        raise Failure("psql ran %d of %d statements (exit %d): %s" % (len(codes), len(statements),
                                                                     p.returncode, p.stderr[-2000:]))
    return [None if c == "00000" else c for c in codes]


def ack_code(ack):
    """None for an ok ack, else its error's code."""
    return None if ack.get("ok") is True else ack.get("error", {}).get("code", "no code: %r" % ack)


def same_tables(t, a, b, cols, order):
    got = t.db.rows("SELECT %s FROM %s ORDER BY %s" % (cols, a, order))
    want = t.db.rows("SELECT %s FROM %s ORDER BY %s" % (cols, b, order))
    if got != want:
        diff = [(x, y) for x, y in zip(got, want) if x != y][:5]
        raise Failure("%s (through the sidecar) differs from %s (direct INSERTs): %d vs %d rows; "
                      "first differences (sidecar, direct): %r" % (a, b, len(got), len(want), diff))
    return got


# ---------------------------------------------------------------- 1. fallback

FALLBACK_SETUP = """
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent VALUES (1), (2);
CREATE FUNCTION refuse_forbidden() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.note = 'forbidden' THEN
        RAISE EXCEPTION 'note may not be forbidden' USING ERRCODE = 'U0042';
    END IF;
    RETURN NEW;
END $$;
"""
FALLBACK_TABLE = """
CREATE TABLE {t} (
    id   int NOT NULL,
    n    int CHECK (n >= 0),
    code text UNIQUE,
    req  text NOT NULL,
    p    int REFERENCES parent,
    vc   varchar(3),
    s    smallint,
    note text
);
CREATE TRIGGER refuse BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION refuse_forbidden();
INSERT INTO {t} (id, code, req) VALUES (0, 'stored', 'seed');
"""

# one bad row of each kind: what it changes in a good row, and the SQLSTATE a direct INSERT gets
BAD_ROWS = [
    ({"n": "abc"}, "22P02"),            # not an int
    ({"n": -1}, "23514"),               # CHECK
    ({"code": "c45"}, "23505"),         # UNIQUE: the same code as a good row earlier in the burst
    ({"code": "stored"}, "23505"),      # UNIQUE: the code of a row stored before
    ({"req": None}, "23502"),           # NOT NULL
    ({"p": 99}, "23503"),               # FOREIGN KEY
    ({"note": "forbidden"}, "U0042"),   # the trigger's own SQLSTATE
    ({"vc": "toolong"}, "22001"),       # varchar(3)
    ({"s": 40000}, "22003"),            # smallint
]


def good_row(i):
    return {"id": i, "n": i, "code": "c%d" % i, "req": "r%d" % i, "p": 1 + i % 2, "vc": "v%d" % (i % 10),
            "s": i, "note": "fine\t%d" % i}


def test_copy_failure_falls_back_to_row_by_row(t):
    """A batch whose COPY fails on a row's own error (a bad value, a CHECK,
    a UNIQUE key within the batch and against a stored row, NOT NULL, a
    foreign key, a trigger's custom SQLSTATE, a too long varchar, an out of
    range smallint) goes row by row: each bad row gets exactly the SQLSTATE
    a direct INSERT of it gets and is not stored, every good row of the
    batch is stored exactly once, with the values direct INSERTs store. A
    clean batch before and after is written by COPY: row errors do not
    switch COPY off."""
    t.db.execute(FALLBACK_SETUP + FALLBACK_TABLE.format(t="t_err") + FALLBACK_TABLE.format(t="t_err_twin"))
    d = t.daemon(*COPY, *ONE_BATCH)

    # a clean burst: COPY succeeds
    clean = [good_row(i) for i in range(1, 41)]
    acks = send_rows(d, "t_err", clean, one_batch=True)
    assert all(a == {"id": a["id"], "ok": True} for a in acks), [a for a in acks if not a["ok"]]
    copied, failed = copy_counts(d)
    assert copied >= 1 and failed == 0, "the clean burst: %d COPY statements, %d failed" % (copied, failed)

    # one burst of 200 good rows with every kind of bad row among them
    mixed = []
    bad_ids = {}
    for i in range(41, 241):
        mixed.append(good_row(i))
        j = (i - 51) // 20
        if i >= 51 and (i - 51) % 20 == 0 and j < len(BAD_ROWS):
            change, code = BAD_ROWS[j]
            mixed.append(dict(good_row(1000 + j), **change))
            bad_ids[1000 + j] = code
    assert len(bad_ids) == len(BAD_ROWS)
    acks = send_rows(d, "t_err", mixed, first_id=1000, one_batch=True)

    # the same rows, one direct INSERT each, into the twin table
    direct = one_by_one(t.db, [insert_sql("t_err_twin", r) for r in clean + mixed])
    assert direct[:len(clean)] == [None] * len(clean), direct[:len(clean)]
    direct = direct[len(clean):]
    want = [bad_ids.get(r["id"]) for r in mixed]
    assert direct == want, "the direct INSERTs do not fail as the test expects: %r" % [
        (r["id"], got, w) for r, got, w in zip(mixed, direct, want) if got != w]

    differ = [(r["id"], ack_code(a), code) for r, a, code in zip(mixed, acks, direct) if ack_code(a) != code]
    assert not differ, "%d acks differ from direct INSERTs (row id, sidecar, direct): %r" % (
        len(differ), differ[:12])
    copied2, failed2 = copy_counts(d)
    assert failed2 >= 1, "the burst with bad rows failed no COPY: the fallback was not exercised"

    stored = t.db.rows("SELECT id, count(*) AS n FROM t_err WHERE id > 0 GROUP BY id")
    want_ids = {r["id"] for r in clean + mixed if r["id"] not in bad_ids}
    assert {r["id"] for r in stored} == want_ids, sorted({r["id"] for r in stored} ^ want_ids)
    assert all(r["n"] == 1 for r in stored), [r for r in stored if r["n"] != 1]
    same_tables(t, "t_err", "t_err_twin", "id, n, code, req, p, vc::text, s, note", "id")

    # a clean burst again: still COPY, and no failure
    acks = send_rows(d, "t_err", [good_row(i) for i in range(241, 281)], first_id=2000, one_batch=True)
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]]
    copied3, failed3 = copy_counts(d)
    assert copied3 > copied2 and failed3 == failed2, (copied2, failed2, copied3, failed3)
    assert COPY_OFF_WARNING not in d.log(), d.log()


# ---------------------------------------------------------------- 2. where COPY is used

ROLE = "pgc_copy"
RELATIONS_SETUP = """
CREATE TABLE t_plain (id int, k text);
CREATE TABLE t_part (id int, k text) PARTITION BY RANGE (id);
CREATE TABLE t_part_low PARTITION OF t_part FOR VALUES FROM (0) TO (100);
CREATE TABLE t_part_high PARTITION OF t_part FOR VALUES FROM (100) TO (1000);
CREATE TABLE t_rule (id int, k text);
CREATE TABLE t_rule_log (id int);
CREATE RULE log_it AS ON INSERT TO t_rule DO ALSO INSERT INTO t_rule_log VALUES (NEW.id);
CREATE TABLE t_rls (id int, a int);
ALTER TABLE t_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY p_ins ON t_rls FOR INSERT WITH CHECK (a >= 0);
CREATE POLICY p_sel ON t_rls FOR SELECT USING (true);
CREATE TABLE t_ident (id int GENERATED ALWAYS AS IDENTITY, k text);
CREATE TABLE t_gen (p int, twice int GENERATED ALWAYS AS (p * 2) STORED);
CREATE TABLE t_vbase (id int, k text);
CREATE VIEW v_base AS SELECT id, k FROM t_vbase;
GRANT INSERT, SELECT ON t_plain, t_part, t_rule, t_rls, t_ident, t_gen, v_base TO {role};
"""


def test_copy_is_used_only_where_it_writes_as_insert(t):
    """COPY ignores rules, refuses row-level security and views, and writes
    identity ALWAYS and generated columns that INSERT refuses: rows of a
    table with an INSERT rule, with row-level security (the daemon is not
    the owner), naming an identity ALWAYS or a generated column, or of a
    view go by INSERT (no COPY runs or fails for them), and the outcome is
    a direct INSERT's: the rule's log rows exist, 42501 for the row the
    WITH CHECK policy refuses, 428C9 for the rows naming the identity or
    generated column, their neighbours stored. A plain table and a
    partitioned one, in the same daemon, do go by COPY."""
    dsn = login_role(t, ROLE, RELATIONS_SETUP.format(role=ROLE))
    d = t.daemon(*COPY, *ONE_BATCH, dsn=dsn)

    def through(table, rows, codes, copies, first_id=0):
        """Rows as one batch: their acks' codes (None: ok) must be `codes`,
        and `copies` COPY statements must have run for them, none failed."""
        c0, f0 = copy_counts(d)
        acks = send_rows(d, table, rows, first_id, one_batch=True)
        c1, f1 = copy_counts(d)
        got = ([ack_code(a) for a in acks], c1 - c0, f1 - f0)
        assert got == (codes, copies, 0), "%s: (codes, COPY statements, COPY failed) %r, want %r" % (
            table, got, (codes, copies, 0))

    rows3 = [{"id": 1, "k": "a"}, {"id": 2, "k": "b"}, {"id": 3, "k": "c"}]
    ok3 = [None] * 3
    through("t_plain", rows3, ok3, 1)
    through("t_part", [{"id": 1, "k": "a"}, {"id": 150, "k": "b"}, {"id": 2, "k": "c"}], ok3, 1)
    assert t.db.rows("SELECT tableoid::regclass::text AS p, id FROM t_part ORDER BY id") == [
        {"p": "t_part_low", "id": 1}, {"p": "t_part_low", "id": 2}, {"p": "t_part_high", "id": 150}]

    # a view (it has a rule too, its _RETURN): COPY refuses it
    through("v_base", rows3, ok3, 0)
    assert t.db.rows("SELECT id, k FROM t_vbase ORDER BY id") == rows3

    # a rule: COPY would skip it
    through("t_rule", rows3, ok3, 0)
    assert t.db.rows("SELECT id FROM t_rule_log ORDER BY id") == [{"id": 1}, {"id": 2}, {"id": 3}]

    # row-level security: the WITH CHECK refuses one row, as it does a direct INSERT
    direct = sqlstate_of(t.db, "INSERT INTO t_rls VALUES (2, -1)", role=ROLE)
    assert direct == "42501", direct
    through("t_rls", [{"id": 1, "a": 1}, {"id": 2, "a": -1}, {"id": 3, "a": 2}], [None, direct, None], 0)
    assert t.db.rows("SELECT id FROM t_rls ORDER BY id") == [{"id": 1}, {"id": 3}]

    # identity ALWAYS and generated columns named by a row: COPY would write them
    direct = sqlstate_of(t.db, "INSERT INTO t_ident (id, k) VALUES (50, 'b')", role=ROLE)
    assert direct == "428C9", direct
    through("t_ident", [{"k": "a"}, {"id": 50, "k": "b"}, {"k": "c"}], [None, direct, None], 0)
    assert t.db.rows("SELECT k FROM t_ident WHERE id < 50 ORDER BY k") == [{"k": "a"}, {"k": "c"}]
    direct = sqlstate_of(t.db, "INSERT INTO t_gen (p, twice) VALUES (2, 5)", role=ROLE)
    assert direct == "428C9", direct
    through("t_gen", [{"p": 1}, {"p": 2, "twice": 5}, {"p": 3}], [None, direct, None], 0)
    assert t.db.rows("SELECT p, twice FROM t_gen ORDER BY p") == [{"p": 1, "twice": 2}, {"p": 3, "twice": 6}]

    # and the plain table still goes by COPY
    through("t_plain", rows3, ok3, 1, first_id=10)
    assert t.db.count("t_plain") == 6


# ---------------------------------------------------------------- 3. RETURNING, upserts, keys

def test_rows_needing_returning_upsert_or_key_go_by_insert(t):
    """Rows with "returning", "on_conflict" or "key" are answered in copy mode
    exactly as in unnest mode: the same acks (RETURNING data, upsert actions,
    a resent key acked as a duplicate, errors) and the same rows stored, and
    no COPY runs for their batches. A plain row in a burst of its own does
    go by COPY."""
    # the twin in a schema of its own: the same constraint names, so the same error messages
    t.db.execute("CREATE TABLE t_up (id int PRIMARY KEY, v int, n bigint, note text DEFAULT 'dflt'); "
                 "CREATE SCHEMA twin; CREATE TABLE twin.t_up (LIKE t_up INCLUDING ALL)")
    dc = t.daemon(*COPY, *ONE_BATCH)
    du = t.daemon("--write-path", "unnest", *ONE_BATCH)
    upd = {"columns": ["id"], "do": "update", "set": ["v"], "add": ["n"]}
    bursts = [
        [  # RETURNING
            ({"id": 1, "v": 1}, {"returning": ["id", "note"]}),
            ({"id": 2, "v": 2, "n": 3}, {"returning": ["*"]}),
            ({"id": 1, "v": 9}, {"returning": ["id"]}),        # 23505
        ],
        [  # upserts
            ({"id": 10, "v": 1, "n": 1}, {"on_conflict": upd}),
            ({"id": 10, "v": 2, "n": 5}, {"on_conflict": upd}),
            ({"id": 1, "v": 7}, {"on_conflict": {"columns": ["id"], "do": "nothing"}}),
            ({"id": 11, "v": 1}, {"on_conflict": {"do": "nothing"}}),
        ],
        [  # an upsert with RETURNING
            ({"id": 10, "v": 3, "n": 1}, {"on_conflict": upd, "returning": ["v", "n"]}),
        ],
        [  # keys
            ({"id": 20, "v": 1}, {"key": "K20"}),
            ({"id": 21, "v": 1}, {"key": "K21"}),
        ],
        [  # a key resent, and a new one
            ({"id": 20, "v": 1}, {"key": "K20"}),
            ({"id": 22, "v": 1}, {"key": "K22"}),
        ],
    ]
    answers = []
    for n, burst in enumerate(bursts):
        got = {}
        for d, table, prefix in ((dc, "t_up", "c-"), (du, "twin.t_up", "u-")):
            c = d.client()
            reqs = []
            for i, (row, fields) in enumerate(burst):
                r = dict({"id": 100 * n + i, "table": table, "row": row}, **fields)
                if "key" in r:
                    r["key"] = prefix + r["key"]  # keys are one namespace: the two daemons' apart
                reqs.append(r)
            before = copy_counts(d)
            c.send(*reqs)
            acks = c.by_id(c.recv_n(len(reqs)))
            got[table] = [acks[json.dumps(r["id"])] for r in reqs]
            if d is dc:
                assert copy_counts(d) == before, "burst %d ran COPY: %r then %r" % (n, before, copy_counts(d))
        assert got["t_up"] == got["twin.t_up"], "burst %d: copy mode %r, unnest mode %r" % (
            n, got["t_up"], got["twin.t_up"])
        answers.append(got["t_up"])
    # what the answers are (so the comparison above compared something)
    assert answers[0][0] == {"id": 0, "ok": True, "row": {"id": 1, "note": "dflt"}}, answers[0]
    assert answers[0][1]["row"] == {"id": 2, "v": 2, "n": 3, "note": "dflt"}, answers[0]
    assert ack_code(answers[0][2]) == "23505", answers[0]
    assert [a.get("action") for a in answers[1]] == ["insert", "update", "none", "insert"], answers[1]
    assert answers[2] == [{"id": 200, "ok": True, "action": "update", "row": {"v": 3, "n": 7}}], answers[2]
    assert [a.get("duplicate", False) for a in answers[3]] == [False, False], answers[3]
    assert answers[4][0] == {"id": 400, "ok": True, "duplicate": True}, answers[4]
    assert answers[4][1]["ok"] is True and not answers[4][1].get("duplicate"), answers[4]
    same_tables(t, "t_up", "twin.t_up", "*", "id")

    before = copy_counts(dc)
    assert send_rows(dc, "t_up", [{"id": 30, "v": 30}], 900) == [{"id": 900, "ok": True}]
    after = copy_counts(dc)
    assert after[0] == before[0] + 1 and after[1] == before[1], (before, after)
    assert t.db.rows("SELECT v, note FROM t_up WHERE id = 30") == [{"v": 30, "note": "dflt"}]


# ---------------------------------------------------------------- 4. lost connections

WAIT_SETUP = """
CREATE TABLE t_copy_wait (k text NOT NULL, c int);
CREATE FUNCTION wait_for_77() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.c = 1 THEN
        PERFORM pg_advisory_xact_lock_shared(77);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER wait_for_77 BEFORE INSERT ON t_copy_wait FOR EACH ROW EXECUTE FUNCTION wait_for_77();
"""


def copy_backends(t, wait_event):
    """pids of the sidecar's backends running a COPY script and waiting for `wait_event`."""
    return [r["pid"] for r in t.db.rows(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND %s "
        "AND wait_event = '%s' AND query LIKE '%%COPY %%FROM STDIN%%'" % (SIDECAR, wait_event))]


def test_copy_lost_connection_is_retried_exactly_once(t):
    """The daemon's backend is terminated while its COPY waits: under load,
    for the table's lock before COPY reads its data (three times), and once
    in the middle of the COPY's rows (a row's trigger waits for an advisory
    lock). Every request is answered once, every row acked ok is stored
    exactly once, none fails, the batches were retried, and COPY goes on
    being used after each loss."""
    t.db.execute(WAIT_SETUP)
    d = t.daemon(*COPY, "--retry-timeout-ms", "120000")

    load = Load(d, clients=2, window=50).start()
    load.wait_answered(500, ok_only=True)
    for n in range(3):
        holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN SHARE MODE;", "holder%d" % n)
        pids = wait_for(lambda: copy_backends(t, "relation"), 30, what="a COPY waiting for the table lock")
        retries = d.stats()["retries"]
        t.db.execute("SELECT pg_terminate_backend(pid) FROM unnest(ARRAY%r) pid" % pids)
        wait_for(lambda: d.stats()["retries"] >= retries + len(pids), 30,
                 what="the daemon to retry the batches of its lost connections")
        copied = copy_counts(d)[0]
        holder.release()
        ok = load.counts()[0]
        load.wait_answered(ok + 500, ok_only=True)
        assert copy_counts(d)[0] > copied, "no COPY after the connection was lost"
    load.stop()
    summary = load.check(t.db)
    assert not summary["failed"], summary

    # in the middle of the COPY's data: row 10 of 21 waits in its trigger
    holder = Session(t, "SELECT pg_advisory_lock(77);", "holder77")
    retries = d.stats()["retries"]
    c = d.client()
    rows = [{"k": "w%d" % i, "c": 1 if i == 10 else 0} for i in range(21)]
    c.send(*[{"id": r["k"], "table": "t_copy_wait", "row": r} for r in rows])
    first = wait_for(lambda: copy_backends(t, "advisory"), 30, what="the COPY to wait in its trigger")
    t.db.execute("SELECT pg_terminate_backend(%d)" % first[0])
    # the batch is written again: its new COPY waits in the trigger again
    wait_for(lambda: [p for p in copy_backends(t, "advisory") if p not in first], 30,
             what="the retried COPY to wait in its trigger")
    copied = copy_counts(d)[0]
    holder.release()
    acks = c.by_id(c.recv_n(len(rows)))
    assert all(a["ok"] is True for a in acks.values()), acks
    assert d.stats()["retries"] > retries
    assert copy_counts(d)[0] > copied
    stored = {r["k"]: r["n"] for r in t.db.rows("SELECT k, count(*) AS n FROM t_copy_wait GROUP BY k")}
    assert stored == {r["k"]: 1 for r in rows}, stored


# ---------------------------------------------------------------- 5. the table changes under load

class Bursts:
    """Clients sending bursts of rows (make_row(key)) to `table` and reading
    their answers, until stop(). Every request and answer is kept; keys are
    unique ("<client>-<n>")."""

    def __init__(self, d, table, make_row, clients=2, size=20):
        self.d, self.table, self.make_row, self.size = d, table, make_row, size
        self.lock = threading.Lock()
        self.sent = []          # keys, in the order they were sent
        self.acks = {}
        self.errors = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(clients)]
        for th in self.threads:
            th.start()

    def run(self, ci):
        n = 0
        try:
            c = Client(self.d.socket, timeout=120)
            while not self.stopping.is_set():
                reqs = []
                for _ in range(self.size):
                    key = "%d-%d" % (ci, n)
                    n += 1
                    reqs.append({"id": key, "table": self.table, "row": self.make_row(key)})
                with self.lock:
                    self.sent.extend(r["id"] for r in reqs)
                c.send(*reqs)
                for a in c.recv_n(len(reqs)):
                    with self.lock:
                        if a.get("id") in self.acks:
                            self.errors.append("two answers for %r" % a.get("id"))
                        self.acks[a.get("id")] = a
            c.close()
        except Exception as ex:  # reported by stop()
            self.errors.append("client %d: %s: %s" % (ci, type(ex).__name__, ex))

    def answered(self):
        with self.lock:
            if self.errors:
                raise Failure("load failed: %s" % self.errors)
            return len(self.acks)

    def wait_more(self, n, timeout=60):
        start = self.answered()
        wait_for(lambda: self.answered() >= start + n, timeout, what="%d more answers" % n)

    def sent_now(self):
        with self.lock:
            return set(self.sent)

    def stop(self):
        self.stopping.set()
        for th in self.threads:
            th.join(150)
        if self.errors:
            raise Failure("load failed: %s" % self.errors)
        missing = set(self.sent) - set(self.acks)
        if missing:
            raise Failure("%d requests never answered, e.g. %s" % (len(missing), sorted(missing)[:5]))


MORPH_TABLE = "CREATE TABLE t_morph (k text NOT NULL, a int[], b int[], c int[], d text, e int DEFAULT 7)"
# The changes, in order; each row names a, b, c and d with the same JSON
# arrays (as the test's client writes them: "[1, 2]", "[3, 4]"). What a
# direct INSERT of them stores (an array column takes a JSON array as a
# PostgreSQL array, a text or jsonb column its JSON text), in the table as it
# is after each change, seen at the end (after every change):
#   a: int[] {1,2}, then 1: text '[1, 2]'         (old rows: 'old:{1,2}')
#   c, d: int[] and text, then 2: names swapped   (old rows: c '[3, 4]', d '{1,2}';
#        new rows: c text '[1, 2]', d int[] '{3,4}')
#   b: int[] dropped, then 3: jsonb [1, 2]        (old rows: the default '"old"')
MORPH_CHANGES = [
    "ALTER TABLE t_morph ALTER COLUMN a TYPE text USING 'old:' || a::text",
    "BEGIN; ALTER TABLE t_morph RENAME COLUMN c TO tmp; ALTER TABLE t_morph RENAME COLUMN d TO c; "
    "ALTER TABLE t_morph RENAME COLUMN tmp TO d; COMMIT",
    "ALTER TABLE t_morph DROP COLUMN e, DROP COLUMN b, ADD COLUMN b jsonb DEFAULT '\"old\"'",
]
MORPH_STATES = {  # (a, c, d, b) as stored at the end, for a row committed after change N
    0: ("old:{1,2}", "[3, 4]", "{1,2}", '"old"'),
    1: ("[1, 2]", "[3, 4]", "{1,2}", '"old"'),
    2: ("[1, 2]", "[1, 2]", "{3,4}", '"old"'),
    3: ("[1, 2]", "[1, 2]", "{3,4}", "[1, 2]"),
}


def test_copy_table_changed_under_load_never_writes_wrong_type(t):
    """Under steady load in copy mode the table changes three times: an
    int[] column becomes text, two columns swap names (int[] and text), a
    column is dropped and another dropped and added again as jsonb. Every
    row is acked ok and stored exactly once with what a direct INSERT of its
    values stores in the table as it was when the row committed: a JSON
    array [1,2] is '[1,2]' in a text column, never '{1,2}' (written through
    the cached int[] type). A row sent after a change is stored as after
    it, and COPY goes on being used after each change."""
    t.db.execute(MORPH_TABLE)
    d = t.daemon(*COPY, "--max-delay-ms", "20")
    load = Bursts(d, "t_morph", lambda k: {"k": k, "a": [1, 2], "b": [1, 2], "c": [1, 2], "d": [3, 4]})
    load.wait_more(300)
    sent_after, no_copy = {}, []
    for n, sql in enumerate(MORPH_CHANGES, 1):
        t.db.execute(sql)
        sent_after[n] = load.sent_now()  # rows sent before the change committed
        copied = copy_counts(d)[0]
        load.wait_more(300)
        try:
            wait_for(lambda: copy_counts(d)[0] > copied, 20 if VALGRIND else 5,
                     what="a COPY after change %d" % n)
        except Failure:
            no_copy.append(n)
    load.stop()

    problems = []
    failed = [a for a in load.acks.values() if a.get("ok") is not True]
    if failed:
        problems.append("%d rows failed, e.g. %r" % (len(failed), failed[:3]))
    stored = t.db.rows("SELECT k, count(*) AS n, min(a) AS a, min(c) AS c, min(d::text) AS d, "
                       "min(b::text) AS b FROM t_morph GROUP BY k")
    by_key = {r["k"]: r for r in stored}
    twice = [k for k, r in by_key.items() if r["n"] != 1]
    if twice:
        problems.append("%d rows stored more than once, e.g. %r" % (len(twice), twice[:5]))
    acked = {k for k, a in load.acks.items() if a.get("ok") is True}
    if set(by_key) != acked:
        problems.append("stored rows are not the acked ones: %r" % sorted(set(by_key) ^ acked)[:5])
    state_of = {v: n for n, v in MORPH_STATES.items()}
    wrong, early, seen = [], [], set()
    for k, r in by_key.items():
        state = state_of.get((r["a"], r["c"], r["d"], r["b"]))
        if state is None:
            wrong.append(r)
            continue
        seen.add(state)
        sent_late = [n for n in sent_after if k not in sent_after[n]]
        if sent_late and state < max(sent_late):
            early.append((r, "sent after change %d" % max(sent_late)))
    if wrong:
        problems.append("%d rows stored with values no direct INSERT gives, e.g. %r" % (
            len(wrong), wrong[:3]))
    if early:
        problems.append("%d rows sent after a change stored as before it, e.g. %r" % (len(early), early[:3]))
    if seen != set(MORPH_STATES):
        problems.append("rows stored as after changes %r only" % sorted(seen))
    warnings = [ln for ln in d.log().splitlines() if COPY_OFF_WARNING in ln]
    if no_copy or warnings:
        problems.append("no COPY ran after change(s) %r: %s" % (no_copy, warnings))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- 6. COPY itself fails

REFUSE_COPY = """
CREATE TABLE t_refuses (id int, k text);
CREATE FUNCTION refuse_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_query() ILIKE '%COPY %FROM STDIN%' THEN
        RAISE EXCEPTION 'this table takes no COPY' USING ERRCODE = 'U0C0P';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_copy BEFORE INSERT ON t_refuses FOR EACH ROW EXECUTE FUNCTION refuse_copy();
"""


def test_copy_that_only_copy_refuses_switches_the_table_to_insert(t):
    """A trigger fails every row written by COPY and none written by INSERT
    (it looks at current_query()): the batch's COPY fails, its rows one by
    one all succeed, so every row is acked ok and stored once; the table is
    switched to INSERT for good with one warning in the log; a later batch
    of the table does not try COPY again, while another table still does."""
    t.db.execute(REFUSE_COPY + "CREATE TABLE t_other (id int, k text)")
    assert sqlstate_of(t.db, "INSERT INTO t_refuses VALUES (1, 'x')") is None
    d = t.daemon(*COPY, *ONE_BATCH)
    rows = [{"id": i, "k": "k%d" % i} for i in range(20)]
    acks = send_rows(d, "t_refuses", rows, one_batch=True)
    assert all(a == {"id": a["id"], "ok": True} for a in acks), [a for a in acks if not a["ok"]]
    copied, failed = copy_counts(d)
    assert failed >= 1 and copied == 0, "COPY statements %d, failed %d" % (copied, failed)
    log = d.log()
    assert log.count(COPY_OFF_WARNING) == 1, log
    line = next(ln for ln in log.splitlines() if COPY_OFF_WARNING in ln)
    assert "t_refuses" in line and "takes no COPY" in line, line

    more = [{"id": i, "k": "k%d" % i} for i in range(20, 40)]
    acks = send_rows(d, "t_refuses", more, 100, one_batch=True)
    assert all(a["ok"] is True for a in acks), [a for a in acks if not a["ok"]]
    assert copy_counts(d) == (copied, failed), "the table was tried with COPY again: %r" % (copy_counts(d),)
    assert d.log().count(COPY_OFF_WARNING) == 1, d.log()
    assert t.db.rows("SELECT id, count(*) AS n FROM t_refuses GROUP BY id ORDER BY id") == [
        {"id": i, "n": 1} for i in range(40)]

    acks = send_rows(d, "t_other", rows, 200, one_batch=True)
    assert acks == [{"id": 200 + i, "ok": True} for i in range(20)], acks
    assert copy_counts(d) == (copied + 1, failed), copy_counts(d)


# ---------------------------------------------------------------- 7. values COPY must escape

ESCAPES = [
    "tab\there", "new\nline", "cr\rand crlf\r\n", "back\\slash", "\\", "ends with \\", "\\.", "\\.\n",
    "line\n\\.\nmore", "\\N", "N", "\\\\N", "\\t is not a tab", "a\\nb", "\\x41", "\\101",
    "'single' \"double\" `back`", "h\u00e9llo \U0001F600 \u65e5\u672c\u8a9e", "e\u0301 combining",
    "\u05e9\u05dc\u05d5\u05dd rtl", "\u2028\u2029\u00a0", "\x7f\x01\x08\x0b\x0c\x1b\x1f", "", " ", "NULL",
    "{braces,comma}", "$q$ dollar $$", "\t\n\r\\", "\n",
]


def test_copy_values_with_tabs_newlines_backslashes(t):
    """Text, bytea (as '\\x..' text, and in escape format), json (an object,
    and JSON text given as a string), jsonb and text[] values holding tabs,
    newlines, CRs, backslashes, "\\." and "\\N", quotes, control characters
    and any unicode are stored exactly as a direct INSERT of the same
    values stores them, and COPY wrote them all (none failed, so no row
    went by the row-by-row fallback); large values too, across COPY's
    data messages."""
    cols = "(id int, t text, by bytea, j json, j2 json, jb jsonb, ta text[])"
    t.db.execute("CREATE TABLE t_esc %s; CREATE TABLE t_esc_twin %s" % (cols, cols))
    # Two megabytes of rows take longer than ONE_BATCH's 200 ms to parse under
    # valgrind: no deadline here, a flush after the last row starts the batch.
    d = t.daemon(*COPY, "--max-delay-ms", "600000", "--eager-flush", "off",
                 "--max-request-bytes", "4000000", "--max-batch-bytes", "64000000")
    raws, directs = [], []
    for i, s in enumerate(ESCAPES):
        obj = json.dumps({"s": s, "n": [s, None]}, separators=(",", ":"), ensure_ascii=(i % 2 == 0))
        as_text = '{\n\t"s": %s ,\r\n "t": "\\t\\\\"}\n' % json.dumps(s)  # JSON text with whitespace
        by = "\\x" + s.encode().hex()
        arr = [s, "x\ty", None, "NULL", s + "\\"]
        raws.append('{"id":%d,"t":%s,"by":%s,"j":%s,"j2":%s,"jb":%s,"ta":%s}' % (
            i, json.dumps(s, ensure_ascii=(i % 2 == 1)), json.dumps(by), obj, json.dumps(as_text), obj,
            json.dumps(arr, ensure_ascii=False)))
        directs.append("INSERT INTO t_esc_twin VALUES (%d, %s, %s, %s, %s, %s, ARRAY[%s]::text[])" % (
            i, dollar(s), dollar(by), dollar(obj), dollar(as_text), dollar(obj),
            ", ".join("NULL" if v is None else dollar(v) for v in arr)))
    # bytea's escape format: backslashes that mean something to bytea itself
    for i, by in enumerate(["a\\\\b", "\\101\\102", "\\\\x41", "\\x"], len(ESCAPES)):
        raws.append('{"id":%d,"by":%s}' % (i, json.dumps(by)))
        directs.append("INSERT INTO t_esc_twin (id, by) VALUES (%d, %s)" % (i, dollar(by)))
    # large values: together past COPY's 1 MB data messages, multibyte characters cut at their edges
    big = [("\u00e9\t\\x\U0001F600\n" * 60000)[k:] for k in range(4)]
    for i, s in enumerate(big, len(raws)):
        raws.append('{"id":%d,"t":%s}' % (i, json.dumps(s, ensure_ascii=False)))
        directs.append("INSERT INTO t_esc_twin (id, t) VALUES (%d, %s)" % (i, dollar(s)))

    c = d.client(timeout=120)
    before = batches(d)
    c.send_raw("".join('{"id":%d,"table":"t_esc","row":%s}\n' % (i, r) for i, r in enumerate(raws))
               + '{"op":"flush","id":"flush"}\n')
    acks = c.by_id(c.recv_n(len(raws) + 1, timeout=120))
    assert acks.pop('"flush"') == {"id": "flush", "ok": True}, acks
    assert batches(d) - before == 1, "not one batch"
    bad = [a for a in acks.values() if a.get("ok") is not True]
    assert not bad, bad[:5]
    assert one_by_one(t.db, directs) == [None] * len(directs)
    copied, failed = copy_counts(d)
    assert copied >= 1 and failed == 0, "COPY statements %d, failed %d" % (copied, failed)

    got = same_tables(t, "t_esc", "t_esc_twin",
                      "id, t, encode(by, 'hex') AS by, j::text, j2::text, jb::text, ta::text, ta", "id")
    stored = {r["id"]: r for r in got}
    for i, s in enumerate(ESCAPES):  # and the exact strings, not merely alike on both sides
        assert stored[i]["t"] == s and bytes.fromhex(stored[i]["by"]).decode() == s, (s, stored[i])
        assert stored[i]["ta"] == [s, "x\ty", None, "NULL", s + "\\"], (s, stored[i]["ta"])
        assert json.loads(stored[i]["j"]) == {"s": s, "n": [s, None]}, (s, stored[i]["j"])
    for i, s in enumerate(big, len(ESCAPES) + 4):
        assert stored[i]["t"] == s, "large value %d differs" % i
