"""Database faults: restarts under load, connections lost during COMMIT, a
database that is down, transient and permanent errors.

The promises (PROTOCOL.md): every request answered exactly once; an acked row
is stored exactly once; a failed row is not stored; PC007 only when the
outcome of a COMMIT cannot be known.
"""
import signal
import time

from faultkit import Load, Session, backend, sync_rep_stalled
from harness import VALGRIND, Database, Failure, insert, wait_for

SIDECAR = "application_name = 'pgcoalesce'"


def restart_under_load(t, mode, restarts=3, **load_args):
    d = t.daemon("--retry-timeout-ms", "60000", "--connections", "2")
    load = Load(d, clients=4, window=100, **load_args).start()
    load.wait_answered(3000, ok_only=True)
    for _ in range(restarts):
        t.cluster.restart(mode)
        before = load.counts()[0]
        load.wait_answered(before + 3000, ok_only=True)  # the load carries on after the restart
    load.stop()
    summary = load.check(t.db)  # nothing may fail: the outage is far shorter than the retry timeout
    assert set(summary["failed"]) <= {"23514"}, summary  # only poison rows, if any
    assert "database connection lost" in d.log(), "the restart was not seen:\n" + d.log()
    assert d.stats()["rows_committed"] == summary["ok"]
    return d, summary


def test_restart_fast_under_load(t):
    restart_under_load(t, "fast")


def test_restart_immediate_under_load(t):
    """A crash may give an in-flight transaction's xid to a new transaction:
    pg_xact_status() alone would then report someone else's commit."""
    restart_under_load(t, "immediate")


def test_restart_immediate_with_poison_rows(t):
    """Every 37th row violates a CHECK: batches are isolated row by row (a
    savepoint each) while the server crashes. Good rows are stored once, bad
    rows fail with their own error, nothing else fails."""
    d, summary = restart_under_load(t, "immediate", table="t_keyed_checked", poison_every=37)
    assert summary["failed"].get("23514", 0) > 100, summary


def test_outage_longer_than_retry_timeout(t):
    """Rows that cannot be written within --retry-timeout-ms fail with PC006 and
    are not stored; a batch whose COMMIT was in flight at the crash may get
    PC007 (may or may not be stored); everything else is stored once."""
    d = t.daemon("--retry-timeout-ms", "1000")
    load = Load(d, clients=2, window=50).start()
    load.wait_answered(1000, ok_only=True)
    t.cluster.stop("immediate")
    try:
        late = d.client()
        late.send(*[insert("late%d" % i, "t_keyed", k="late%d" % i) for i in range(50)])
        acks = late.recv_n(50)
        assert {a["error"]["code"] for a in acks} == {"PC006"}, acks[:3]
        assert late.request({"op": "ping", "id": 1}) == {"id": 1, "ok": True, "db": "down",
                                                        "features": ["describe", "on_conflict", "key"]}
    finally:
        t.cluster.start()
    ok = load.counts()[0]
    load.wait_answered(ok + 1000, ok_only=True)
    load.stop()
    load.check(t.db, may_fail=("PC006", "PC007"))
    assert t.db.count("t_keyed", "k LIKE 'late%'") == 0


# ---- a connection lost while COMMIT is in flight

def test_lost_during_commit_that_aborted_is_retried(t):
    """The backend dies inside COMMIT (a deferred trigger sleeps there): the
    transaction aborted, pg_xact_status says so, the batch is written again."""
    t.db.execute("UPDATE slow_commit_config SET sleep_s = 300, times = 1")
    d = t.daemon()
    c = d.client()
    c.send(insert("a", "t_slow_commit", k="a"))
    pid = backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'PgSleep'")
    t.db.execute("SELECT pg_terminate_backend(%d)" % pid)
    assert c.recv() == {"id": "a", "ok": True}
    assert t.db.rows("SELECT k FROM t_slow_commit") == [{"k": "a"}]
    assert t.db.scalar("SELECT last_value FROM slow_commit_calls") == 2  # written twice, committed once
    log = d.log()
    assert "connection lost during COMMIT" in log and "in-doubt commit resolved: aborted" in log, log
    assert d.stats()["in_doubt_resolved"] == 1


