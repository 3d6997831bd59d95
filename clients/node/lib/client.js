'use strict';
// The client: one connection, many requests in flight, matched by id.
//
// Each call writes its request line and gets a promise of its answer; the
// socket's 'data' handler reads the answers and settles the promises.
// maxInFlight bounds the requests sent and not yet answered: at the bound,
// callers wait for room instead of piling up lines in memory.

const net = require('node:net');
const { performance } = require('node:perf_hooks');
const { parseAddress, formatAddress } = require('./address');
const { insertBody, neededFeatures, parse, defaultParseNumber } = require('./json');
const {
  PgcoalesceError, InvalidRequest, ConnectionLost, ConnectFailed, RequestTimeout, ClientClosed,
  FeatureMissing, fromResponse,
} = require('./errors');

const DEFAULT_MAX_REQUEST_BYTES = 1048576; // the sidecar's --max-request-bytes default
const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 2000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The ConnectionLost for a request in flight on a connection that ended. */
function lostError(entry, where, reason) {
  const code = 'connection_lost';
  if (!entry.sent) {
    return new ConnectionLost(`connection to the sidecar at ${where} lost (${reason}) before this ` +
      'request was sent: not written', { code, notWritten: true });
  }
  if (entry.op.startsWith('insert')) {
    return new ConnectionLost(`connection to the sidecar at ${where} lost (${reason}) with this ` +
      'row in flight: it may or may not be written', { code });
  }
  return new ConnectionLost(`connection to the sidecar at ${where} lost (${reason}) before the answer`,
    { code });
}

/** What a request of kind `op` resolves to for `response`, or its error. */
function responseResult(op, response) {
  if (response.ok !== true) {
    const e = response.error;
    return fromResponse(e !== null && typeof e === 'object' ? e : { message: JSON.stringify(response) });
  }
  if (op === 'insert') return response.row === undefined ? null : response.row;
  if (op === 'insert+') { // with key or onConflict
    return {
      row: response.row === undefined ? null : response.row,
      action: typeof response.action === 'string' ? response.action : null,
      duplicate: response.duplicate === true,
    };
  }
  if (op === 'features') { // a ping asked for its features
    return Array.isArray(response.features) ? response.features.filter((f) => typeof f === 'string') : [];
  }
  if (op === 'ping') return response.db === 'up';
  if (op === 'stats') return response.stats;
  return undefined;
}

class Client {
  /**
   * new Client(address?, options?) or new Client(options) with options.address.
   * address: a socket path, "unix:/path", "tcp:HOST:PORT" or "HOST:PORT";
   *   default $PGCOALESCE_SOCKET, else /tmp/pgcoalesce.sock.
   * options.maxInFlight (1000): requests sent and not yet answered, at most.
   * options.timeout (none): ms per request, from the call to the answer.
   * options.connectTimeout (10000): ms a call keeps trying to (re)connect,
   *   50 ms doubling to 2 s between attempts, before ConnectFailed.
   * options.maxRequestBytes (1048576): the sidecar's --max-request-bytes;
   *   longer requests fail with InvalidRequest (PC003) before they are sent.
   * options.parseNumber(text): how numbers in answers are read (default:
   *   Number, or BigInt for integers past Number.MAX_SAFE_INTEGER).
   * Nothing is ever resent: when the connection drops, every request in
   * flight fails with ConnectionLost and the next call connects again.
   */
  constructor(address, options) {
    if (address !== null && typeof address === 'object') {
      options = address;
      address = options.address;
    }
    options = options || {};
    this.address = parseAddress(address);
    this.maxInFlight = options.maxInFlight === undefined ? 1000 : options.maxInFlight;
    if (!(this.maxInFlight >= 1)) throw new RangeError('pgcoalesce: maxInFlight must be at least 1');
    this.timeout = options.timeout === undefined ? null : options.timeout;
    this.connectTimeout = options.connectTimeout === undefined ? 10000 : options.connectTimeout;
    this.maxRequestBytes = options.maxRequestBytes || DEFAULT_MAX_REQUEST_BYTES;
    this.parseNumber = options.parseNumber || defaultParseNumber;
    this._conn = null;
    this._connecting = null;
    this._inFlight = 0;
    this._roomWaiters = new Set(); // callers waiting for room, oldest first
    this._idleWaiters = [];        // close() waiting for inFlight 0
    this._nextId = 1;
    this._closed = false;
  }

