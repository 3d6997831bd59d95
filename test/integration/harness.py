"""Integration-test harness: a real PostgreSQL, the real daemon, real sockets.

Every integration test is a function `test_*(t)` in a file
test/integration/test_*.py; `t` is a `TestContext`:

    def test_lone_row_is_acked(t):
        d = t.daemon("--max-delay-ms", "50")        # bin/pgcoalesce on a fresh socket
        c = d.client()                              # a Unix-socket client
        ack = c.request({"id": 1, "table": "events", "row": {"device_id": 1, "kind": "x"}})
        assert ack == {"id": 1, "ok": True}, ack
        assert t.db.scalar("SELECT count(*) FROM events") == 1

One PostgreSQL cluster serves the whole run (initdb in a temporary directory,
started as the `postgres` user when run as root, reachable only over its Unix
socket). Each test gets a database of its own, created from a template that
holds sql/demo.sql and sql/test.sql, so tests never see each other's rows.
Daemons and clients a test starts are stopped when it ends; a daemon that
crashed, exited non-zero or printed a sanitizer or valgrind report fails the
test.

The CLI: t.cli(*args, input=..., socket_path=...) runs bin/pgcoalesce-cli
and returns the CompletedProcess; t.cli_pty(...) runs it on a pseudo-terminal
(its interactive mode) and returns a Pty to send keystrokes to and expect
output from.

Environment:
  PGC_BIN_DIR      where pgcoalesce and pgcoalesce-cli live (default: bin/)
  PGC_VALGRIND=1   run the daemon and the CLI under valgrind (memcheck); reports fail tests
  PGC_KEEP=1       keep the temporary directory (logs) after the run
  PGC_TEST_WRITE_PATH=copy   start every daemon with --write-path copy (or any
                   value given) unless the test chose a write path itself
                   (--write-path in its arguments, PGCOALESCE_WRITE_PATH in
                   its environment)
  PGC_TEST_IO_URING=off   likewise --io-uring (the one-call-at-a-time client
                   reads a kernel or container without io_uring gets)

Operations (test_ops.py): d.events() parses every log line (formats.py),
d.metrics() scrapes --metrics-listen (use "127.0.0.1:0": the log says which
port) and parses the exposition text strictly, d.scrape() sends one raw
HTTP request.
"""
import decimal
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("PGC_BIN_DIR", os.path.join(ROOT, "bin"))
DAEMON = os.path.join(BIN_DIR, "pgcoalesce")
CLI = os.path.join(BIN_DIR, "pgcoalesce-cli")
VALGRIND = os.environ.get("PGC_VALGRIND") == "1"
WRITE_PATH = os.environ.get("PGC_TEST_WRITE_PATH") or None
IO_URING = os.environ.get("PGC_TEST_IO_URING") or None
IS_ROOT = os.geteuid() == 0

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "== ERROR SUMMARY: ")


class Failure(AssertionError):
    """A check failed; the message says what was expected and what was seen."""


# A system call's number and the seccomp audit arch, per machine (refuse_syscall).
SYSCALLS = {
    "x86_64": (0xC000003E, {"sched_setscheduler": 144, "io_uring_setup": 425, "io_uring_enter": 426}),
    "aarch64": (0xC00000B7, {"sched_setscheduler": 119, "io_uring_setup": 425, "io_uring_enter": 426}),
}