def test_lost_during_commit_that_committed_is_acked(t):
    """The backend dies after its commit record was flushed (it waits for a
    synchronous standby): the client never heard COMMIT's answer, but the
    transaction committed. The sidecar asks pg_xact_status() on a new
    connection and acks; writing the rows again would store them twice."""
    with sync_rep_stalled(t):
        d = t.daemon()
        c = d.client()
        c.send(insert("a", "t_keyed", k="a"), insert("b", "t_keyed", k="b"))
        pid = backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'SyncRep'")
        t.db.execute("SELECT pg_terminate_backend(%d)" % pid)
        acks = c.by_id(c.recv_n(2))
    assert acks == {'"a"': {"id": "a", "ok": True}, '"b"': {"id": "b", "ok": True}}, acks
    assert t.db.rows("SELECT k FROM t_keyed ORDER BY k") == [{"k": "a"}, {"k": "b"}]
    log = d.log()
    assert "in-doubt commit resolved: committed" in log, log
    assert d.stats()["in_doubt_resolved"] == 1


def test_commit_outcome_unknown_is_pc007(t):
    """COMMIT in flight, then the database stays away longer than
    --retry-timeout-ms: the outcome cannot be known, the row gets PC007 (and
    may or may not be stored)."""
    with sync_rep_stalled(t):
        d = t.daemon("--retry-timeout-ms", "1000")
        c = d.client()
        c.send(insert("a", "t_keyed", k="a"))
        backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'SyncRep'")
        t.cluster.stop("immediate")
        try:
            ack = c.recv()
        finally:
            t.cluster.start()
    assert ack["id"] == "a" and not ack["ok"] and ack["error"]["code"] == "PC007", ack
    assert t.db.count("t_keyed") in (0, 1)


def crash_with_reassigned_xid(t, role, setup_sql):
    """COMMIT is in flight (a deferred trigger sleeps) when PostgreSQL crashes:
    the transaction's WAL never reached disk, and the first transaction after
    the restart gets the same xid, and commits: pg_xact_status() of that xid
    says "committed" about someone else. Returns the row's answer."""
    admin = Database(t.cluster, "postgres")
    admin.execute("DO $$ BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$" % role)
    t.cleanups.append(lambda: admin.execute("ALTER ROLE %s LOGIN" % role))
    t.db.execute(setup_sql + "; UPDATE slow_commit_config SET sleep_s = 300, times = 1000")
    # the trigger's read must not prune the dead row version: pruning writes WAL in our xid's name
    t.db.execute("VACUUM slow_commit_config")
    admin.execute("CHECKPOINT")  # none due while the COMMIT hangs
    d = t.daemon(dsn=t.db.dsn.replace("user=postgres", "user=" + role))
    admin.execute("ALTER ROLE %s NOLOGIN" % role)  # the sidecar may not come back before we are done
    c = d.client()
    c.send(insert("a", "t_slow_commit", k="a"))
    pid = backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'PgSleep'")
    lost = int(t.db.scalar("SELECT backend_xid::text FROM pg_stat_activity WHERE pid = %d" % pid))
    t.cluster.restart("immediate")
    horizon = int(t.db.scalar("SELECT split_part(next_xid, ':', 2) FROM pg_control_checkpoint()"))
    assert lost >= horizon, "xid %d reached disk before the crash (horizon %d): no reuse" % (lost, horizon)
    # take xids (each psql call commits one) until the lost one was handed out again
    taken = wait_for(lambda: (lambda x: x if x & 0xFFFFFFFF >= lost else None)(
        int(t.db.scalar("SELECT pg_current_xact_id()::text"))), what="xid %d to be reassigned" % lost)
    full = taken - (taken & 0xFFFFFFFF) + lost
    status = wait_for(lambda: (lambda st: st if st != "in progress" else None)(
        t.db.scalar("SELECT pg_xact_status('%d')" % full)), what="the new owner of xid %d to end" % lost)
    assert status == "committed", "xid %d: %s" % (lost, status)  # ours committed it, unless autovacuum took it
    t.db.execute("UPDATE slow_commit_config SET times = 0")
    admin.execute("ALTER ROLE %s LOGIN" % role)
    return d, c.recv()


def test_crash_reassigned_xid_is_not_trusted(t):
    """The sidecar sees the xid was lost (at or above the crash's horizon) and
    writes the row again."""
    d, ack = crash_with_reassigned_xid(t, "pgc_crash", "ALTER ROLE pgc_crash SUPERUSER")
    assert ack == {"id": "a", "ok": True}, ack
    assert t.db.rows("SELECT k FROM t_slow_commit") == [{"k": "a"}]
    assert "in-doubt commit resolved: aborted" in d.log(), d.log()


