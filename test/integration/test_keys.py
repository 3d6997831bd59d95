"""Idempotency keys (issue 13, docs/PROTOCOL.md insert's `key`): a row sent
with a key is written at most once within --key-retention, whatever
happens to the client, the sidecar or PostgreSQL in between, so resending a
row whose answer was lost is always safe.

Each test resends rows the way an application would after the fault (same
key, same row) and then counts what PostgreSQL stores: t_keyed has no
UNIQUE constraint, so a row written twice shows up as two rows. A resend of
a row already written is acked ok with "duplicate": true.

These tests need the daemon side of issue 13; until it lands they fail
(the v1 sidecar ignores `key` and writes a resend again).
"""
import random
import signal
import subprocess
import threading
import time

from faultkit import Load, Session, backend, login_role, sync_rep_stalled
from harness import DAEMON, VALGRIND, Failure, wait_for

SIDECAR = "application_name = 'pgcoalesce'"
ONE_BATCH = ("--max-delay-ms", "200", "--eager-flush", "off")


def keyed(i, key, table="t_keyed", **row):
    """A keyed insert with id i; the row's k is the key unless given."""
    return {"id": i, "table": table, "row": dict({"k": key}, **row), "key": key}


def stored(t, table="t_keyed"):
    """{k: number of rows with that k}."""
    return {r["k"]: r["n"] for r in t.db.rows("SELECT k, count(*) AS n FROM %s GROUP BY k" % table)}


def is_duplicate(ack):
    return ack.get("ok") is True and ack.get("duplicate") is True


def first_write(ack):
    """ok, and not a duplicate ("duplicate" absent or false)."""
    return ack.get("ok") is True and ack.get("duplicate", False) is False


def resend(d, reqs, chunk=2000):
    """Send reqs again on a new connection, chunk by chunk; {id: ack}."""
    c = d.client(timeout=120)
    out = {}
    for i in range(0, len(reqs), chunk):
        part = reqs[i:i + chunk]
        c.send(*part)
        for a in c.recv_n(len(part), timeout=120):
            out[a["id"]] = a
    c.close()
    return out


def init_db(t, dsn):
    """`pgcoalesce --init-db` against dsn; the CompletedProcess."""
    cmd = [DAEMON, "--init-db", "--dsn", dsn]
    if VALGRIND:
        cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- the basics

def test_key_feature_is_listed_in_ping(t):
    """ping lists "key" (and "on_conflict"): a client checks it before sending
    a key, since a sidecar that ignored the field would write a resend twice."""
    d = t.daemon()
    r = d.client().request({"op": "ping", "id": 1})
    assert r["ok"] is True and {"key", "on_conflict"} <= set(r.get("features", [])), r


def test_key_resent_after_its_ack_is_a_duplicate(t):
    """A keyed row resent after its ack, on the same connection, on another
    one, into another table (keys are one namespace) and after a restart of
    the sidecar, is acked ok with "duplicate": true (no row, even with
    returning) and is not written again. Keys decide, not row contents: the
    same row under another key is written."""
    d = t.daemon()
    c = d.client()
    first = c.request(dict(keyed(1, "K-a", c=1), returning=["k", "c"]))
    assert first == {"id": 1, "ok": True, "row": {"k": "K-a", "c": 1}} or \
        first == {"id": 1, "ok": True, "duplicate": False, "row": {"k": "K-a", "c": 1}}, first
    again = c.request(dict(keyed(2, "K-a", k="K-a", c=2), returning=["k", "c"]))
    assert again == {"id": 2, "ok": True, "duplicate": True}, again
    assert d.client().request(keyed(3, "K-a")) == {"id": 3, "ok": True, "duplicate": True}
    elsewhere = d.client().request(keyed(4, "K-a", table="t_keyed_checked", k="K-a", c=1))
    assert elsewhere == {"id": 4, "ok": True, "duplicate": True}, elsewhere
    assert first_write(c.request(keyed(5, "K-b", k="K-a", c=1)))  # same row, new key
    d.stop()
    d2 = t.daemon()
    assert d2.client().request(keyed(6, "K-a")) == {"id": 6, "ok": True, "duplicate": True}
    assert t.db.rows("SELECT k, c FROM t_keyed") == [{"k": "K-a", "c": 1}] * 2  # keys K-a and K-b
    assert t.db.count("t_keyed_checked") == 0