def refuse_syscall(name, err):
    """A preexec_fn that installs a seccomp filter failing every call of the
    system call `name` with errno `err` in the child, as a container
    runtime's profile does; everything else is allowed. Raises Failure on a
    machine SYSCALLS does not know, rather than test nothing."""
    import ctypes
    import platform
    import struct
    arch, numbers = SYSCALLS.get(platform.machine(), (None, {}))
    if name not in numbers:
        raise Failure("refuse_syscall: no number for %s on %s" % (name, platform.machine()))
    ld_w_abs, jeq_k, ret_k = 0x20, 0x15, 0x06
    allow, refuse = 0x7FFF0000, 0x00050000 | err    # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
    prog = [(ld_w_abs, 0, 0, 4),                     # seccomp_data.arch
            (jeq_k, 0, 3, arch),                     # another arch's numbers: allow
            (ld_w_abs, 0, 0, 0),                     # seccomp_data.nr
            (jeq_k, 0, 1, numbers[name]),
            (ret_k, 0, 0, refuse),
            (ret_k, 0, 0, allow)]
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
    fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)

    ul = ctypes.c_ulong

    def install():
        assert code  # the filter's instructions live as long as this function
        # PR_SET_NO_NEW_PRIVS lets a process without CAP_SYS_ADMIN install a filter
        if (libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) != 0
                or libc.prctl(22, ul(2), ctypes.c_char_p(fprog), ul(0), ul(0)) != 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
    return install


