'use strict';
// No sidecar needed: addresses, request encoding, answer parsing, error classes.
const test = require('node:test');
const assert = require('node:assert/strict');
const pgc = require('..');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const { insertBody, parse } = require('../lib/json');
const { fromResponse } = require('../lib/errors');
const { responseResult } = require('../lib/client');

test('address forms', () => {
  const pa = pgc.parseAddress;
  assert.deepEqual(pa('/run/pgcoalesce/pgcoalesce.sock'), { path: '/run/pgcoalesce/pgcoalesce.sock' });
  assert.deepEqual(pa('unix:/tmp/x.sock'), { path: '/tmp/x.sock' });
  assert.deepEqual(pa('pgc.sock'), { path: 'pgc.sock' });
  assert.deepEqual(pa('tcp:127.0.0.1:7433'), { host: '127.0.0.1', port: 7433 });
  assert.deepEqual(pa('localhost:7433'), { host: 'localhost', port: 7433 });
  assert.deepEqual(pa('[::1]:7433'), { host: '::1', port: 7433 });
  assert.deepEqual(pa('./dir/a:1'), { path: './dir/a:1' });
  for (const bad of ['tcp:host', 'tcp:host:0', 'tcp:h:99999', 'unix:', '']) {
    assert.throws(() => pa(bad), TypeError, bad);
  }
  const old = process.env.PGCOALESCE_SOCKET;
  try {
    process.env.PGCOALESCE_SOCKET = '/x/y.sock';
    assert.deepEqual(pa(), { path: '/x/y.sock' });
    process.env.PGCOALESCE_SOCKET = ''; // set but empty counts as unset
    assert.deepEqual(pa(), { path: pgc.DEFAULT_SOCKET });
  } finally {
    if (old === undefined) delete process.env.PGCOALESCE_SOCKET;
    else process.env.PGCOALESCE_SOCKET = old;
  }
});

test('request bodies keep numbers exact', () => {
  const body = insertBody('t', {
    int: 42, big: 9223372036854775807n, dec: pgc.numeric('12345678901234567890.123456789012345678'),
    fl: 0.1, nan: NaN, inf: -Infinity, b: false, n: null, skipped: undefined,
    ts: new Date(Date.UTC(2026, 10, 22, 10)), bytes: Uint8Array.from([0, 255]),
    j: { k: [1, 2n, undefined] }, s: 'é\n"',
  }, ['id'], 'app');
  assert.equal(body, ',"table":"t","schema":"app","row":{"int":42,"big":9223372036854775807,' +
    '"dec":12345678901234567890.123456789012345678,"fl":0.1,"nan":"NaN","inf":"-Infinity",' +
    '"b":false,"n":null,"ts":"2026-11-22T10:00:00.000Z","bytes":"\\\\x00ff",' +
    '"j":{"k":[1,2,null]},"s":"é\\n\\""},"returning":["id"]');
  assert.equal(insertBody('t', {}, '*'), ',"table":"t","row":{},"returning":["*"]');
  assert.equal(insertBody('t', { n: pgc.numeric('NaN') }), ',"table":"t","row":{"n":"NaN"}');
  assert.throws(() => pgc.numeric('1,5'), TypeError);
  assert.throws(() => pgc.numeric('01'), TypeError);
  assert.throws(() => insertBody('t', { f: () => 1 }), TypeError);
  assert.throws(() => insertBody('t', [1]), TypeError);
  assert.throws(() => insertBody(1, {}), TypeError);
});

test('answers keep numbers exact', () => {
  const r = parse('{"id":17,"ok":true,"row":{"b":9223372036854775807,"n":-1.5e3,"s":"a\\"\\u00e9",' +
    '"j":{"x":[true,false,null]},"__proto__":{"polluted":1}}}');
  assert.equal(r.id, 17);
  assert.equal(r.row.b, 9223372036854775807n);
  assert.equal(r.row.n, -1500);
  assert.equal(r.row.s, 'a"é');
  assert.deepEqual(r.row.j, { x: [true, false, null] });
  assert.equal({}.polluted, undefined);
  assert.equal(Object.getPrototypeOf(r.row), Object.prototype);
  const exact = parse('{"n":12345678901234567890.123456789012345678}', (t) => t);
  assert.equal(exact.n, '12345678901234567890.123456789012345678');
  for (const bad of ['{', '{"a":}', '[1,]', '{"a":1} x', '"open']) {
    assert.throws(() => parse(bad), SyntaxError, bad);
  }
});

test('error classes and notWritten', () => {
  const cases = [
    ['23505', pgc.RowError, true], ['42P01', pgc.RowError, true],
    ['PC001', pgc.InvalidRequest, true], ['PC002', pgc.InvalidRequest, true],
    ['PC003', pgc.InvalidRequest, true], ['PC009', pgc.InvalidRequest, true],
    ['PC004', pgc.Overloaded, true], ['PC005', pgc.ShuttingDown, true],
    ['PC006', pgc.Unavailable, true], ['PC008', pgc.TableNotAllowed, true],
    ['PC007', pgc.CommitUnknown, false], ['PC999', pgc.PgcoalesceError, false],
  ];
  for (const [code, Cls, notWritten] of cases) {
    const e = fromResponse({ code, message: 'm', detail: 'd', constraint: 'c' });
    assert.equal(e.constructor, Cls, code);
    assert.ok(e instanceof pgc.PgcoalesceError && e instanceof Error);
    assert.equal(e.notWritten, notWritten, code);
    assert.equal(e.code, code);
    assert.equal(e.detail, 'd');
    assert.equal(e.constraint, 'c');
    assert.equal(e.hint, null);
  }
  assert.equal(new pgc.ConnectionLost('x').notWritten, false);
  assert.equal(new pgc.ConnectionLost('x', { notWritten: true }).notWritten, true);
  assert.equal(new pgc.ConnectFailed('x').notWritten, true);
  assert.equal(new pgc.RequestTimeout('x').name, 'RequestTimeout');
});