def test_crash_reassigned_xid_without_horizon_is_pc007(t):
    """Where pg_control_checkpoint() is not granted the horizon is unknown:
    "committed" could be someone else's commit, so the answer is PC007, not ok."""
    d, ack = crash_with_reassigned_xid(t, "pgc_limited", (
        "ALTER ROLE pgc_limited NOSUPERUSER; "
        "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_checkpoint() FROM PUBLIC; "
        "GRANT INSERT, SELECT ON t_slow_commit TO pgc_limited; "
        "GRANT SELECT ON slow_commit_config TO pgc_limited; "
        "GRANT USAGE ON SEQUENCE slow_commit_calls TO pgc_limited"))
    assert ack["id"] == "a" and ack["error"]["code"] == "PC007", ack
    assert "horizon=unknown" in d.log(), d.log()
    assert t.db.count("t_slow_commit") == 0


# ---- a database that is down

def test_starts_while_database_is_down(t):
    """It listens and answers ping with "db":"down"; rows wait and are written
    once the database comes up."""
    t.cluster.stop()
    try:
        d = t.daemon("--retry-timeout-ms", "60000", wait_db=False)
        c = d.client()
        assert c.request({"op": "ping", "id": 1}) == {"id": 1, "ok": True, "db": "down",
                                                        "features": ["describe", "on_conflict", "key"]}
        c.send(*[insert(i, "t_keyed", k=str(i)) for i in range(100)])
        wait_for(lambda: d.stats()["pending_rows"] == 100, what="100 rows pending")
        assert d.stats()["db_connections_up"] == 0
    finally:
        t.cluster.start()
    acks = c.by_id(c.recv_n(100))
    assert all(a["ok"] for a in acks.values()), [a for a in acks.values() if not a["ok"]][:3]
    assert t.db.scalar("SELECT count(DISTINCT k) = 100 AND count(*) = 100 FROM t_keyed") is True
    assert c.request({"op": "ping", "id": 2}) == {"id": 2, "ok": True, "db": "up",
                                                    "features": ["describe", "on_conflict", "key"]}


def test_database_down_past_retry_timeout_is_pc006(t):
    t.cluster.stop()
    try:
        d = t.daemon("--retry-timeout-ms", "300", wait_db=False)
        c = d.client()
        c.send(*[insert(i, "t_keyed", k=str(i)) for i in range(20)])
        acks = c.recv_n(20)
    finally:
        t.cluster.start()
    assert {a["error"]["code"] for a in acks} == {"PC006"}, acks[:3]
    assert "--retry-timeout-ms" in acks[0]["error"]["message"], acks[0]
    assert t.db.count("t_keyed") == 0
    wait_for(lambda: c.request({"op": "ping"}).get("db") == "up", 30, what="the database to be up again")
    assert c.request(insert("again", "t_keyed", k="again")) == {"id": "again", "ok": True}


# ---- transient and permanent errors

TRANSIENT = ["40001", "40P01", "55P03", "53000", "53100", "53200", "53300", "53400",
             "57P01", "57P02", "57P03"]
# Neither transient nor a sign the table changed: whatever raised it (a
# constraint, a trigger, a policy, an extension), the batch is isolated and a
# row gets the error only when it fails alone (issue 10, item 1).
PERMANENT = ["22012", "23514", "P0001", "42501", "XX000", "25006", "U0001"]


def flaky(t, code, times):
    t.db.execute("UPDATE flaky_config SET code = %s, times = %d; SELECT setval('flaky_calls', 1, false)"
                 % ("'%s'" % code if code else "NULL", times))


def flaky_calls(t):
    return t.db.scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM flaky_calls")


def test_transient_errors_are_retried(t):
    """Each transient SQLSTATE, raised by PostgreSQL for the first 3 attempts:
    retried with backoff, then written once."""
    d = t.daemon("--retry-timeout-ms", "30000")
    c = d.client()
    for code in TRANSIENT:
        flaky(t, code, 3)
        retries = d.stats()["retries"]
        assert c.request(insert(code, "t_flaky", k=code)) == {"id": code, "ok": True}, code
        assert flaky_calls(t) == 4, (code, flaky_calls(t))
        assert d.stats()["retries"] - retries == 3, code
    stored = t.db.rows("SELECT k, count(*) AS n FROM t_flaky GROUP BY k")
    assert sorted((r["k"], r["n"]) for r in stored) == sorted((k, 1) for k in TRANSIENT), stored