  /** Insert one row: resolves to the RETURNING columns (null without
   * options.returning) once it is committed, or rejects with its error.
   * options: { returning: [...] or "*", schema, timeout, key, onConflict }.
   * key: an idempotency key (a string of 1 to 200 bytes, e.g. a UUID): the
   * sidecar writes a row with a given key at most once, so a row whose
   * answer was lost can be resent with the same key. onConflict: the
   * protocol's on_conflict, e.g. { columns: ['device_id'], do: 'update',
   * set: ['seen'], add: ['hits'] }. With either, it resolves to
   * { row, action, duplicate } instead, and the sidecar must list them in
   * its ping's features (asked once per connection; FeatureMissing,
   * nothing sent, if it does not). */
  async insert(table, row, options = {}) {
    const body = insertBody(table, row, options.returning, options.schema, options.onConflict, options.key);
    const need = neededFeatures(options.onConflict, options.key);
    return this._request(need.length ? 'insert+' : 'insert', body, options.timeout, need);
  }

  /** Resolves once every row the sidecar accepted before it is committed or failed. */
  async flush(options = {}) {
    await this._request('flush', ',"op":"flush"', options.timeout);
  }

  /** Resolves to true if the sidecar has a database connection up. */
  async ping(options = {}) {
    return this._request('ping', ',"op":"ping"', options.timeout);
  }

  /** Resolves to the sidecar's counters (see docs/PROTOCOL.md "stats"). */
  async stats(options = {}) {
    return this._request('stats', ',"op":"stats"', options.timeout);
  }

  /** Requests sent (or being sent) and not yet answered. */
  get inFlight() { return this._inFlight; }

  /** Waits for the answers to the requests in flight (at most
   * options.timeout ms), then closes; those still in flight then fail
   * with ConnectionLost. Later calls fail with ClientClosed. */
  async close(options = {}) {
    this._closed = true;
    if (this._inFlight > 0) {
      let timer = null;
      await new Promise((resolve) => {
        this._idleWaiters.push(resolve);
        if (options.timeout !== undefined && options.timeout !== null) {
          timer = setTimeout(resolve, options.timeout);
        }
      });
      clearTimeout(timer);
    }
    if (this._conn) this._kill(this._conn, 'the client was closed');
  }

  // ---------------------------------------------------------------- sending

  async _request(op, body, timeoutOption, need = []) {
    const timeout = timeoutOption === undefined ? this.timeout : timeoutOption;
    const deadline = timeout === null ? null : performance.now() + timeout;
    let conn;
    for (;;) {
      conn = await this._connected();
      if (need.length) await this._checkFeatures(conn, need, deadline);
      await this._waitForRoom(deadline);
      while (!conn.dead && conn.drained) await conn.drained; // the socket's buffer is full
      if (!conn.dead) break;
      this._releaseRoom(); // it died while we waited: connect again
    }
    return this._send(conn, op, body, deadline);
  }

  /** Ask the sidecar on `conn` for its features (a ping, once per
   * connection); FeatureMissing if one in `need` is not among them. */
  async _checkFeatures(conn, need, deadline) {
    if (!conn.features) {
      if (!conn.asking) conn.asking = this._askFeatures(conn, deadline);
      try {
        conn.features = new Set(await conn.asking);
      } catch (e) {
        conn.asking = null; // a later call asks again
        if (!(e instanceof PgcoalesceError)) throw e;
        throw new e.constructor(`asking the sidecar for its features failed (${e.message}): not sent`,
          { code: e.code, notWritten: true });
      }
    }
    const missing = need.filter((f) => !conn.features.has(f));
    if (missing.length) {
      throw new FeatureMissing(`the sidecar at ${formatAddress(this.address)} does not support ` +
        `${missing.join(' and ')} (its ping lists no ${missing.map((f) => `"${f}"`).join(' or ')} ` +
        'among its features: it is older than this client): not sent', { code: 'feature_missing' });
    }
  }

