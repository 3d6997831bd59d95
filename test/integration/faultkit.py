"""Fault-injection helpers for the integration tests (see harness.py for the basics).

    Session(t, sql, name)   a psql session in the background: runs `sql` (take a
                            lock, open a transaction), then holds it in pg_sleep
                            until release() cancels it
    Load(daemon, ...)       sustained pipelined load from several connections,
                            every row with a unique client-generated key (also sent
                            as its idempotency key with keyed=True); check() proves
                            the delivery promises against the database
    backend(t.db, where)    pid of the one backend matching a pg_stat_activity filter
    sync_rep_stalled(t)     a context in which every COMMIT that wrote something
                            waits for a synchronous standby that never comes
    login_role(t, name, sql) a non-superuser login role (created once per cluster),
                            `sql` run after it exists (grants); returns its DSN
    sqlstate_of(db, sql)    the SQLSTATE a direct statement fails with (None: it
                            succeeded), run in a transaction that is rolled back
    loopback_fdw(t, user)   a postgres_fdw server "loopback" to the test's own
                            database, with a user mapping for `user`

Everything polls with deadlines; nothing sleeps and hopes.
"""
import contextlib
import json
import re
import select
import subprocess
import threading
import time

from harness import Client, Database, Failure, wait_for


class Session:
    """A psql session running `sql`, then (hold=True) sleeping in its open
    transaction until release(). Its application_name is `name`."""

    def __init__(self, t, sql, name, hold=True, db=None):
        self.db = db or t.db
        self.name = name
        script = "SET application_name = '%s';\n%s\n" % (name, sql)
        if hold:
            script += "SELECT pg_sleep(600);\n"
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.db.dsn,
                                      "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.proc.stdin.write(script)
        self.proc.stdin.close()
        t.cleanups.append(self.release)
        if hold:
            wait_for(lambda: self.proc.poll() is not None or self.db.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' "
                "AND wait_event = 'PgSleep'" % name), 30, what="session %s to hold" % name)
            if self.proc.poll() is not None:
                raise Failure("session %s ended early: %s" % (name, self.proc.stdout.read()))

    def release(self):
        """Cancel the sleep: the transaction rolls back, its locks go."""
        if self.proc.poll() is None:
            self.db.psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = '%s'" % self.name, check=False)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self):
        return self.proc.stdout.read()


def backend(db, where, timeout=30.0, what=None):
    """The pid of the single backend of `db` matching `where` (pg_stat_activity), once there."""
    sql = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
           "AND pid <> pg_backend_pid() AND %s" % where)

    def one():
        r = db.rows(sql)
        return r[0]["pid"] if len(r) == 1 else None
    return wait_for(one, timeout, interval=0.02, what=what or "a backend with %s" % where)


@contextlib.contextmanager
def sync_rep_stalled(t):
    """Within: a COMMIT that wrote WAL is flushed locally, then waits for a
    synchronous standby that does not exist (pg_stat_activity: wait_event
    'SyncRep'). Terminating such a backend leaves a transaction committed
    that its client never heard of. Restored on exit, even on failure."""
    admin = Database(t.cluster, "postgres")

    def restore():  # never leave the setting behind: every later COMMIT would hang
        if not t.cluster.is_up():
            t.cluster.start()
        admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
        admin.execute("SELECT pg_reload_conf()")
    t.cleanups.append(restore)
    admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'pgc_no_such_standby'")
    admin.execute("SELECT pg_reload_conf()")
    wait_for(lambda: admin.scalar("SELECT current_setting('synchronous_standby_names')")
             == "pgc_no_such_standby", 10, what="synchronous_standby_names to apply")
    try:
        yield
    finally:
        restore()