def test_permanent_errors_are_not_retried(t):
    d = t.daemon("--retry-timeout-ms", "30000")
    c = d.client()
    for code in PERMANENT:
        flaky(t, code, 1000)
        ack = c.request(insert(code, "t_flaky", k=code))
        assert not ack["ok"] and ack["error"]["code"] == code, ack
        assert ack["error"]["message"].startswith("injected failure"), ack
        assert flaky_calls(t) == 2, (code, flaky_calls(t))  # the batch, then the row alone
    assert d.stats()["retries"] == 0
    assert t.db.count("t_flaky") == 0


def test_transient_error_past_retry_timeout_is_pc006(t):
    """Retried with backoff (a few attempts, not a busy loop) until
    --retry-timeout-ms, then PC006 naming the last error."""
    d = t.daemon("--retry-timeout-ms", "1000")
    flaky(t, "40001", 1000000)
    ack = d.client().request(insert("x", "t_flaky", k="x"))
    assert not ack["ok"] and ack["error"]["code"] == "PC006", ack
    assert "40001" in ack["error"]["message"], ack
    calls = flaky_calls(t)
    assert 2 <= calls <= 20, calls  # backoff from 10 ms doubling to 1 s: about 7 attempts in 1 s
    assert t.db.count("t_flaky") == 0


def test_lock_timeout_is_retried(t):
    """A real 55P03: the table is locked by another session, the sidecar's
    lock_timeout fires, the batch is retried until the lock is gone."""
    d = t.daemon(dsn=t.db.dsn + " options='-c lock_timeout=50'")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    c = d.client()
    c.send(insert("a", "t_keyed", k="a"))
    wait_for(lambda: d.stats()["retries"] >= 3, 30, what="retries while the lock is held")
    holder.release()
    assert c.recv() == {"id": "a", "ok": True}
    assert t.db.count("t_keyed") == 1


def test_lock_held_past_retry_timeout_is_pc006(t):
    d = t.daemon("--retry-timeout-ms", "500", dsn=t.db.dsn + " options='-c lock_timeout=50'")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    ack = d.client().request(insert("a", "t_keyed", k="a"))
    holder.release()
    assert not ack["ok"] and ack["error"]["code"] == "PC006" and "55P03" in ack["error"]["message"], ack
    assert t.db.count("t_keyed") == 0


def test_deadlock_victim_is_retried(t):
    """A real 40P01: the sidecar's INSERT waits for an advisory lock held by a
    session that then waits for the sidecar's table lock. The sidecar's side
    is the victim (its deadlock_timeout is shorter), and is retried."""
    d = t.daemon(dsn=t.db.dsn + " options='-c deadlock_timeout=50'")
    other = Session(t, """SET deadlock_timeout = '20s';
BEGIN;
SELECT pg_advisory_xact_lock(42);
DO $$ BEGIN
  WHILE NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted) LOOP
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
LOCK TABLE t_deadlock IN SHARE MODE;
COMMIT;""", "other", hold=False)
    wait_for(lambda: t.db.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"),
             30, what="the other session to hold the advisory lock")
    assert d.client().request(insert("a", "t_deadlock", k="a")) == {"id": "a", "ok": True}
    assert other.proc.wait(30) == 0, other.output()
    assert t.db.scalar("SELECT last_value FROM deadlock_calls") == 2
    assert d.stats()["retries"] >= 1
    assert t.db.count("t_deadlock") == 1


def test_backend_terminated_before_commit_is_retried(t):
    """A real 57P01 before COMMIT was sent: nothing of the attempt committed,
    the batch is written again on a new connection."""
    d = t.daemon()
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    c = d.client()
    c.send(insert("a", "t_keyed", k="a"))
    pid = backend(t.db, SIDECAR + " AND wait_event_type = 'Lock'")
    t.db.execute("SELECT pg_terminate_backend(%d)" % pid)
    wait_for(lambda: "database connection lost" in d.log(), what="the loss to be seen")
    holder.release()
    assert c.recv() == {"id": "a", "ok": True}
    assert t.db.count("t_keyed") == 1