  async _askFeatures(conn, deadline) {
    await this._waitForRoom(deadline);
    if (conn.dead) {
      this._releaseRoom();
      throw new ConnectionLost('connection to the sidecar lost', { code: 'connection_lost' });
    }
    return this._send(conn, 'features', ',"op":"ping"', deadline);
  }

  /** Write one request line on `conn` (its room under maxInFlight taken); its answer's promise. */
  _send(conn, op, body, deadline) {
    const id = this._nextId++;
    const line = Buffer.from(`{"id":${id}${body}}\n`);
    if (line.length - 1 > this.maxRequestBytes) {
      this._releaseRoom();
      return Promise.reject(new InvalidRequest(`request of ${line.length - 1} bytes is longer than ` +
        `maxRequestBytes (${this.maxRequestBytes}): not sent`, { code: 'PC003' }));
    }
    return new Promise((resolve, reject) => {
      const entry = { op, resolve, reject, sent: true, abandoned: false, timer: null };
      conn.pending.set(String(id), entry);
      if (deadline !== null) {
        entry.timer = setTimeout(() => this._expire(entry), Math.max(deadline - performance.now(), 0));
        entry.timer.unref();
      }
      if (!conn.socket.write(line) && !conn.drained) {
        conn.drained = new Promise((done) => { conn.onDrain = done; });
      }
    });
  }