class Load:
    """Pipelined inserts from `clients` connections, each keeping up to `window`
    requests in flight, until stop(). Row keys are unique: "<client>-<n>" in
    column `k` of `table`, and the request's "key" too with keyed=True. Every
    response is recorded; a second response for a key, or one for a key never
    sent, is a protocol violation. `requests` keeps every request sent."""

    def __init__(self, daemon, table="t_keyed", clients=4, window=64, drain_timeout=60.0, poison_every=0,
                 keyed=False):
        self.daemon = daemon
        self.table = table
        self.keyed = keyed
        self.requests = []
        self.poison_every = poison_every  # every Nth row has c = -1 (for t_keyed_checked's CHECK)
        self.poison = set()
        self.window = window
        self.drain_timeout = drain_timeout
        self.lock = threading.Lock()
        self.sent = set()
        self.responses = {}
        self.violations = []
        self.errors = []
        self.n_ok = 0
        self.n_failed = 0
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(clients)]

    def start(self):
        for th in self.threads:
            th.start()
        return self

    def _record(self, resp):
        key = resp.get("id")
        with self.lock:
            if key not in self.sent:
                self.violations.append("response for a key never sent: %r" % (resp,))
            elif key in self.responses:
                self.violations.append("second response for %r: %r then %r" %
                                       (key, self.responses[key], resp))
            else:
                self.responses[key] = resp
                if resp.get("ok"):
                    self.n_ok += 1
                else:
                    self.n_failed += 1

    def _run(self, ci):
        n = outstanding = 0
        try:
            c = Client(self.daemon.socket, timeout=self.drain_timeout)
            try:
                while not self._stop.is_set():
                    burst = []
                    while outstanding + len(burst) < self.window:
                        key = "%d-%d" % (ci, n)
                        bad = self.poison_every and n % self.poison_every == 0
                        n += 1
                        burst.append({"id": key, "table": self.table, "row": {"k": key, "c": -1 if bad else ci}})
                        if self.keyed:
                            burst[-1]["key"] = key
                    if burst:
                        with self.lock:
                            self.sent.update(r["id"] for r in burst)
                            self.requests.extend(burst)
                            self.poison.update(r["id"] for r in burst if r["row"]["c"] == -1)
                        c.send(*burst)
                        outstanding += len(burst)
                    for resp in poll_responses(c, 0.2):
                        self._record(resp)
                        outstanding -= 1
                deadline = time.monotonic() + self.drain_timeout
                while outstanding > 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Failure("client %d: %d requests unanswered %.0fs after the load stopped"
                                      % (ci, outstanding, self.drain_timeout))
                    for resp in poll_responses(c, left):
                        self._record(resp)
                        outstanding -= 1
            finally:
                c.close()
        except Exception as ex:  # reported by stop()
            self.errors.append("client %d: %s: %s" % (ci, type(ex).__name__, ex))

    def counts(self):
        with self.lock:
            return self.n_ok, self.n_failed

    def wait_answered(self, n, timeout=60.0, ok_only=False):
        """Wait until at least n responses (ok ones if ok_only) came back."""
        def enough():
            if self.errors:
                raise Failure("load failed: %s" % self.errors)
            ok, failed = self.counts()
            return (ok if ok_only else ok + failed) >= n
        wait_for(enough, timeout, interval=0.02, what="%d responses" % n)

    def stop(self):
        """Stop sending; wait for every outstanding response."""
        self._stop.set()
        for th in self.threads:
            th.join(self.drain_timeout + 30)
            if th.is_alive():
                raise Failure("a load client did not finish")
        if self.errors:
            raise Failure("load failed: %s" % "; ".join(self.errors))
        if self.violations:
            raise Failure("protocol violations (%d): %s" % (len(self.violations), self.violations[:5]))
        return self

    def check(self, db, may_fail=()):
        """The promises, against the database: every request answered once (stop()
        checked it), every acked row stored exactly once, no failed row stored
        (PC007 rows excepted: they may or may not be), no row stored that was not
        sent, poison rows failed with their own 23514 and nothing else did.
        Failures with a code outside `may_fail` are reported. Returns
        {"ok": n, "failed": {code: n}, "stored": n}."""
        rows = db.rows("SELECT k, count(*) AS n FROM %s GROUP BY k" % self.table)
        stored = {r["k"]: r["n"] for r in rows}
        problems = []
        unanswered = self.sent - set(self.responses)
        if unanswered:
            problems.append("%d requests never answered, e.g. %s" % (len(unanswered), sorted(unanswered)[:5]))
        twice = sorted(k for k, n in stored.items() if n > 1)
        if twice:
            problems.append("%d rows stored more than once, e.g. %s" % (len(twice), twice[:5]))
        strangers = sorted(set(stored) - self.sent)
        if strangers:
            problems.append("%d stored rows never sent, e.g. %s" % (len(strangers), strangers[:5]))
        failed = {}
        for k, r in self.responses.items():
            if r.get("ok"):
                if k not in stored:
                    problems.append("acked but not stored: %s" % k)
                if k in self.poison:
                    problems.append("a poison row was acked: %s" % k)
                continue
            code = r.get("error", {}).get("code")
            failed[code] = failed.get(code, 0) + 1
            if code not in may_fail and not (k in self.poison and code == "23514"):
                problems.append("unexpected failure: %s" % json.dumps(r))
            if k in stored and code != "PC007":
                problems.append("answered failed (%s) but stored: %s" % (code, k))
        if problems:
            raise Failure("%d problems:\n  %s" % (len(problems), "\n  ".join(problems[:20])))
        return {"ok": sum(1 for r in self.responses.values() if r.get("ok")), "failed": failed,
                "stored": len(stored)}