test('key and onConflict on the wire; what the sidecar would refuse is refused before sending', () => {
  const body = insertBody('devices', { device_id: 7, hits: 1 }, ['hits'], null,
    { columns: ['device_id'], do: 'update', set: ['seen'], add: ['hits'] }, 'k-é"');
  assert.equal(body, ',"table":"devices","row":{"device_id":7,"hits":1},"returning":["hits"],' +
    '"on_conflict":{"columns":["device_id"],"do":"update","set":["seen"],"add":["hits"]},"key":"k-é\\""');
  assert.equal(insertBody('t', {}, null, null, { do: 'nothing' }), ',"table":"t","row":{},"on_conflict":{"do":"nothing"}');
  assert.equal(insertBody('t', {}, null, null, { constraint: 't_pkey', do: 'nothing' }),
    ',"table":"t","row":{},"on_conflict":{"constraint":"t_pkey","do":"nothing"}');
  for (const oc of ['update', { do: 'upsert' }, { do: 'update', set: ['a'] }, { columns: ['a'], do: 'update' },
    { columns: ['a'], do: 'update', set: ['n'], add: ['n'] }, { columns: ['a'], constraint: 'c', do: 'nothing' },
    { columns: [], do: 'nothing' }, { columns: 'a', do: 'nothing' }, { do: 'nothing', set: ['a'] },
    { do: 'nothing', where: 'a > 0' }, { constraint: '', do: 'nothing' }]) {
    assert.throws(() => insertBody('t', {}, null, null, oc), TypeError, JSON.stringify(oc));
  }
  for (const key of ['', 'x'.repeat(201), 'é'.repeat(100) + 'x', 'a\0b', '\ud800', 5]) {
    assert.throws(() => insertBody('t', {}, null, null, null, key), TypeError, String(key));
  }
  assert.ok(insertBody('t', {}, null, null, null, 'x'.repeat(200)).endsWith(`"key":"${'x'.repeat(200)}"`));
  assert.deepEqual(responseResult('insert+', { id: 1, ok: true, action: 'update', row: { n: 2 } }),
    { row: { n: 2 }, action: 'update', duplicate: false });
  assert.deepEqual(responseResult('insert+', { id: 1, ok: true, duplicate: true }),
    { row: null, action: null, duplicate: true });
  assert.deepEqual(responseResult('features', { ok: true, features: ['key', 3] }), ['key']);
  assert.deepEqual(responseResult('features', { ok: true, db: 'up' }), []);
  assert.equal(new pgc.FeatureMissing('x').notWritten, true);
});

/** A socket whose other end plays the sidecar for the feature check only:
 * a ping is answered with `features` (null: a v1 answer without the field),
 * anything else ok (a keyed row as a duplicate); every line is kept. */
async function pingPeer(features) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgc-peer-'));
  const sock = path.join(dir, 'peer.sock');
  const lines = [];
  const server = net.createServer((c) => {
    let buf = '';
    c.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        lines.push(req);
        const ans = { id: req.id, ok: true };
        if (req.op === 'ping') {
          ans.db = 'up';
          if (features !== null) ans.features = features;
        } else if (req.key !== undefined) {
          ans.duplicate = true;
        }
        c.write(`${JSON.stringify(ans)}\n`);
      }
    });
  });
  await new Promise((resolve) => server.listen(sock, resolve));
  const close = () => new Promise((resolve) => server.close(() => { fs.rmSync(dir, { recursive: true, force: true }); resolve(); }));
  return { sock, lines, close };
}

test('a key or onConflict goes only to a sidecar whose ping lists it', async () => {
  const v1 = await pingPeer(null);
  let c = new pgc.Client(v1.sock);
  const e = await c.insert('t_keyed', { k: 'a' }, { key: 'a' }).then(() => null, (err) => err);
  assert.ok(e instanceof pgc.FeatureMissing, String(e));
  assert.equal(e.notWritten, true);
  assert.match(e.message, /"key"/);
  await assert.rejects(c.insert('t', {}, { onConflict: { do: 'nothing' } }), pgc.FeatureMissing);
  assert.equal(await c.insert('t_keyed', { k: 'plain' }), null); // no key: sent as always
  await c.close();
  assert.deepEqual(v1.lines.map((r) => r.op || 'insert'), ['ping', 'insert']);
  assert.equal(v1.lines[1].key, undefined);
  await v1.close();
  const fresh = await pingPeer(['describe', 'on_conflict', 'key']);
  c = new pgc.Client(fresh.sock);
  const results = await Promise.all(Array.from({ length: 5 }, (_, i) => c.insert('t_keyed', { k: 'a' }, { key: `a${i}` })));
  assert.deepEqual(results, Array(5).fill({ row: null, action: null, duplicate: true }));
  assert.deepEqual(fresh.lines.map((r) => r.op || 'insert'), ['ping', 'insert', 'insert', 'insert', 'insert', 'insert']);
  await c.close();
  await fresh.close();
});