  /** Take a slot under maxInFlight, waiting (until `deadline`) if needed. */
  _waitForRoom(deadline) {
    if (this._closed) return Promise.reject(new ClientClosed('the client is closed: not sent', { code: 'client_closed' }));
    if (this._inFlight < this.maxInFlight && this._roomWaiters.size === 0) {
      this._take();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      this._roomWaiters.add(waiter);
      if (deadline !== null) {
        waiter.timer = setTimeout(() => {
          this._roomWaiters.delete(waiter);
          reject(new RequestTimeout(`no room under maxInFlight (${this.maxInFlight}) within the ` +
            'timeout: not sent', { code: 'timeout', notWritten: true }));
        }, Math.max(deadline - performance.now(), 0));
      }
    });
  }

  _take() {
    this._inFlight++;
    if (this._inFlight === 1 && this._conn) this._conn.socket.ref(); // answers to wait for
  }

  /** A request left flight: its slot passes to the oldest waiter, if any. */
  _releaseRoom() {
    for (const waiter of this._roomWaiters) {
      this._roomWaiters.delete(waiter);
      clearTimeout(waiter.timer);
      if (this._closed) {
        waiter.reject(new ClientClosed('the client is closed: not sent', { code: 'client_closed' }));
        continue;
      }
      waiter.resolve(); // inFlight stays: the slot changes hands
      return;
    }
    this._inFlight--;
    if (this._inFlight === 0) {
      if (this._conn) this._conn.socket.unref(); // an idle client does not keep Node running
      for (const done of this._idleWaiters.splice(0)) done();
    }
  }

  // ---------------------------------------------------------------- connecting

  _connected() {
    if (this._closed) return Promise.reject(new ClientClosed('the client is closed: not sent', { code: 'client_closed' }));
    if (this._conn && !this._conn.dead) return Promise.resolve(this._conn);
    if (!this._connecting) {
      this._connecting = this._connectWithBackoff();
      const clear = () => { this._connecting = null; };
      this._connecting.then(clear, clear);
    }
    return this._connecting;
  }

  async _connectWithBackoff() {
    const start = performance.now();
    let delay = BACKOFF_FIRST_MS;
    for (;;) {
      try {
        const socket = await this._open(Math.max(this.connectTimeout - (performance.now() - start), 1));
        return this._adopt(socket);
      } catch (e) {
        const left = this.connectTimeout - (performance.now() - start);
        if (left <= 0) {
          throw new ConnectFailed(`cannot connect to the sidecar at ${formatAddress(this.address)}: ` +
            `${e.message}: not sent`, { code: 'connect_failed' });
        }
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    }
  }

  _open(timeoutMs) {
    return new Promise((resolve, reject) => {
      const a = this.address;
      const socket = a.path !== undefined ? net.createConnection({ path: a.path })
        : net.createConnection({ host: a.host, port: a.port, noDelay: true });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error('timed out')); }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (e) => { clearTimeout(timer); socket.destroy(); reject(e); });
    });
  }

  _adopt(socket) {
    const conn = {
      socket, pending: new Map(), dead: false, partial: [], drained: null, onDrain: null,
      features: null, asking: null, // the sidecar's ping features, once asked for
    };
    socket.on('data', (chunk) => this._onData(conn, chunk));
    socket.on('drain', () => this._drained(conn));
    socket.on('error', (e) => this._kill(conn, `the connection failed: ${e.message}`));
    socket.on('close', () => this._kill(conn, 'the sidecar closed the connection'));
    if (this._inFlight === 0) socket.unref();
    this._conn = conn;
    return conn;
  }

  _drained(conn) {
    const done = conn.onDrain;
    conn.drained = null;
    conn.onDrain = null;
    if (done) done();
  }

  // ---------------------------------------------------------------- reading

  _onData(conn, chunk) {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1 && !conn.dead) {
      let line = chunk.subarray(start, nl);
      if (conn.partial.length) {
        conn.partial.push(line);
        line = Buffer.concat(conn.partial);
        conn.partial = [];
      }
      try {
        this._dispatch(conn, line.toString('utf8'));
      } catch (e) {
        this._kill(conn, `reading from the sidecar failed: ${e.message}`);
        return;
      }
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) conn.partial.push(chunk.subarray(start));
  }

  _dispatch(conn, line) {
    const resp = parse(line, this.parseNumber);
    if (resp === null || typeof resp !== 'object' || Array.isArray(resp)) {
      throw new Error('an answer is not a JSON object');
    }
    if (resp.id === null || resp.id === undefined) {
      // Only a line the sidecar could not read gets "id": null, and this
      // client sends none but one over a lower --max-request-bytes than
      // maxRequestBytes (PC003). Which request it was cannot be told.
      const msg = resp.error && resp.error.message;
      throw new Error(`the sidecar answered a request it could not read (${msg}); set ` +
        'maxRequestBytes to its --max-request-bytes');
    }
    const key = String(resp.id);
    const entry = conn.pending.get(key);
    if (entry === undefined) return;
    conn.pending.delete(key);
    clearTimeout(entry.timer);
    this._releaseRoom();
    if (entry.abandoned) return;
    const result = responseResult(entry.op, resp);
    if (result instanceof PgcoalesceError) entry.reject(result);
    else entry.resolve(result);
  }

  _expire(entry) {
    if (entry.abandoned) return;
    entry.abandoned = true; // keeps its slot until its answer comes
    entry.reject(new RequestTimeout('no answer within the timeout; the request was sent, so for ' +
      'an insert the row may or may not be written', { code: 'timeout', notWritten: false }));
  }

  /** End `conn`: every request in flight on it fails with ConnectionLost. */
  _kill(conn, reason) {
    if (conn.dead) return;
    conn.dead = true;
    if (this._conn === conn) this._conn = null;
    conn.socket.destroy();
    this._drained(conn);
    const entries = [...conn.pending.values()];
    conn.pending.clear();
    const where = formatAddress(this.address);
    for (const entry of entries) {
      clearTimeout(entry.timer);
      this._releaseRoom();
      if (!entry.abandoned) entry.reject(lostError(entry, where, reason));
    }
  }
}

module.exports = { Client, DEFAULT_MAX_REQUEST_BYTES, responseResult };