def test_key_invalid_is_pc002(t):
    """key: a non-empty string of at most 200 bytes (UTF-8); anything else is
    PC002 naming the field, and nothing is written."""
    d = t.daemon()
    c = d.client()
    bad = ["", "x" * 201, "\u00e9" * 100 + "x", 5, ["a"], {"a": 1}, True, "a\u0000b"]
    for i, key in enumerate(bad):
        ack = c.request({"id": i, "table": "t_keyed", "row": {"k": "bad%d" % i}, "key": key})
        assert ack.get("ok") is False and ack["error"]["code"] == "PC002", (key, ack)
        assert "key" in ack["error"]["message"], ack
    assert t.db.count("t_keyed") == 0
    for i, key in enumerate(["x" * 200, "\u00e9" * 100, "k", " "]):  # 200 bytes is the most
        assert first_write(c.request(keyed(i, key))), key
    assert t.db.count("t_keyed") == 4


def test_key_of_a_failed_row_is_not_kept(t):
    """A keyed row that fails on its own data is not written and neither is
    its key: the resend fails the same way, the corrected row under the same
    key is written, and only then is a resend a duplicate."""
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    c.send(keyed("bad", "K1", table="t_keyed_checked", k="K1", c=-1),
           keyed("good", "K2", table="t_keyed_checked", k="K2", c=2))
    acks = c.by_id(c.recv_n(2))
    assert acks['"bad"']["error"]["code"] == "23514" and first_write(acks['"good"']), acks
    again = c.request(keyed("bad2", "K1", table="t_keyed_checked", k="K1", c=-1))
    assert again["ok"] is False and again["error"]["code"] == "23514", again
    assert first_write(c.request(keyed("fixed", "K1", table="t_keyed_checked", k="K1", c=1)))
    assert is_duplicate(c.request(keyed("fixed2", "K1", table="t_keyed_checked", k="K1", c=1)))
    assert stored(t, "t_keyed_checked") == {"K1": 1, "K2": 1}


def test_key_same_key_twice_in_flight_on_one_connection(t):
    """A client that resends before the first answer came: both requests
    are in flight at once (here in one batch), one write, both answered ok.
    The row written is the first one accepted."""
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    c.send(keyed(1, "K", k="K", c=1), keyed(2, "K", k="K", c=2), keyed(3, "K", k="K", c=3),
           keyed(4, "L", k="L", c=4))
    acks = c.by_id(c.recv_n(4))
    assert all(a["ok"] is True for a in acks.values()), acks
    assert t.db.rows("SELECT k, c FROM t_keyed ORDER BY k") == [{"k": "K", "c": 1}, {"k": "L", "c": 4}]


def test_key_with_upsert_add_counts_once(t):
    """Keys with counters: an increment resent is not added again, also when
    the copies share a batch with other increments of the same counter."""
    d = t.daemon(*ONE_BATCH)
    oc = {"columns": ["device_id"], "do": "update", "add": ["hits"]}

    def inc(i, key):
        return {"id": i, "table": "devices", "row": {"device_id": 1, "hits": 1}, "on_conflict": oc,
                "key": key}
    c = d.client()
    c.send(inc(1, "a"), inc(2, "b"), inc(3, "a"), inc(4, "c"), inc(5, "b"))
    acks = c.recv_n(5)
    assert all(a["ok"] for a in acks), acks
    assert t.db.scalar("SELECT hits FROM devices WHERE device_id = 1") == 3
    c.send(inc(6, "c"), inc(7, "a"), inc(8, "d"))
    acks = c.by_id(c.recv_n(3))
    assert is_duplicate(acks["6"]) and is_duplicate(acks["7"]) and first_write(acks["8"]), acks
    assert acks["8"]["action"] == "update", acks
    assert t.db.scalar("SELECT hits FROM devices WHERE device_id = 1") == 4


