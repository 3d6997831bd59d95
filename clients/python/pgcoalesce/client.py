"""The blocking client: one connection, many requests in flight.

Callers (any number of threads) write request lines; one reader thread per
connection reads the answers, matches them to their requests by id and
completes their futures. max_in_flight bounds the requests sent and not yet
answered: at the bound, callers wait for room instead of piling up lines.
"""
import concurrent.futures
import decimal
import heapq
import select
import socket
import threading
import time

from . import _wire
from .errors import (ClientClosed, ConnectFailed, ConnectionLost, PgcoalesceError,
                     RequestTimeout)

_DEFAULT = object()  # "the client's timeout" in per-call arguments
_READ_SIZE = 262144
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class _Pending:
    """One request in flight: its future and whether it has gone out."""
    __slots__ = ("future", "op", "sent", "abandoned")

    def __init__(self, future, op):
        self.future = future
        self.op = op
        self.sent = False       # its line was handed to the socket (in part, maybe)
        self.abandoned = False  # timed out: its late answer is dropped


class _Conn:
    """One connection: its socket, its requests in flight, its reader thread."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = {}     # id -> _Pending
        self.deadlines = []   # heap of (deadline, id) for requests with a timeout
        self.dead = False
        self.reason = None
        self.wake_r, self.wake_w = socket.socketpair()  # pokes the reader out of select()
        self.wake_w.setblocking(False)
        self.wake_closed = False
        self.thread = None
        self.features = None  # the sidecar's ping features, once asked for


def connect_socket(addr, timeout):
    """A connected, blocking socket to `addr` (see _wire.parse_address)."""
    if addr[0] == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(addr[1])
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection((addr[1], addr[2]), timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    return sock


class Client:
    """A blocking client of the pgcoalesce sidecar, safe to share between threads.

        with Client() as c:                        # $PGCOALESCE_SOCKET or /tmp/pgcoalesce.sock
            row = c.insert("events", {"device_id": 7, "kind": "click"}, returning=["id"])
            futures = [c.insert_async("events", r) for r in rows]   # pipelined

    address: a socket path, "unix:/path", "tcp:HOST:PORT" or "HOST:PORT".
    max_in_flight: requests sent and not yet answered, at most; more wait.
    timeout: seconds per request (None: no limit), from the call to the answer.
    connect_timeout: how long a call keeps trying to (re)connect, with a
    backoff of 50 ms doubling to 2 s between attempts, before ConnectFailed.
    max_request_bytes: the sidecar's --max-request-bytes; longer requests
    fail with InvalidRequest (PC003) before they are sent.
    parse_float: how non-integer numbers in answers are read (Decimal keeps
    PostgreSQL's exact text; pass float for floats).

    Nothing is ever resent by the client. When the connection drops, every
    request in flight fails with ConnectionLost and the next call connects
    again.
    """

    def __init__(self, address=None, *, max_in_flight=1000, timeout=None, connect_timeout=10.0,
                 max_request_bytes=_wire.DEFAULT_MAX_REQUEST_BYTES, parse_float=decimal.Decimal):
        if max_in_flight < 1:
            raise ValueError("pgcoalesce: max_in_flight must be at least 1")
        self.address = _wire.parse_address(address)
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_request_bytes = max_request_bytes
        self.parse_float = parse_float
        self._lock = threading.Lock()             # guards everything below
        self._room = threading.Condition(self._lock)  # signalled when in-flight count drops
        self._connect_lock = threading.Lock()     # one (re)connect at a time
        self._send_lock = threading.Lock()        # one request line on the socket at a time
        self._conn = None
        self._connect_failure = None  # (when, message) of the last failed (re)connect
        self._in_flight = 0
        self._next_id = 1
        self._closed = False

    # ---------------------------------------------------------------- the API

    def insert(self, table, row, returning=None, schema=None, timeout=_DEFAULT, *, key=None,
               on_conflict=None):
        """Insert one row; returns the RETURNING columns as a dict (None
        without `returning`) once the row is committed, or raises the
        row's error (see errors.py).

        key: an idempotency key (a str of 1 to 200 bytes, e.g. a UUID): the
        sidecar writes a row with a given key at most once, so a row whose
        answer was lost can be resent with the same key. on_conflict: what
        to do when the row conflicts with a unique index, as the protocol's
        object, e.g. {"columns": ["device_id"], "do": "update", "set":
        ["seen"], "add": ["hits"]}. With either, insert() returns a Result
        (row, action, duplicate) instead, and the sidecar must list them in
        its ping's features (checked once per connection; FeatureMissing,
        nothing sent, if it does not)."""
        return self.insert_async(table, row, returning, schema, timeout, key=key,
                                 on_conflict=on_conflict).result()

    def insert_async(self, table, row, returning=None, schema=None, timeout=_DEFAULT, *, key=None,
                     on_conflict=None):
        """Send an insert and return at once (after waiting for room under
        max_in_flight) a concurrent.futures.Future of what insert() returns.
        Errors found before sending (a value that cannot be sent, no
        connection, a missing feature) are raised here; the rest come
        through the future."""
        body = _wire.insert_body(table, row, returning, schema, on_conflict, key)
        need = _wire.needed_features(on_conflict, key)
        return self._request("insert+" if need else "insert", body, timeout, need)

    def insert_many(self, table, rows, returning=None, schema=None, timeout=_DEFAULT, *, keys=None,
                    on_conflict=None):
        """Insert rows pipelined; returns one result per row, in order: what
        insert() returns, or the PgcoalesceError it would raise (not raised:
        check each with isinstance). keys: one idempotency key per row (None
        for a row without one)."""
        rows = list(rows)
        keys = [None] * len(rows) if keys is None else list(keys)
        if len(keys) != len(rows):
            raise ValueError("pgcoalesce: %d keys for %d rows" % (len(keys), len(rows)))
        futures = []
        for r, k in zip(rows, keys):
            try:
                futures.append(self.insert_async(table, r, returning, schema, timeout, key=k,
                                                 on_conflict=on_conflict))
            except (ConnectFailed, ClientClosed) as e:  # none of the rest can go either
                futures.append(e)
                futures.extend(e for _ in range(len(rows) - len(futures)))
                break
            except PgcoalesceError as e:
                futures.append(e)
        out = []
        for f in futures:
            if isinstance(f, PgcoalesceError):
                out.append(f)
                continue
            try:
                out.append(f.result())
            except PgcoalesceError as e:
                out.append(e)
        return out

    def flush(self, timeout=_DEFAULT):
        """Wait until every row the sidecar accepted before this call (from
        any client) is committed or failed."""
        self._request("flush", _wire.op_body("flush"), timeout).result()

    def ping(self, timeout=_DEFAULT):
        """True if the sidecar has a database connection up."""
        return self._request("ping", _wire.op_body("ping"), timeout).result()

    def stats(self, timeout=_DEFAULT):
        """The sidecar's counters (a dict; see docs/PROTOCOL.md "stats")."""
        return self._request("stats", _wire.op_body("stats"), timeout).result()

    @property
    def in_flight(self):
        """Requests sent (or being sent) and not yet answered."""
        with self._lock:
            return self._in_flight

    def close(self, timeout=None):
        """Wait for the answers to the requests in flight (at most `timeout`
        seconds; None: as long as it takes), then close the connection.
        Requests still in flight then fail with ConnectionLost."""
        with self._lock:
            self._closed = True
            self._room.wait_for(lambda: self._in_flight == 0, timeout)
            conn = self._conn
        if conn is not None:
            self._kill(conn, "the client was closed")
            if conn.thread is not threading.current_thread():
                conn.thread.join()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # leaving on an exception: do not wait for answers nobody will read
        self.close(timeout=0 if exc_type is not None else None)

    # ---------------------------------------------------------------- sending

    def _request(self, op, body, timeout, need=()):
        """Send one request; its future. See insert_async for what raises.
        need: ping features the sidecar must have (checked on each connection)."""
        if timeout is _DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            conn = self._connected()
            if need:
                self._check_features(conn, need, deadline)
            rid, entry = self._register(conn, op, deadline)
            if entry is not None:
                break
        try:
            line = _wire.request_line(rid, body, self.max_request_bytes)
        except BaseException:
            self._unregister(conn, rid)
            raise
        self._send(conn, rid, entry, line)
        return entry.future

    def _check_features(self, conn, need, deadline):
        """Ask the sidecar on `conn` for its features (a ping, once per
        connection); FeatureMissing if one in `need` is not among them."""
        if conn.features is None:
            if conn.thread is threading.current_thread():
                raise RuntimeError("pgcoalesce: a future's callback cannot send the first key or "
                                   "on_conflict of a connection (the feature check waits for an answer)")
            rid, entry = self._register(conn, "features", deadline)
            if entry is None:
                raise ConnectionLost("connection to the sidecar lost while asking for its features: "
                                     "not sent", code="connection_lost", not_written=True)
            self._send(conn, rid, entry, _wire.request_line(rid, _wire.op_body("ping"),
                                                            self.max_request_bytes))
            try:
                features = entry.future.result()  # the reader expires it at the deadline
            except PgcoalesceError as e:
                raise type(e)("asking the sidecar for its features failed (%s): not sent" % e.message,
                              code=e.code, not_written=True) from None
            conn.features = frozenset(features)
        _wire.require_features(self.address, conn.features, need)

    def _register(self, conn, op, deadline):
        """Wait for room under max_in_flight, then enter a request in `conn`'s
        table with a new id. (id, None) if `conn` died meanwhile: reconnect."""
        with self._lock:
            while self._in_flight >= self.max_in_flight and not conn.dead and not self._closed:
                if conn.thread is threading.current_thread():  # waiting would stop the reader
                    raise RuntimeError("pgcoalesce: a future's callback cannot wait for room "
                                       "under max_in_flight (it runs on the reader thread)")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise RequestTimeout("no room under max_in_flight (%d) within the timeout: "
                                         "not sent" % self.max_in_flight, code="timeout",
                                         not_written=True)
                self._room.wait(left)
            if self._closed:
                raise ClientClosed("the client is closed: not sent", code="client_closed")
            if conn.dead:
                return 0, None
            rid = self._next_id
            self._next_id += 1
            future = concurrent.futures.Future()
            future.set_running_or_notify_cancel()  # sent requests cannot be cancelled
            entry = _Pending(future, op)
            conn.pending[rid] = entry
            self._in_flight += 1
            if deadline is not None:
                if not conn.deadlines or deadline < conn.deadlines[0][0]:
                    _wake(conn)  # the reader sleeps until an older deadline
                heapq.heappush(conn.deadlines, (deadline, rid))
        return rid, entry

    def _unregister(self, conn, rid):
        with self._lock:
            if conn.pending.pop(rid, None) is not None:
                self._in_flight -= 1
                self._room.notify_all()

    def _send(self, conn, rid, entry, line):
        """Write one request line. A connection that fails here is dead: its
        requests (this one too) fail through their futures."""
        with self._send_lock:
            with self._lock:
                if conn.dead:
                    return  # failed already (not sent) by _kill
                entry.sent = True
            try:
                conn.sock.sendall(line)
            except OSError as e:
                self._kill(conn, "writing to the sidecar failed: %s" % e)

    # ---------------------------------------------------------------- connecting

    def _connected(self):
        """The live connection, (re)connecting if there is none. Callers that
        waited for another thread's attempt share its failure rather than
        each trying for connect_timeout in turn."""
        with self._lock:
            if self._closed:
                raise ClientClosed("the client is closed: not sent", code="client_closed")
            if self._conn is not None:
                return self._conn
        asked = time.monotonic()
        with self._connect_lock:
            with self._lock:
                if self._conn is not None:
                    return self._conn
            failure = self._connect_failure
            if failure is not None and failure[0] >= asked:
                raise ConnectFailed(failure[1], code="connect_failed")
            try:
                sock = self._connect_with_backoff()
            except ConnectFailed as e:
                self._connect_failure = (time.monotonic(), e.message)
                raise
            conn = _Conn(sock)
            conn.thread = threading.Thread(target=self._read_loop, args=(conn,),
                                           name="pgcoalesce-reader", daemon=True)
            with self._lock:
                self._conn = conn
            conn.thread.start()
            return conn

    def _connect_with_backoff(self):
        start = time.monotonic()
        delay = _BACKOFF_FIRST
        while True:
            left = self.connect_timeout - (time.monotonic() - start)
            try:
                return connect_socket(self.address, max(left, 0.001))
            except OSError as e:
                left = self.connect_timeout - (time.monotonic() - start)
                if left <= 0:
                    raise ConnectFailed("cannot connect to the sidecar at %s: %s: not sent" %
                                        (_wire.format_address(self.address), e),
                                        code="connect_failed") from None
                time.sleep(min(delay, left))
                delay = min(delay * 2, _BACKOFF_MAX)

    # ---------------------------------------------------------------- reading

    def _read_loop(self, conn):
        """The reader thread: answers in, timeouts out, until the connection ends."""
        buf = b""
        reason = "the sidecar closed the connection"
        try:
            while True:
                r, _, _ = select.select([conn.sock, conn.wake_r], [], [], self._expire(conn))
                if conn.wake_r in r:
                    conn.wake_r.recv(4096)
                if conn.dead:
                    break
                if conn.sock not in r:
                    continue
                chunk = conn.sock.recv(_READ_SIZE)
                if not chunk:
                    break
                buf += chunk
                if b"\n" in chunk:
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        self._dispatch(conn, line)
        except Exception as e:  # noqa: BLE001 -- any failure ends this connection
            reason = "reading from the sidecar failed: %s" % e
        finally:
            self._kill(conn, reason)
            with self._send_lock:  # no sender is inside sendall() on this socket
                conn.sock.close()
            with self._lock:  # _wake() writes under this lock, after checking wake_closed
                conn.wake_closed = True
                conn.wake_r.close()
                conn.wake_w.close()

    def _dispatch(self, conn, line):
        resp = _wire.decode_response(line, self.parse_float)
        rid = resp.get("id")
        if rid is None:
            # Only a line the sidecar could not read gets "id": null, and this
            # client sends none but one over a lower --max-request-bytes than
            # max_request_bytes (PC003). Which request it was cannot be told.
            raise ValueError("the sidecar answered a request it could not read (%s); set "
                             "max_request_bytes to its --max-request-bytes" %
                             (resp.get("error") or {}).get("message"))
        with self._lock:
            entry = conn.pending.pop(rid, None) if isinstance(rid, int) else None
            if entry is None:
                return
            self._in_flight -= 1
            self._room.notify_all()
        if entry.abandoned:
            return
        result = _wire.response_result(entry.op, resp)
        if isinstance(result, PgcoalesceError):
            entry.future.set_exception(result)
        else:
            entry.future.set_result(result)

    def _expire(self, conn):
        """Fail the requests whose timeout passed; seconds until the next one."""
        now = time.monotonic()
        expired = []
        with self._lock:
            while conn.deadlines and conn.deadlines[0][0] <= now:
                _, rid = heapq.heappop(conn.deadlines)
                entry = conn.pending.get(rid)
                if entry is not None and not entry.abandoned:
                    entry.abandoned = True  # keeps its slot until its answer comes
                    expired.append(entry)
            wait = conn.deadlines[0][0] - now if conn.deadlines else None
        for entry in expired:
            entry.future.set_exception(RequestTimeout(
                "no answer within the timeout; the request was sent, so for an insert the row "
                "may or may not be written", code="timeout", not_written=False))
        return wait

    def _kill(self, conn, reason):
        """End `conn`: every request in flight on it fails with ConnectionLost."""
        with self._lock:
            if conn.dead:
                return
            conn.dead = True
            conn.reason = reason
            entries = list(conn.pending.values())
            conn.pending.clear()
            self._in_flight -= len(entries)
            if self._conn is conn:
                self._conn = None
            self._room.notify_all()
            _wake(conn)
        try:  # a sender blocked in sendall() and the reader both return
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        where = _wire.format_address(self.address)
        for entry in entries:
            if entry.abandoned:
                continue
            entry.future.set_exception(lost_error(entry, where, reason))


def lost_error(entry, where, reason):
    """The ConnectionLost for a request in flight on a connection that ended."""
    if not entry.sent:
        return ConnectionLost("connection to the sidecar at %s lost (%s) before this request was "
                              "sent: not written" % (where, reason), code="connection_lost",
                              not_written=True)
    if entry.op.startswith("insert"):
        return ConnectionLost("connection to the sidecar at %s lost (%s) with this row in "
                              "flight: it may or may not be written" % (where, reason),
                              code="connection_lost")
    return ConnectionLost("connection to the sidecar at %s lost (%s) before the answer" %
                          (where, reason), code="connection_lost")


def _wake(conn):
    """Poke the reader thread (call with the client's lock held)."""
    if conn.wake_closed:
        return
    try:
        conn.wake_w.send(b"x")
    except OSError:
        pass  # full: the reader wakes anyway