def wait_for(cond, timeout=10.0, interval=0.01, what="condition"):
    """Poll `cond()` until it returns a true value; return it, or raise Failure."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pg_bindir():
    base = "/usr/lib/postgresql"
    vers = sorted((v for v in os.listdir(base) if os.path.isdir(os.path.join(base, v, "bin"))),
                  key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
    if not vers:
        raise RuntimeError("no PostgreSQL server under %s (apt-get install postgresql)" % base)
    return os.path.join(base, vers[-1], "bin")


def as_owner(cmd):
    """PostgreSQL refuses to run as root: run server tools as `postgres` then."""
    return ["runuser", "-u", "postgres", "--"] + cmd if IS_ROOT else cmd


# ---------------------------------------------------------------- PostgreSQL

class Database:
    """One database of the cluster, queried through psql (no client library needed)."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name

    @property
    def dsn(self):
        return self.cluster.dsn(self.name)

    def psql(self, sql, check=True):
        """Run SQL with psql; returns the CompletedProcess (stdout unaligned, tab-separated)."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.dsn, "-c", sql], capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise Failure("psql failed (%d): %s\nSQL: %s" % (p.returncode, p.stderr.strip(), sql))
        return p

    def execute(self, sql):
        self.psql(sql)

    def rows(self, sql):
        """The result of a SELECT as a list of dicts, values as JSON gives them:
        numbers exact (int or Decimal), json/jsonb parsed, timestamps as text."""
        out = self.psql("SELECT coalesce(json_agg(pgc_r), '[]') FROM (%s) pgc_r" % sql).stdout
        return json.loads(out, parse_float=decimal.Decimal)

    def scalar(self, sql):
        """First column of the first row, as text->Python via JSON (None for NULL)."""
        r = self.rows(sql)
        if not r:
            return None
        return next(iter(r[0].values()))

    def count(self, table="events", where="true"):
        return self.scalar("SELECT count(*) AS n FROM %s WHERE %s" % (table, where))


class Cluster:
    """A private PostgreSQL cluster in `dir`, reachable only over its Unix socket."""

    def __init__(self, dir, port=5432, settings=()):
        self.dir = dir
        self.data = os.path.join(dir, "data")
        self.port = port
        self.log = os.path.join(dir, "postgres.log")
        self.bindir = pg_bindir()
        self.settings = list(settings)
        self.user = "postgres" if IS_ROOT else os.environ.get("USER") or os.getlogin()
        self._dbs = 0

    def dsn(self, dbname="postgres"):
        return "host=%s port=%d dbname=%s user=%s" % (self.dir, self.port, dbname, self.user)

    def initdb(self):
        os.makedirs(self.dir, exist_ok=True)
        if IS_ROOT:
            shutil.chown(self.dir, "postgres")
        subprocess.run(as_owner([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                                 "-U", self.user, "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)

    def start(self):
        opts = ["-c", "listen_addresses=", "-c", "unix_socket_directories=%s" % self.dir,
                "-c", "fsync=off", "-c", "max_connections=200", "-p", str(self.port)]
        for s in self.settings:
            opts += ["-c", s]
        subprocess.run(as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
                                 "-w", "-t", "60", "-o", " ".join("'%s'" % o if " " in o else o
                                                                  for o in opts), "start"]),
                       check=True, capture_output=True, timeout=120)

    def stop(self, mode="fast"):
        """Stop the server (mode: smart, fast or immediate)."""
        subprocess.run(as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode,
                                 "-w", "-t", "60", "stop"]), capture_output=True, timeout=120)

    def restart(self, mode="fast", down_seconds=0.0):
        self.stop(mode)
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def is_up(self):
        return subprocess.run(["pg_isready", "-q", "-h", self.dir, "-p", str(self.port)]).returncode == 0

    def new_database(self, template="pgc_template"):
        self._dbs += 1
        name = "t%d" % self._dbs
        Database(self, "postgres").execute("CREATE DATABASE %s TEMPLATE %s" % (name, template))
        return Database(self, name)

    def make_template(self, sql_files):
        tmpl = Database(self, "pgc_template")
        Database(self, "postgres").execute("CREATE DATABASE pgc_template")
        for f in sql_files:
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", tmpl.dsn, "-f", f],
                           check=True, capture_output=True, timeout=120)


# ---------------------------------------------------------------- the daemon

class Client:
    """A connection to the sidecar's socket: send JSON lines, read JSON lines."""

    def __init__(self, path, timeout=30.0):
        """`path`: the Unix socket's path, or a (host, port) for the TCP listener."""
        family = socket.AF_UNIX if isinstance(path, str) else \
            socket.AF_INET6 if ":" in path[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = b""
        self.closed = False

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, *reqs):
        """Send requests (dicts, or str/bytes lines) pipelined, one line each."""
        out = []
        for r in reqs:
            if isinstance(r, (dict, list)):
                r = json.dumps(r, ensure_ascii=False)
            if isinstance(r, str):
                r = r.encode()
            out.append(r + b"\n")
        self.send_raw(b"".join(out))

    def readline(self, timeout=None):
        """Next response line as bytes (without the newline); Failure on timeout or EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no response line within %.1fs" % (self.timeout if timeout is None else timeout))
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise Failure("the sidecar closed the connection (buffered: %r)" % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self, timeout=None):
        """Next response, parsed (numbers exact: int or Decimal)."""
        line = self.readline(timeout)
        try:
            return json.loads(line, parse_float=decimal.Decimal)
        except ValueError:
            raise Failure("response is not JSON: %r" % line[:300])

    def recv_n(self, n, timeout=None):
        return [self.recv(timeout) for _ in range(n)]

    def request(self, req, timeout=None):
        self.send(req)
        return self.recv(timeout)

    def by_id(self, responses):
        """Index responses by id; Failure on a duplicate id."""
        out = {}
        for r in responses:
            k = json.dumps(r.get("id"))
            if k in out:
                raise Failure("two responses for id %s" % k)
            out[k] = r
        return out

    def at_eof(self, timeout=2.0):
        """True if the sidecar closed the connection with nothing more to say."""
        if self.buf:
            return False
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r) and self.sock.recv(1) == b""

    def close(self):
        if not self.closed:
            self.closed = True
            self.sock.close()


class Daemon:
    """bin/pgcoalesce on a fresh socket, logs in a file."""

    def __init__(self, ctx, args, env=None, dsn=None, wait=True, wait_db=True, preexec_fn=None):
        self.ctx = ctx
        n = ctx.next_serial()
        self.socket = os.path.join(ctx.tmp, "pgc%d.sock" % n)
        self.log_path = os.path.join(ctx.tmp, "pgcoalesce%d.log" % n)
        e = {k: v for k, v in os.environ.items() if not k.startswith("PGCOALESCE_")}
        e.pop("DATABASE_URL", None)
        for k, v in (env or {}).items():   # None: not in the daemon's environment at all
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        cmd = [DAEMON]
        if "--socket" not in args and "PGCOALESCE_SOCKET" not in (env or {}):
            cmd += ["--socket", self.socket]
        elif "PGCOALESCE_SOCKET" in (env or {}):
            self.socket = env["PGCOALESCE_SOCKET"]
        else:
            self.socket = args[list(args).index("--socket") + 1]
        if dsn is None and "--dsn" not in args and "PGCOALESCE_DSN" not in (env or {}):
            cmd += ["--dsn", ctx.db.dsn]
        elif dsn:
            cmd += ["--dsn", dsn]  # dsn=False: none at all (environment tests)
        if WRITE_PATH and not any(a == "--write-path" or str(a).startswith("--write-path=")
                                  for a in args) and "PGCOALESCE_WRITE_PATH" not in (env or {}):
            cmd += ["--write-path", WRITE_PATH]
        if IO_URING and not any(a == "--io-uring" or str(a).startswith("--io-uring=")
                                for a in args) and "PGCOALESCE_IO_URING" not in (env or {}):
            cmd += ["--io-uring", IO_URING]
        cmd += list(args)
        if VALGRIND:
            cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                   "--trace-children=no"] + cmd
        self.cmd = cmd
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=e, preexec_fn=preexec_fn)
        self.returncode = None
        ctx.cleanups.append(self.cleanup)
        if wait:
            self.wait_listening()
            if wait_db:
                self.wait_db_up()

    def wait_listening(self, timeout=None):
        timeout = timeout or (60.0 if VALGRIND else 10.0)

        def ready():
            if self.proc.poll() is not None:
                raise Failure("pgcoalesce exited with %s before listening:\n%s" %
                              (self.proc.returncode, self.log()))
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.socket)
                s.close()
                return True
            except OSError:
                return False
        wait_for(ready, timeout, what="the sidecar to listen on %s" % self.socket)

    def ping(self):
        """The `db` field of a ping on a new connection ("up" or "down")."""
        c = Client(self.socket, 10)
        try:
            r = c.request({"op": "ping", "id": "ping"})
        finally:
            c.close()
        if r.get("ok") is not True:
            raise Failure("ping failed: %r" % r)
        return r["db"]

    def wait_db_up(self, timeout=None):
        wait_for(lambda: self.ping() == "up", timeout or (60.0 if VALGRIND else 15.0),
                 what="the sidecar's database connection (ping db=up)")

    def client(self, timeout=30.0):
        c = Client(self.socket, timeout)
        self.ctx.cleanups.append(c.close)
        return c

    def log(self):
        if not self.logf.closed:
            self.logf.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Signal the daemon and wait for it; returns its exit status."""
        timeout = timeout or (120.0 if VALGRIND else 60.0)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("pgcoalesce did not exit within %.0fs of signal %d:\n%s" %
                          (timeout, sig, self.log()[-3000:]))
        return self.returncode

    def wait_exit(self, timeout=30.0):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("pgcoalesce still running after %.0fs" % timeout)
        return self.returncode

    def events(self):
        """Every log line parsed (logfmt, or JSON with --log-format json); Failure on a bad line."""
        import formats
        text = self.log()
        fmt = "json" if text.lstrip().startswith("{") else "logfmt"
        return formats.parse_log(text, fmt)

    def listening(self, key):
        """A field of the "listening" log line (an address with port 0 resolved)."""
        def find():
            for ev in self.events():
                if ev["msg"] == "listening":
                    return ev.get(key)
            return None
        return wait_for(find, 10, what="the listening log line")

    def metrics_address(self):
        """HOST:PORT of --metrics-listen, from the "listening" log line (port 0 resolved)."""
        addr = self.listening("metrics")
        if addr == "off":
            raise Failure("the daemon does not serve metrics")
        return addr

    def tcp_address(self):
        """(host, port) of --listen, from the "listening" log line (port 0 resolved)."""
        addr = self.listening("listen")
        if addr == "off":
            raise Failure("the daemon has no TCP listener")
        host, port = addr.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def tcp_client(self, timeout=30.0):
        c = Client(self.tcp_address(), timeout)
        self.ctx.cleanups.append(c.close)
        return c

    def scrape(self, path="/metrics", method="GET", timeout=10.0):
        """One HTTP request to --metrics-listen: (status, headers dict, body text)."""
        import http.client
        host, port = self.metrics_address().rsplit(":", 1)
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
        finally:
            conn.close()

    def metrics(self):
        """GET /metrics, parsed and checked (formats.parse_exposition)."""
        import formats
        status, headers, body = self.scrape()
        if status != 200:
            raise Failure("GET /metrics answered %d: %s" % (status, body[:300]))
        if not headers.get("content-type", "").startswith("text/plain; version=0.0.4"):
            raise Failure("GET /metrics content type %r" % headers.get("content-type"))
        return formats.parse_exposition(body)

    def stats(self):
        c = Client(self.socket)
        try:
            r = c.request({"op": "stats", "id": "stats"})
        finally:
            c.close()
        if not r.get("ok"):
            raise Failure("stats failed: %r" % r)
        return r["stats"]

    def cleanup(self):
        """End of test: stop the daemon if still running; report crashes and sanitizer output."""
        killed = False
        if self.proc.poll() is None:
            rc = self.stop()
            killed = True
        else:
            rc = self.proc.returncode
        self.logf.close()
        text = self.log()
        for mark in SANITIZER_MARKS:
            if mark in text:
                if mark == "== ERROR SUMMARY: " and "== ERROR SUMMARY: 0 errors" in text:
                    continue
                raise Failure("pgcoalesce reported a memory or UB error:\n%s" % text[-6000:])
        if rc is not None and rc < 0 and rc != -signal.SIGKILL:
            raise Failure("pgcoalesce died of signal %d:\n%s" % (-rc, text[-3000:]))
        if killed and rc not in (0,):
            raise Failure("pgcoalesce exited %s on SIGTERM at the end of the test:\n%s" %
                          (rc, text[-3000:]))
        if rc == 99 and VALGRIND:
            raise Failure("valgrind reported errors:\n%s" % text[-6000:])