def test_key_resend_storm(t):
    """Many clients send the same keys at once (an application's retry storm
    after a timeout): every request is answered ok, duplicate or not, and
    each key is stored exactly once."""
    d = t.daemon("--connections", "2")
    keys = ["storm-%d" % i for i in range(300)]
    nclients = 16
    results, errors = [], []

    def work(n):
        try:
            order = keys[:]
            random.Random(n).shuffle(order)
            c = d.client(timeout=120)
            c.send(*[keyed("%d/%s" % (n, k), k) for k in order])
            results.extend(c.recv_n(len(order), timeout=120))
        except Exception as ex:  # reported below
            errors.append(ex)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(nclients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(results) == nclients * len(keys)
    bad = [a for a in results if a.get("ok") is not True]
    assert not bad, bad[:5]
    assert stored(t) == {k: 1 for k in keys}


# ---------------------------------------------------------------- resends after faults

def test_key_resend_after_sigkill_of_the_sidecar(t):
    """Rows sent, the sidecar killed (SIGKILL) before acking them all,
    started again, every row resent with its key: each stored exactly once;
    the rows acked before the kill come back as duplicates."""
    d = t.daemon()
    reqs = [keyed("r%d" % i, "kill-%d" % i) for i in range(5000)]
    c = d.client()
    c.send(*reqs)
    before = [c.recv() for _ in range(300)]
    d.stop(signal.SIGKILL)
    assert all(a["ok"] for a in before), before[:3]
    d2 = t.daemon()
    acks = resend(d2, reqs)
    assert len(acks) == len(reqs) and all(a["ok"] is True for a in acks.values()), \
        [a for a in acks.values() if not a["ok"]][:3]
    assert all(is_duplicate(acks[a["id"]]) for a in before), "a row acked before the kill was written again"
    assert stored(t) == {r["key"]: 1 for r in reqs}


def test_key_resend_after_sigkill_during_commit(t):
    """The sidecar is killed while its COMMIT is in flight (a deferred
    trigger sleeps there): the client never gets an answer, the transaction
    commits anyway. The resend, on a new sidecar, perhaps while that COMMIT
    still runs, is a duplicate: stored once."""
    t.db.execute("UPDATE slow_commit_config SET sleep_s = 2, times = 1")
    d = t.daemon()
    c = d.client()
    c.send(keyed("a", "slow-a", table="t_slow_commit"))
    backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'PgSleep'")
    d.stop(signal.SIGKILL)
    d2 = t.daemon()
    ack = d2.client().request(keyed("a2", "slow-a", table="t_slow_commit"))
    assert ack == {"id": "a2", "ok": True, "duplicate": True}, ack
    wait_for(lambda: t.db.scalar("SELECT count(*) FROM pg_stat_activity WHERE query = 'COMMIT' "
                                 "AND wait_event = 'PgSleep'") == 0, 30, what="the old COMMIT to end")
    assert stored(t, "t_slow_commit") == {"slow-a": 1}


def test_key_resend_after_immediate_postgres_restarts(t):
    """Keyed rows under sustained load across immediate restarts (crashes) of
    PostgreSQL; then the application resends everything it sent, answered or
    not: each row is stored exactly once, every resend is answered ok, and a
    row acked ok the first time is a duplicate the second."""
    d = t.daemon("--retry-timeout-ms", "60000")
    load = Load(d, clients=4, window=100, keyed=True).start()
    load.wait_answered(2000, ok_only=True)
    for _ in range(2):
        t.cluster.restart("immediate")
        load.wait_answered(load.counts()[0] + 2000, ok_only=True)
    load.stop()
    load.check(t.db, may_fail=("PC006", "PC007"))
    acks = resend(d, load.requests)
    bad = [a for a in acks.values() if a.get("ok") is not True]
    assert not bad, bad[:3]
    twice = [k for k, r in load.responses.items() if r.get("ok") and not is_duplicate(acks[k])]
    assert not twice, "acked before, written again: %s" % twice[:5]
    assert stored(t) == {r["key"]: 1 for r in load.requests}


def test_key_resend_after_lost_commit_that_committed(t):
    """The backend dies after its commit record was flushed (it waits for a
    synchronous standby): the sidecar resolves it (committed) and acks; a
    resend is a duplicate, not a second copy."""
    # the key table first: creating it is a commit too, which the stall would hold
    assert init_db(t, t.db.dsn).returncode == 0
    with sync_rep_stalled(t):
        d = t.daemon()
        c = d.client()
        c.send(keyed("a", "lost-a"))
        pid = backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'SyncRep'")
        t.db.execute("SELECT pg_terminate_backend(%d)" % pid)
        assert c.recv()["ok"] is True
    assert c.request(keyed("a2", "lost-a")) == {"id": "a2", "ok": True, "duplicate": True}
    assert stored(t) == {"lost-a": 1}


def test_key_resend_after_lost_commit_that_aborted(t):
    """The backend dies inside COMMIT before it committed: the sidecar writes
    the row again (once) and acks; a resend then is a duplicate."""
    t.db.execute("UPDATE slow_commit_config SET sleep_s = 300, times = 1")
    d = t.daemon()
    c = d.client()
    c.send(keyed("a", "abort-a", table="t_slow_commit"))
    pid = backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'PgSleep'")
    t.db.execute("SELECT pg_terminate_backend(%d)" % pid)
    assert c.recv() == {"id": "a", "ok": True}
    assert is_duplicate(c.request(keyed("a2", "abort-a", table="t_slow_commit")))
    assert stored(t, "t_slow_commit") == {"abort-a": 1}


def test_key_resend_after_commit_unknown(t):
    """COMMIT in flight, then PostgreSQL crashes and stays down past
    --retry-timeout-ms: a v1 row would get PC007 (may or may not be
    stored). With a key the answer may still be PC007 (or ok, if the sidecar
    resolved it), but a resend once the database is back is always safe:
    stored exactly once, and a duplicate if the first copy had committed."""
    # the key table first: creating it is a commit too, which the stall would hold
    assert init_db(t, t.db.dsn).returncode == 0
    with sync_rep_stalled(t):
        d = t.daemon("--retry-timeout-ms", "1000")
        c = d.client()
        c.send(keyed("a", "unknown-a"))
        backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'SyncRep'")
        t.cluster.stop("immediate")
        try:
            first = c.recv()
        finally:
            t.cluster.start()
    assert first["ok"] is True or first["error"]["code"] == "PC007", first
    d.wait_db_up()
    was_stored = t.db.count("t_keyed") == 1
    ack = c.request(keyed("a2", "unknown-a"))
    assert ack["ok"] is True and bool(ack.get("duplicate")) == was_stored, (was_stored, ack)
    assert stored(t) == {"unknown-a": 1}


def test_key_unavailable_row_is_written_on_resend(t):
    """PC006 (the database stayed down) means not written, key included: the
    resend once it is up is written (not a duplicate), the next one is."""
    t.cluster.stop()
    try:
        d = t.daemon("--retry-timeout-ms", "300", wait_db=False)
        c = d.client()
        ack = c.request(keyed(1, "down-1"))
    finally:
        t.cluster.start()
    assert ack["ok"] is False and ack["error"]["code"] == "PC006", ack
    d.wait_db_up(30)
    assert first_write(c.request(keyed(2, "down-1")))
    assert is_duplicate(c.request(keyed(3, "down-1")))
    assert stored(t) == {"down-1": 1}


# ---------------------------------------------------------------- the key table

def test_key_init_db(t):
    """`pgcoalesce --init-db` creates schema pgcoalesce and its key table and
    exits 0; again, it changes nothing and exits 0; without a database it
    exits non-zero with one line on stderr."""
    assert t.db.scalar("SELECT to_regnamespace('pgcoalesce') IS NULL") is True
    p = init_db(t, t.db.dsn)
    assert p.returncode == 0, p
    assert t.db.scalar("SELECT to_regclass('pgcoalesce.keys') IS NOT NULL") is True
    t.db.execute("CREATE TABLE pgcoalesce.marker ()")  # a second run must not drop and re-create
    p = init_db(t, t.db.dsn)
    assert p.returncode == 0, p
    assert t.db.scalar("SELECT to_regclass('pgcoalesce.marker') IS NOT NULL") is True
    p = init_db(t, "host=%s port=1 dbname=nowhere" % t.tmp)
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1, p


def test_key_needs_the_table_or_create_privilege(t):
    """A role that may not CREATE in the database cannot make the key table:
    its keyed rows fail with a clear error naming the way out (--init-db),
    and are not written; its plain rows are unaffected. Once the table
    exists (--init-db by an owner) and the role has its privileges, keyed
    rows work."""
    dsn = login_role(t, "pgc_nocreate", "GRANT INSERT, SELECT ON t_keyed TO pgc_nocreate")
    d = t.daemon(dsn=dsn)
    c = d.client()
    assert c.request({"id": 1, "table": "t_keyed", "row": {"k": "plain"}}) == {"id": 1, "ok": True}
    ack = c.request(keyed(2, "K"))
    assert ack["ok"] is False, ack
    err = ack["error"]
    text = " ".join(err.get(f) or "" for f in ("message", "detail", "hint"))
    assert "pgcoalesce" in text and "--init-db" in text, ack
    assert stored(t) == {"plain": 1}
    assert init_db(t, t.db.dsn).returncode == 0
    # exactly the privileges the README and the error's hint name
    t.db.execute("GRANT USAGE ON SCHEMA pgcoalesce TO pgc_nocreate; "
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON pgcoalesce.keys TO pgc_nocreate")
    n = [2]

    def send():
        n[0] += 1
        a = c.request(keyed(n[0], "K"))
        return a if a["ok"] else None
    assert first_write(wait_for(send, 30, interval=0.5, what="keyed rows to work after --init-db"))
    assert is_duplicate(c.request(keyed(100, "K")))
    assert stored(t) == {"plain": 1, "K": 1}
    d.stop()
    # and it may prune: the key is gone after --key-retention, then written again
    d2 = t.daemon("--key-retention", "1", "--retry-timeout-ms", "500", dsn=dsn)  # kept 11 s
    wait_for(lambda: d2.stats().get("keys_pruned") == 1, 30, interval=0.2, what="the old key pruned")
    assert first_write(d2.client().request(keyed(101, "K")))
    assert stored(t) == {"plain": 1, "K": 2}


def test_key_pruning_is_bounded_and_counted(t):
    """Keys older than --key-retention (seconds) are pruned in bounded steps
    (several DELETEs, none of them all the keys at once: an AFTER DELETE
    trigger on the key table logs each statement's row count), and stats
    (keys_stored, keys_pruned) and /metrics (pgcoalesce_keys_stored,
    pgcoalesce_keys_pruned_total) show it. A key resent after it was pruned
    is outside the window: written again."""
    assert init_db(t, t.db.dsn).returncode == 0
    t.db.execute("""
CREATE TABLE prune_log (n bigint NOT NULL);
CREATE FUNCTION prune_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.prune_log SELECT count(*) FROM gone;
    RETURN NULL;
END $$;
CREATE TRIGGER prune_log AFTER DELETE ON pgcoalesce.keys REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION prune_log()""")
    n = 25000
    reqs = [keyed(i, "old-%d" % i) for i in range(n)]
    metrics = ("--metrics-listen", "127.0.0.1:0")
    d = t.daemon(*metrics)
    acks = resend(d, reqs)
    assert all(first_write(a) for a in acks.values()), [a for a in acks.values() if not first_write(a)][:3]
    st = wait_for(lambda: (lambda s: s if s.get("keys_stored") == n else None)(d.stats()), 30,
                  what="stats keys_stored = %d" % n)
    assert st["keys_pruned"] == 0, st
    m = d.metrics()
    assert m.value("pgcoalesce_keys_stored") == n and m.value("pgcoalesce_keys_pruned_total") == 0
    d.stop()

    d2 = t.daemon(*metrics, "--key-retention", "2", "--retry-timeout-ms", "500")  # kept 11 s
    wait_for(lambda: t.db.scalar("SELECT count(*) FROM pgcoalesce.keys") == 0, 120, interval=0.2,
             what="every old key pruned")
    st = wait_for(lambda: (lambda s: s if s.get("keys_pruned") == n and s.get("keys_stored") == 0 else None)(
        d2.stats()), 30, what="stats keys_pruned = %d, keys_stored = 0" % n)
    m = d2.metrics()
    assert m.value("pgcoalesce_keys_stored") == 0 and m.value("pgcoalesce_keys_pruned_total") == n
    steps = [r["n"] for r in t.db.rows("SELECT n FROM prune_log")]
    if sum(steps) != n:
        raise Failure("the DELETEs on pgcoalesce.keys removed %d keys, not %d: %r" % (sum(steps), n, steps[:20]))
    assert max(steps) < n, "one DELETE removed every key: %r" % steps
    assert first_write(d2.client().request(keyed("again", "old-7")))
    assert stored(t)["old-7"] == 2


def test_key_pruner_keeps_the_sidecar_running(t):
    """The pruner's one-shot timer does not hold the event loop alive, and
    every firing used to take one more reference off the loop: with
    --key-retention 1 (a step every second) the sidecar exited, status 0 and
    not a word logged, after about eight seconds idle."""
    d = t.daemon("--key-retention", "1")
    time.sleep(15)  # no client connected meanwhile: a client holds the loop too
    assert d.proc.poll() is None, "the sidecar exited with status %r:\n%s" % (d.proc.returncode, d.log()[-2000:])
    assert d.client().request({"op": "ping", "id": 1})["ok"] is True


def test_key_outlives_a_commit_in_doubt_whatever_the_retention(t):
    """A key is the proof that settles a COMMIT in doubt, which can take up
    to twice --retry-timeout-ms (the batch runs until its rows' deadline,
    then the lost connection is retried as long): a --key-retention shorter
    than that does not prune it sooner (2 x 3 s + 10 s here), or a resend
    after the in-doubt commit would be written twice."""
    d = t.daemon("--key-retention", "1", "--retry-timeout-ms", "3000")
    c = d.client()
    assert first_write(c.request(keyed(1, "young")))
    time.sleep(3.5)  # the pruner runs every second with this retention
    st = d.stats()
    assert st["keys_pruned"] == 0 and t.db.scalar("SELECT count(*) FROM pgcoalesce.keys") == 1, st
    assert is_duplicate(c.request(keyed(2, "young")))


def test_key_check_probes_the_key_table_by_its_primary_key(t):
    """A keyed batch looks its keys up by the primary key of pgcoalesce.keys,
    never by reading the whole table: an EXISTS under OR was planned as a
    hashed subplan over every stored key once batches held a hundred rows
    (12 ms a batch at 200,000 keys). Counted with
    pg_stat_user_tables.seq_scan of the key table over 12 keyed batches of
    120 rows: the pruning step (a count and a DELETE, at most one step in
    this test's seconds with the default retention) may scan it, the
    batches must not."""
    assert init_db(t, t.db.dsn).returncode == 0
    d = t.daemon("--max-delay-ms", "5000", "--eager-flush", "off", "--max-batch-rows", "120")
    c = d.client()
    for b in range(12):  # 120 rows, flushed together when the 120th arrives
        c.send(*[keyed("%d-%d" % (b, i), "seq-%d-%d" % (b, i)) for i in range(120)])
        acks = c.recv_n(120, timeout=60)
        assert all(first_write(a) for a in acks), [a for a in acks if not first_write(a)][:3]
    assert t.db.scalar("SELECT count(*) FROM t_keyed") == 12 * 120
    d.stop()
    # backends report their statistics as they exit
    wait_for(lambda: t.db.scalar("SELECT count(*) FROM pg_stat_activity WHERE " + SIDECAR) == 0,
             what="the sidecar's backends gone")
    scans = t.db.scalar("SELECT seq_scan FROM pg_stat_user_tables "
                        "WHERE schemaname = 'pgcoalesce' AND relname = 'keys'")
    assert scans <= 4, "%d sequential scans of pgcoalesce.keys for 12 keyed batches" % scans


# ------------------------------------------- from a review of the daemon side

def test_key_insert_privilege_lost_fails_only_keyed_rows(t):
    """The role loses INSERT on pgcoalesce.keys mid-run. The keyed row cannot
    be written; plain rows of the same batch (which would succeed alone)
    must still be written, as when the key table cannot be set up."""
    t.db.execute("CREATE SCHEMA pgcoalesce")
    dsn = login_role(t, "pgc_revoked", "GRANT INSERT, SELECT ON t_keyed TO pgc_revoked")
    d0 = t.daemon()
    assert d0.client().request(keyed(0, "K0"))["ok"] is True  # creates the key table
    d0.stop()
    t.db.execute("GRANT USAGE ON SCHEMA pgcoalesce TO pgc_revoked; "
                 "GRANT SELECT, INSERT, UPDATE, DELETE ON pgcoalesce.keys TO pgc_revoked")
    d = t.daemon(*ONE_BATCH, dsn=dsn)
    c = d.client()
    assert c.request(keyed(1, "K1"))["ok"] is True
    t.db.execute("REVOKE INSERT ON pgcoalesce.keys FROM pgc_revoked")
    c.send({"id": "p1", "table": "t_keyed", "row": {"k": "p1"}},
           keyed("k2", "K2"),
           {"id": "p2", "table": "t_keyed", "row": {"k": "p2"}})
    acks = c.by_id(c.recv_n(3))
    err = acks['"k2"'].get("error", {})
    assert acks['"k2"']["ok"] is False and err.get("code") == "42501", acks
    assert "--init-db" in (err.get("hint") or ""), acks  # the way out: the key table's privileges
    assert acks['"p1"']["ok"] is True and acks['"p2"']["ok"] is True, acks
    assert stored(t) == {"K0": 1, "K1": 1, "p1": 1, "p2": 1}


def test_key_with_odd_characters(t):
    """Keys with array-literal specials are stored verbatim and deduplicated."""
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    keys = ["NULL", "null", 'a"b', "a\\b", "{x,y}", " sp ", "a,b", "\u00e9\u2603"]
    c.send(*[keyed(i, k) for i, k in enumerate(keys)])
    acks = c.recv_n(len(keys))
    assert all(a["ok"] and not a.get("duplicate") for a in acks), acks
    got = sorted(r["key"] for r in t.db.rows("SELECT key FROM pgcoalesce.keys"))
    assert got == sorted(keys), got
    c.send(*[keyed(100 + i, k) for i, k in enumerate(keys)])
    acks = c.recv_n(len(keys))
    assert all(a["ok"] and a.get("duplicate") for a in acks), acks
    assert t.db.count("t_keyed") == len(keys)


def test_key_table_dropped_while_running(t):
    """pgcoalesce.keys dropped while the sidecar runs: set up again, no row lost."""
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    assert c.request(keyed(1, "K1"))["ok"] is True
    t.db.execute("DROP TABLE pgcoalesce.keys")
    c.send({"id": "p1", "table": "t_keyed", "row": {"k": "p1"}}, keyed("k2", "K2"))
    acks = c.by_id(c.recv_n(2))
    assert all(a["ok"] for a in acks.values()), acks
    assert t.db.count("t_keyed") == 3


def test_key_upsert_returning_maps_past_duplicates(t):
    """One upsert statement with a duplicate in the middle: each ack's
    returned row is its own, and the duplicate's add is not applied."""
    oc = {"columns": ["device_id"], "do": "update", "add": ["hits"], "set": ["kind"]}

    def up(i, dev, key, kind):
        return {"id": i, "table": "devices", "row": {"device_id": dev, "hits": 1, "kind": kind},
                "on_conflict": oc, "key": key, "returning": ["device_id", "kind", "hits"]}
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    assert c.request(up(0, 2, "B", "b0"))["ok"] is True
    c.send(up(1, 1, "A", "a"), up(2, 2, "B", "b"), up(3, 3, "C", "c"),
           {"id": 4, "table": "devices", "row": {"device_id": 4, "hits": None}, "on_conflict": oc,
            "key": "D"},
           up(5, 1, "E", "e"))
    acks = c.by_id(c.recv_n(5))
    assert acks["1"]["ok"] and acks["1"]["row"] == {"device_id": 1, "kind": "a", "hits": 1}, acks
    assert acks["2"].get("duplicate") is True and "row" not in acks["2"], acks
    assert acks["3"]["ok"] and acks["3"]["row"] == {"device_id": 3, "kind": "c", "hits": 1}, acks
    assert acks["4"]["ok"] is False and acks["4"]["error"]["code"] == "23502", acks
    assert acks["5"]["ok"] and acks["5"]["action"] == "update" and acks["5"]["row"]["hits"] == 2, acks
    assert t.db.rows("SELECT device_id, hits, kind FROM devices ORDER BY 1") == [
        {"device_id": 1, "hits": 2, "kind": "e"}, {"device_id": 2, "hits": 1, "kind": "b0"},
        {"device_id": 3, "hits": 1, "kind": "c"}]
    assert t.db.scalar("SELECT count(*) FROM pgcoalesce.keys WHERE key = 'D'") == 0
    # the poison's key was not kept: corrected, it is written
    fixed = dict(up(6, 4, "D", "d"))
    assert c.request(fixed).get("duplicate") is None


def test_key_rows_retried_after_a_transient_error(t):
    """A transient error (40001) fails the first attempt after its keys were
    stored: the retry writes each row once and does not call them duplicates."""
    t.db.execute("UPDATE flaky_config SET code = '40001', times = 2")
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    c.send(*[{"id": i, "table": "t_flaky", "row": {"k": "k%d" % i}, "key": "F%d" % i} for i in range(5)])
    acks = c.recv_n(5)
    assert all(a["ok"] and not a.get("duplicate") for a in acks), acks
    assert t.db.count("t_flaky") == 5
    assert t.db.scalar("SELECT count(*) FROM pgcoalesce.keys") == 5


def test_key_empty_row_and_hostile_upsert_names(t):
    """A keyed row with no columns (all defaults), and a keyed upsert whose
    table and columns have hostile names."""
    t.db.execute("CREATE TABLE t_key_defaults (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
    d = t.daemon(*ONE_BATCH)
    c = d.client()
    c.send({"id": 1, "table": "t_key_defaults", "row": {}, "key": "E1"},
           {"id": 2, "table": "t_key_defaults", "row": {}, "key": "E2"},
           {"id": 3, "table": "t_key_defaults", "row": {}})
    acks = c.recv_n(3)
    assert all(a["ok"] for a in acks), acks
    assert c.request({"id": 4, "table": "t_key_defaults", "row": {}, "key": "E1"}).get("duplicate") is True
    assert t.db.count("t_key_defaults") == 3
    tbl = "t'; DROP TABLE events; --"
    col = 'c"; DROP TABLE events; --'
    oc = {"columns": ["id"], "do": "update", "set": [col, "a'b"]}
    c.send(*[{"id": 10 + i, "table": tbl, "row": {"id": 1, col: "v%d" % i, "a'b": "w%d" % i},
              "on_conflict": oc, "key": "H%d" % (i % 2)} for i in range(4)])
    acks = c.by_id(c.recv_n(4))
    assert [acks[str(10 + i)].get("duplicate") for i in range(4)] == [None, None, True, True], acks
    assert [acks[str(10 + i)].get("action") for i in range(2)] == ["insert", "update"], acks
    assert t.db.scalar("SELECT count(*) FROM \"t'; DROP TABLE events; --\"") == 1
    assert t.db.scalar("SELECT \"a'b\" FROM \"t'; DROP TABLE events; --\"") == "w1"


def test_key_wait_timeout_fails_only_that_row(t):
    """Another writer (a second sidecar, say) holds key K in an open
    transaction; the role's statement_timeout (500 ms) cancels our key insert
    waiting for it. README: a row that runs into the role's statement_timeout
    alone fails alone (57014); the plain rows and the other keyed row of the
    batch do not wait for K and must commit."""
    d0 = t.daemon()
    assert d0.client().request(keyed(0, "K0"))["ok"] is True  # creates the key table
    d0.stop()
    dsn = login_role(t, "pgc_keywait", "GRANT INSERT, SELECT ON t_keyed TO pgc_keywait; "
                     "GRANT USAGE ON SCHEMA pgcoalesce TO pgc_keywait; "
                     "GRANT SELECT, INSERT, UPDATE, DELETE ON pgcoalesce.keys TO pgc_keywait; "
                     "ALTER ROLE pgc_keywait IN DATABASE %s SET statement_timeout = '500ms'" % t.db.name)
    Session(t, "BEGIN; INSERT INTO pgcoalesce.keys (key, token) VALUES ('K', 'other');", "keyhold")
    d = t.daemon(*ONE_BATCH, dsn=dsn)
    c = d.client()
    c.send({"id": "p1", "table": "t_keyed", "row": {"k": "p1"}}, keyed("k", "K"), keyed("l", "L"),
           {"id": "p2", "table": "t_keyed", "row": {"k": "p2"}})
    acks = c.by_id(c.recv_n(4, timeout=60))
    assert acks['"k"']["ok"] is False and acks['"k"']["error"]["code"] == "57014", acks
    assert all(acks[i]["ok"] for i in ('"p1"', '"l"', '"p2"')), acks
    assert stored(t) == {"K0": 1, "L": 1, "p1": 1, "p2": 1}
