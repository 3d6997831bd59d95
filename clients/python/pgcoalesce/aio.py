"""The asyncio client: many concurrent inserts pipelined on one connection.

Each call writes its request line and awaits its answer; one reader task per
connection reads the answers and matches them to their requests by id.
max_in_flight bounds the requests sent and not yet answered: at the bound,
callers await room instead of piling up lines.
"""
import asyncio
import collections
import decimal

from . import _wire
from .client import lost_error
from .errors import (ClientClosed, ConnectFailed, ConnectionLost, PgcoalesceError,
                     RequestTimeout)

_DEFAULT = object()
_LINE_LIMIT = 1 << 26            # longest answer line read (stats of many tables is the largest)
_WRITE_HIGH_WATER = 1 << 20      # drain() once this much is buffered
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class _Pending:
    __slots__ = ("future", "op", "sent", "abandoned", "timer")

    def __init__(self, future, op):
        self.future = future
        self.op = op
        self.sent = False
        self.abandoned = False
        self.timer = None


class _Conn:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.pending = {}
        self.dead = False
        self.task = None
        self.features = None  # the sidecar's ping features, once asked for
        self.asking = None    # the task of the ping asking for them


class AsyncClient:
    """An asyncio client of the pgcoalesce sidecar, for one event loop.

        async with AsyncClient() as c:
            row = await c.insert("events", {"device_id": 7, "kind": "click"}, returning=["id"])
            results = await asyncio.gather(*(c.insert("events", r) for r in rows),
                                           return_exceptions=True)

    The options are the blocking Client's (address, max_in_flight, timeout,
    connect_timeout, max_request_bytes, parse_float). The connection is made
    by the first call (or connect()), and again by the first call after it
    was lost. Nothing is ever resent by the client.
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
        self._conn = None
        self._connecting = None        # the future of a connect under way
        self._drain_lock = None        # made in the loop (Python 3.9 binds locks to a loop)
        self._in_flight = 0
        self._room_waiters = collections.deque()  # futures of callers waiting for room
        self._idle_waiters = []       # futures of close() waiting for in_flight == 0
        self._next_id = 1
        self._closed = False

    # ---------------------------------------------------------------- the API

    async def insert(self, table, row, returning=None, schema=None, timeout=_DEFAULT, *, key=None,
                     on_conflict=None):
        """Insert one row; returns the RETURNING columns as a dict (None
        without `returning`) once it is committed, or raises its error.
        key= and on_conflict= as the blocking Client's insert(): with
        either, it returns a Result (row, action, duplicate)."""
        body = _wire.insert_body(table, row, returning, schema, on_conflict, key)
        need = _wire.needed_features(on_conflict, key)
        return await self._request("insert+" if need else "insert", body, timeout, need)

    async def flush(self, timeout=_DEFAULT):
        """Wait until every row the sidecar accepted before this call is
        committed or failed."""
        await self._request("flush", _wire.op_body("flush"), timeout)

    async def ping(self, timeout=_DEFAULT):
        """True if the sidecar has a database connection up."""
        return await self._request("ping", _wire.op_body("ping"), timeout)

    async def stats(self, timeout=_DEFAULT):
        """The sidecar's counters (a dict)."""
        return await self._request("stats", _wire.op_body("stats"), timeout)

    async def connect(self):
        """Connect now (calls connect by themselves when needed)."""
        await self._connected()

    @property
    def in_flight(self):
        return self._in_flight

    async def close(self, timeout=None):
        """Wait for the answers to the requests in flight (at most `timeout`
        seconds), then close. Requests still in flight fail with ConnectionLost."""
        self._closed = True
        if self._in_flight:
            idle = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(idle)
            try:
                await asyncio.wait_for(idle, timeout)
            except asyncio.TimeoutError:
                pass
        conn = self._conn
        if conn is not None:
            self._kill(conn, "the client was closed")
            await asyncio.gather(conn.task, return_exceptions=True)
            try:
                await conn.writer.wait_closed()
            except OSError:
                pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        # leaving on an exception: do not wait for answers nobody will read
        await self.close(timeout=0 if exc_type is not None else None)

    # ---------------------------------------------------------------- sending

    async def _request(self, op, body, timeout, need=()):
        loop = asyncio.get_running_loop()
        if timeout is _DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            conn = await self._connected()
            if need:
                await self._check_features(conn, need, deadline)
            await self._wait_for_room(deadline)
            if not conn.dead:
                break
            self._release_room()  # it died while we waited: connect again
        rid = self._next_id
        self._next_id += 1
        try:
            line = _wire.request_line(rid, body, self.max_request_bytes)
        except BaseException:
            self._release_room()
            raise
        entry = _Pending(loop.create_future(), op)
        conn.pending[rid] = entry
        if deadline is not None:
            entry.timer = loop.call_at(deadline, self._expire, entry)
        entry.sent = True
        conn.writer.write(line)
        if conn.writer.transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            await self._drain(conn)
        try:
            return await entry.future
        except asyncio.CancelledError:
            entry.abandoned = True  # its answer is dropped; it holds its slot until then
            raise

    async def _check_features(self, conn, need, deadline):
        """Ask the sidecar on `conn` for its features (a ping, once per
        connection); FeatureMissing if one in `need` is not among them."""
        if conn.features is None:
            if conn.asking is None:  # one ping per connection, however many callers wait
                conn.asking = asyncio.ensure_future(self._ask_features(conn, deadline))
            try:
                features = await asyncio.shield(conn.asking)
            except PgcoalesceError as e:
                if conn.asking.done():
                    conn.asking = None  # a later call asks again
                raise type(e)("asking the sidecar for its features failed (%s): not sent" % e.message,
                              code=e.code, not_written=True) from None
            conn.features = frozenset(features)
        _wire.require_features(self.address, conn.features, need)

    async def _ask_features(self, conn, deadline):
        """The features of the sidecar on `conn`, from a ping sent there."""
        await self._wait_for_room(deadline)
        if conn.dead:
            self._release_room()
            raise ConnectionLost("connection to the sidecar lost", code="connection_lost")
        loop = asyncio.get_running_loop()
        rid = self._next_id
        self._next_id += 1
        entry = _Pending(loop.create_future(), "features")
        conn.pending[rid] = entry
        if deadline is not None:
            entry.timer = loop.call_at(deadline, self._expire, entry)
        entry.sent = True
        conn.writer.write(_wire.request_line(rid, _wire.op_body("ping"), self.max_request_bytes))
        return await entry.future

    async def _drain(self, conn):
        if self._drain_lock is None:
            self._drain_lock = asyncio.Lock()
        async with self._drain_lock:  # one drain() at a time (Python 3.9 asserts otherwise)
            try:
                await conn.writer.drain()
            except (OSError, RuntimeError) as e:
                self._kill(conn, "writing to the sidecar failed: %s" % e)

    async def _wait_for_room(self, deadline):
        """Take a slot under max_in_flight, waiting (until `deadline`) if needed."""
        if self._closed:
            raise ClientClosed("the client is closed: not sent", code="client_closed")
        if self._in_flight < self.max_in_flight and not self._room_waiters:
            self._in_flight += 1
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._room_waiters.append(waiter)
        try:
            left = None if deadline is None else max(deadline - loop.time(), 0)
            await asyncio.wait_for(asyncio.shield(waiter), left)
        except asyncio.TimeoutError:
            if not waiter.cancel():  # the slot came with the timeout: pass it on
                self._release_room()
            raise RequestTimeout("no room under max_in_flight (%d) within the timeout: not sent"
                                 % self.max_in_flight, code="timeout", not_written=True) from None
        except BaseException:  # the caller was cancelled
            if not waiter.cancel():
                self._release_room()
            raise
        if self._closed:
            self._release_room()
            raise ClientClosed("the client is closed: not sent", code="client_closed")

    def _release_room(self):
        """A request left flight: hand its slot to the next waiter, if any."""
        while self._room_waiters:
            w = self._room_waiters.popleft()
            if not w.done():
                w.set_result(None)  # the slot passes on: in_flight stays
                return
        self._in_flight -= 1
        if self._in_flight == 0:
            for w in self._idle_waiters:
                if not w.done():
                    w.set_result(None)
            self._idle_waiters = []

    # ---------------------------------------------------------------- connecting

    async def _connected(self):
        if self._closed:
            raise ClientClosed("the client is closed: not sent", code="client_closed")
        if self._conn is not None and not self._conn.dead:
            return self._conn
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect_with_backoff())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect_with_backoff(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        delay = _BACKOFF_FIRST
        while True:
            left = self.connect_timeout - (loop.time() - start)
            try:
                reader, writer = await asyncio.wait_for(self._open(), max(left, 0.001))
                break
            except (OSError, asyncio.TimeoutError) as e:
                left = self.connect_timeout - (loop.time() - start)
                if left <= 0:
                    raise ConnectFailed("cannot connect to the sidecar at %s: %s: not sent" %
                                        (_wire.format_address(self.address), str(e) or "timed out"),
                                        code="connect_failed") from None
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, _BACKOFF_MAX)
        conn = _Conn(reader, writer)
        conn.task = asyncio.ensure_future(self._read_loop(conn))
        self._conn = conn
        return conn

    def _open(self):
        if self.address[0] == "unix":
            return asyncio.open_unix_connection(self.address[1], limit=_LINE_LIMIT)
        return asyncio.open_connection(self.address[1], self.address[2], limit=_LINE_LIMIT)

    # ---------------------------------------------------------------- reading

    async def _read_loop(self, conn):
        reason = "the sidecar closed the connection"
        try:
            while not conn.dead:
                line = await conn.reader.readuntil(b"\n")
                self._dispatch(conn, line)
        except asyncio.IncompleteReadError:
            pass
        except asyncio.CancelledError:
            reason = "the client was closed"
        except Exception as e:  # noqa: BLE001 -- any failure ends this connection
            reason = "reading from the sidecar failed: %s" % e
        finally:
            self._kill(conn, reason)
            conn.writer.close()

    def _dispatch(self, conn, line):
        resp = _wire.decode_response(line, self.parse_float)
        rid = resp.get("id")
        if rid is None:  # see client.py: a line over the sidecar's --max-request-bytes
            raise ValueError("the sidecar answered a request it could not read (%s); set "
                             "max_request_bytes to its --max-request-bytes" %
                             (resp.get("error") or {}).get("message"))
        entry = conn.pending.pop(rid, None) if isinstance(rid, int) else None
        if entry is None:
            return
        self._release_room()
        if entry.timer is not None:
            entry.timer.cancel()
        if entry.abandoned or entry.future.done():
            return
        result = _wire.response_result(entry.op, resp)
        if isinstance(result, PgcoalesceError):
            entry.future.set_exception(result)
        else:
            entry.future.set_result(result)

    def _expire(self, entry):
        if entry.future.done():
            return
        entry.abandoned = True
        entry.future.set_exception(RequestTimeout(
            "no answer within the timeout; the request was sent, so for an insert the row may "
            "or may not be written", code="timeout", not_written=False))

    def _kill(self, conn, reason):
        """End `conn`: every request in flight on it fails with ConnectionLost."""
        if conn.dead:
            return
        conn.dead = True
        if self._conn is conn:
            self._conn = None
        entries = list(conn.pending.values())
        conn.pending.clear()
        conn.writer.close()
        if conn.task is not None and conn.task is not asyncio.current_task():
            conn.task.cancel()
        where = _wire.format_address(self.address)
        for entry in entries:
            self._release_room()
            if entry.timer is not None:
                entry.timer.cancel()
            if not entry.abandoned and not entry.future.done():
                entry.future.set_exception(lost_error(entry, where, reason))