# ---------------------------------------------------------------- the CLI

def check_cli_report(returncode, stderr):
    """Fail on a sanitizer or valgrind report from a CLI run."""
    for mark in SANITIZER_MARKS[:-1]:
        if mark in stderr:
            raise Failure("pgcoalesce-cli reported a memory or UB error:\n%s" % stderr[-6000:])
    if VALGRIND and returncode == 99:
        raise Failure("valgrind reported errors in pgcoalesce-cli:\n%s" % stderr[-6000:])


class Pty:
    """A program on a pseudo-terminal, as a user at a terminal runs it.

        p = t.cli_pty(socket_path=d.socket)
        p.expect("pgcoalesce=> ")          # wait for text (or a compiled regex)
        p.send("\\q\r")                     # type; "\r" is Enter, "\x03" is Ctrl-C
        assert p.wait() == 0               # exit status

    `output` holds everything the program wrote (stdout and stderr share the
    terminal); expect() searches only what came after the previous match.
    """

    def __init__(self, cmd, env):
        import pty
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(cmd[0] if os.path.isabs(cmd[0]) else shutil.which(cmd[0]), cmd, env)
            finally:
                os._exit(127)
        self.output = ""
        self.pos = 0
        self.status = None

    def _read(self, timeout):
        """Read what comes within `timeout`: "data", "quiet" (nothing came) or "eof"."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return "quiet"
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the program exited and the terminal closed
            return "eof"
        if not data:
            return "eof"
        self.output += data.decode(errors="replace")
        return "data"

    def send(self, text):
        os.write(self.fd, text.encode())

    def expect(self, what, timeout=10.0):
        """Wait until `what` appears after the last match; returns the text up to its end."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(what, str):
                i = self.output.find(what, self.pos)
                end = i + len(what) if i >= 0 else -1
            else:
                m = what.search(self.output, self.pos)
                end = m.end() if m else -1
            if end >= 0:
                seen, self.pos = self.output[self.pos:end], end
                return seen
            left = deadline - time.monotonic()
            if left <= 0 or self._read(min(left, 0.2)) == "eof":
                raise Failure("expected %r on the terminal; got after the last match:\n%r" %
                              (what if isinstance(what, str) else what.pattern,
                               self.output[self.pos:][-3000:]))

    def wait(self, timeout=10.0):
        """Wait for the program to exit (reading what it writes); returns its exit status."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                break
            if time.monotonic() > deadline:
                raise Failure("the program on the terminal did not exit; output:\n%r" %
                              self.output[-3000:])
            self._read(0.05)
        while self._read(0.05) == "data":
            pass
        check_cli_report(self.status, self.output)
        return self.status

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.status = -signal.SIGKILL
        try:
            os.close(self.fd)
        except OSError:
            pass


# ---------------------------------------------------------------- tests

class TestContext:
    """What a test gets: the cluster, a fresh database, daemons, a temp dir."""

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.cluster = run.cluster
        self.tmp = tempfile.mkdtemp(prefix=name[:40] + ".", dir=run.tmp)
        os.chmod(self.tmp, 0o755)
        self.db = run.cluster.new_database()
        self.cleanups = []
        self._serial = 0

    def next_serial(self):
        self._serial += 1
        return self._serial

    def daemon(self, *args, env=None, dsn=None, wait=True, wait_db=True, preexec_fn=None):
        """Start bin/pgcoalesce with `args` on a fresh socket, against this
        test's database unless dsn is given (dsn=False: no --dsn at all).
        Waits until it listens (wait) and its database is up (wait_db).
        preexec_fn runs in the child before exec (refuse_syscall)."""
        return Daemon(self, list(args), env=env, dsn=dsn, wait=wait, wait_db=wait_db,
                      preexec_fn=preexec_fn)

    def cli_command(self, args, socket_path=None, valgrind=VALGRIND):
        """The argv that runs bin/pgcoalesce-cli (under valgrind with PGC_VALGRIND=1)."""
        cmd = [CLI]
        if socket_path:
            cmd += ["-s", socket_path]
        cmd += list(args)
        if valgrind:
            cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"] + cmd
        return cmd

    def cli_env(self, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("PGCOALESCE_")}
        e["HOME"] = self.tmp  # readline history lands in the test's directory
        if env:
            e.update(env)
        return e

    def cli(self, *args, input=None, env=None, timeout=60, socket_path=None):
        """Run bin/pgcoalesce-cli; returns the CompletedProcess (text). A
        sanitizer or valgrind report on its stderr fails the test."""
        p = subprocess.run(self.cli_command(args, socket_path), input=input, capture_output=True,
                           text=True, env=self.cli_env(env), timeout=timeout)
        check_cli_report(p.returncode, p.stderr)
        return p

    def cli_pty(self, *args, env=None, socket_path=None):
        """Start bin/pgcoalesce-cli on a pseudo-terminal (interactive mode); see Pty."""
        p = Pty(self.cli_command(args, socket_path), self.cli_env(dict(env or {}, TERM="dumb")))
        self.cleanups.append(p.close)
        return p

    def finish(self):
        errors = []
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as ex:  # report every cleanup failure, not only the first
                errors.append(ex)
        self.cleanups = []
        if errors:
            raise errors[0]


def insert(i, table="events", returning=None, **row):
    """An insert request with id i (for the demo table when no row is given)."""
    req = {"id": i, "table": table, "row": row or {"device_id": i, "kind": "k%d" % i}}
    if returning is not None:
        req["returning"] = returning
    return req