def test_sigterm_right_after_start_is_a_clean_stop(t):
    """SIGTERM as soon as the socket accepts connections (a supervisor stopping
    it at once): exit 0, never death by the signal's default action."""
    import socket as so
    for _ in range(3 if VALGRIND else 10):
        d = t.daemon(wait=False)
        while True:
            s = so.socket(so.AF_UNIX)
            try:
                s.connect(d.socket)
                break
            except OSError:
                if d.proc.poll() is not None:
                    raise Failure("exited before listening:\n" + d.log())
            finally:
                s.close()
        assert d.stop() == 0, d.log()


# ---- shutdown while the database misbehaves

def test_sigterm_during_outage(t):
    """SIGTERM while the database is down: rows still pending at
    --shutdown-timeout-ms get PC005, a flush waiting for them is answered,
    the exit status is 0, and nothing is written later."""
    t.cluster.stop()
    try:
        d = t.daemon("--retry-timeout-ms", "60000", "--shutdown-timeout-ms", "500", wait_db=False)
        c = d.client()
        c.send(*[insert(i, "t_keyed", k=str(i)) for i in range(50)])
        c.send({"op": "flush", "id": "f"})
        wait_for(lambda: d.stats()["pending_rows"] == 50, what="50 pending rows")
        d.send_signal(signal.SIGTERM)
        acks = c.by_id(c.recv_n(51))
        assert d.wait_exit(30) == 0
    finally:
        t.cluster.start()
    assert acks.pop('"f"') == {"id": "f", "ok": True}
    assert {a["error"]["code"] for a in acks.values()} == {"PC005"}, list(acks.values())[:3]
    assert t.db.count("t_keyed") == 0


def test_sigterm_with_commit_in_doubt_is_pc007(t):
    """The shutdown timeout expires while a COMMIT is unanswered: PC007 (the
    outcome is unknown), exit status 0."""
    with sync_rep_stalled(t):
        d = t.daemon("--shutdown-timeout-ms", "500")
        c = d.client()
        c.send(insert("a", "t_keyed", k="a"))
        backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'SyncRep'")
        d.send_signal(signal.SIGTERM)
        ack = c.recv()
        assert d.wait_exit(30) == 0
    assert ack["id"] == "a" and ack["error"]["code"] == "PC007", ack


def test_flush_during_outage_waits_for_the_outcome(t):
    """flush answers once every earlier row is committed or failed, here once
    they failed with PC006."""
    t.cluster.stop()
    try:
        d = t.daemon("--retry-timeout-ms", "500", wait_db=False)
        c = d.client()
        c.send(*[insert(i, "t_keyed", k=str(i)) for i in range(5)])
        c.send({"op": "flush", "id": "f"})
        answers = c.recv_n(6)
    finally:
        t.cluster.start()
    assert answers[-1] == {"id": "f", "ok": True}, answers
    assert {a["error"]["code"] for a in answers[:-1]} == {"PC006"}, answers


def test_second_signal_lets_a_commit_in_flight_report_then_pc007(t):
    """A second signal during the drain stops now, but a COMMIT in flight gets
    a second to say how it ended: a quick one is acked ok (stored), a stuck
    one is answered PC007 (it may commit later); the process exits within a
    second or two either way."""
    bound = 6 if not VALGRIND else 20
    for sleep_s, want in ((0.4, "ok"), (300, "PC007")):
        t.db.execute("UPDATE slow_commit_config SET sleep_s = %s, times = 1000; "
                     "SELECT setval('slow_commit_calls', 1, false)" % sleep_s)
        d = t.daemon("--shutdown-timeout-ms", "60000")
        c = d.client()
        c.send(insert("a", "t_slow_commit", k=want))
        backend(t.db, SIDECAR + " AND query = 'COMMIT' AND wait_event = 'PgSleep'")
        d.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in d.log(), 10, what="shutdown to begin")
        started = time.monotonic()
        d.send_signal(signal.SIGTERM)
        ack = c.recv(timeout=bound)
        if want == "ok":
            assert ack == {"id": "a", "ok": True}, ack
        else:
            assert not ack["ok"] and ack["error"]["code"] == "PC007", ack
        assert d.wait_exit(bound) == 0, d.log()
        assert time.monotonic() - started < bound
        for pid in t.db.rows("SELECT pid FROM pg_stat_activity WHERE " + SIDECAR):
            t.db.execute("SELECT pg_terminate_backend(%d)" % pid["pid"])
    assert t.db.rows("SELECT k FROM t_slow_commit") == [{"k": "ok"}]