def login_role(t, name, sql=""):
    """A LOGIN NOSUPERUSER role `name` (roles are cluster-wide: created if
    missing, reset to these attributes if left by another test), then `sql`
    (grants, ALTER ROLE ... IN DATABASE settings) in the test's database.
    Returns the DSN of the test's database as that role."""
    admin = Database(t.cluster, "postgres")
    admin.execute("DO $$ BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
                  "ALTER ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS" % (name, name))
    if sql:
        t.db.execute(sql)
    return t.db.dsn.replace("user=%s" % t.cluster.user, "user=%s" % name)


def sqlstate_of(db, sql, role=None):
    """What a direct `sql` (a statement, or a list run one after the other)
    does, as psql reports it: None if it succeeded, else the first SQLSTATE.
    Run in a transaction that is rolled back (as `role` if given), so nothing
    is left behind."""
    cmds = ["BEGIN"] + (["SET ROLE %s" % role] if role else []) + \
        ([sql] if isinstance(sql, str) else list(sql)) + ["ROLLBACK"]
    args = ["psql", "-X", "-q", "-v", "VERBOSITY=verbose", "-d", db.dsn]
    for c in cmds:
        args += ["-c", c]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    m = re.search(r"^ERROR:  ([0-9A-Z]{5}): ", p.stderr, re.M)
    return m.group(1) if m else None


def loopback_fdw(t, user):
    """postgres_fdw server `loopback` to the test's own database over the
    cluster's Unix socket, and a user mapping for `user` connecting as itself
    (a non-superuser needs password_required 'false': the cluster trusts)."""
    t.db.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw; "
                 "CREATE SERVER IF NOT EXISTS loopback FOREIGN DATA WRAPPER postgres_fdw "
                 "OPTIONS (host '%s', port '%d', dbname '%s'); "
                 "CREATE USER MAPPING IF NOT EXISTS FOR %s SERVER loopback OPTIONS (user '%s'%s)"
                 % (t.cluster.dir, t.cluster.port, t.db.name, user, user,
                    "" if user == t.cluster.user else ", password_required 'false'"))


def poll_responses(client, timeout):
    """Responses already buffered or arriving within `timeout` (at least one if any arrive)."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        while b"\n" in client.buf:
            line, client.buf = client.buf.split(b"\n", 1)
            out.append(json.loads(line))
        if out:
            return out
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        r, _, _ = select.select([client.sock], [], [], left)
        if r:
            chunk = client.sock.recv(1 << 20)
            if not chunk:
                raise Failure("the sidecar closed the connection")
            client.buf += chunk
