'use strict';
// Against a running sidecar and its database; starts nothing itself. The
// integration test test/integration/test_client_node.py runs it with:
//   PGCOALESCE_TEST_SOCKET  a sidecar started with --allow-table for events,
//                           t_values, t_checks, "App.Events", t_keyed, devices
//                           (not t_defaults)
//   PGCOALESCE_TEST_DSN     its database (checked with psql)
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const pgc = require('..');

const LIMIT = 120000; // ms per test: a hang fails with its name, not the runner's timeout

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through test/integration/test_client_node.py`);
  return v;
}
const SOCKET = env('PGCOALESCE_TEST_SOCKET');
const DSN = env('PGCOALESCE_TEST_DSN');
const sql = (q) => execFileSync('psql', ['-X', '-q', '-At', '-d', DSN, '-c', q], { encoding: 'utf8' }).trim();

async function rejects(promise, Cls) {
  try {
    const r = await promise;
    assert.fail(`expected ${Cls.name}, got ${JSON.stringify(r)}`);
  } catch (e) {
    if (!(e instanceof Cls)) throw e;
    return e;
  }
}

test('ok acks, returning, schema', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET);
  assert.equal(await c.insert('events', { device_id: 1, kind: 'a' }), null);
  const row = await c.insert('events', { device_id: 2, kind: 'b' }, { returning: ['id', 'kind'] });
  assert.deepEqual(Object.keys(row), ['id', 'kind']);
  assert.equal(row.kind, 'b');
  assert.equal(typeof row.id, 'number');
  const app = await c.insert('Events', { Kind: 'x' }, { schema: 'App', returning: '*' });
  assert.equal(app.Kind, 'x');
  assert.equal(app.kind, null);
  await c.close();
  assert.equal(sql("SELECT count(*) FROM events WHERE kind IN ('a', 'b')"), '2');
});

test('row errors are typed with SQLSTATE and fields', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET);
  await c.insert('t_checks', { id: 1, v: 1, code: 'dup' });
  const results = await Promise.allSettled([
    c.insert('t_checks', { id: 2, v: 2 }, { returning: ['id'] }),
    c.insert('t_checks', { id: 3, v: -1 }),
    c.insert('t_checks', { id: 4, v: 4, code: 'dup' }),
    c.insert('t_checks', { id: 5 }),
    c.insert('t_checks', { id: 6, nope: 1 }),
  ]);
  assert.deepEqual(results[0], { status: 'fulfilled', value: { id: 2 } });
  const errors = results.slice(1).map((r) => r.reason);
  for (const e of errors) {
    assert.ok(e instanceof pgc.RowError && e.notWritten === true, String(e));
  }
  assert.deepEqual(errors.map((e) => e.sqlstate), ['23514', '23505', '23502', '42703']);
  assert.equal(errors[0].constraint, 't_checks_v_check');
  assert.match(errors[1].detail, /\(code\)=\(dup\)/);
  assert.equal(errors[1].constraint, 't_checks_code_key');
  assert.equal(errors[2].column, 'v');
  await c.close();
  assert.equal(sql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM t_checks'), '1,2');
});

test('refused requests: PC002, PC008, PC003 before sending', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET, { maxRequestBytes: 2000 });
  let e = await rejects(c.insert('t_values', { t: 'a\u0000b' }), pgc.InvalidRequest);
  assert.equal(e.code, 'PC002');
  assert.equal(e.notWritten, true);
  e = await rejects(c.insert('t_defaults', {}), pgc.TableNotAllowed);
  assert.equal(e.code, 'PC008');
  assert.equal(e.notWritten, true);
  e = await rejects(c.insert('events', { device_id: 1, kind: 'x'.repeat(3000) }), pgc.InvalidRequest);
  assert.equal(e.code, 'PC003');
  assert.match(e.message, /not sent/);
  assert.equal(c.inFlight, 0);
  await c.close();
  assert.equal(sql('SELECT count(*) FROM t_defaults'), '0');
});

test('exact numbers: BigInt, numeric(), 38 digits', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET);
  const n38 = '12345678901234567890.123456789012345678';
  const row = await c.insert('t_values', {
    b: 9223372036854775807n, n: pgc.numeric(n38), f: 0.1, i: -2147483648,
    ts: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 123)), jb: { x: pgc.numeric(n38), y: 2n ** 70n },
  }, { returning: ['b', 'n', 'i'] });
  assert.equal(row.b, 9223372036854775807n);
  assert.equal(row.i, -2147483648);
  assert.equal(typeof row.n, 'number'); // the default: a Number ...
  await c.close();
  const exact = new pgc.Client(SOCKET, { parseNumber: (text) => text }); // ... or exact text
  const r2 = await exact.insert('t_values', { n: n38, f: NaN }, { returning: ['n', 'f'] });
  assert.deepEqual(r2, { n: n38, f: 'NaN' });
  await exact.close();
  assert.equal(sql("SELECT n::text || '|' || b || '|' || f || '|' || (ts = '2026-11-22 10:00:00.123+00') " +
    "|| '|' || (jb->>'x') || '|' || (jb->>'y') FROM t_values WHERE b IS NOT NULL"),
  `${n38}|9223372036854775807|0.1|true|${n38}|${2n ** 70n}`);
});

test('flush, ping, stats', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET);
  const before = (await c.stats()).rows_committed;
  const inserts = Array.from({ length: 50 }, (_, i) => c.insert('events', { device_id: i, kind: 'f' }));
  await c.flush();
  assert.deepEqual(await Promise.all(inserts), Array(50).fill(null));
  assert.equal(await c.ping(), true);
  const st = await c.stats();
  assert.equal(st.rows_committed, before + 50);
  assert.equal(typeof st.tables['public.events'].rows_committed, 'number');
  await c.close();
});

test('many concurrent inserts pipelined on one connection', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET, { maxInFlight: 200 });
  const rows = await Promise.all(Array.from({ length: 5000 },
    (_, i) => c.insert('events', { device_id: i, kind: 'many' }, { returning: ['id', 'device_id'] })));
  assert.equal(c.inFlight, 0);
  assert.deepEqual(rows.map((r) => r.device_id), Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(new Set(rows.map((r) => r.id)).size, 5000);
  await c.close();
  assert.equal(sql("SELECT count(*) FROM events WHERE kind = 'many'"), '5000');
  await rejects(c.ping(), pgc.ClientClosed);
});

test('keys and upserts (needs the daemon side of issue 13)', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET);
  const oc = { columns: ['device_id'], do: 'update', add: ['hits'], set: ['kind'] };
  assert.deepEqual(await c.insert('t_keyed', { k: 'a' }, { key: 'K-a' }), { row: null, action: null, duplicate: false });
  assert.deepEqual(await c.insert('t_keyed', { k: 'a' }, { key: 'K-a' }), { row: null, action: null, duplicate: true });
  assert.deepEqual(await c.insert('devices', { device_id: 1, hits: 2, kind: 'x' }, { returning: ['hits'], onConflict: oc }),
    { row: { hits: 2 }, action: 'insert', duplicate: false });
  assert.deepEqual(await c.insert('devices', { device_id: 1, hits: 3, kind: 'y' },
    { returning: ['hits', 'kind'], onConflict: oc, key: 'inc-1' }),
  { row: { hits: 5, kind: 'y' }, action: 'update', duplicate: false });
  assert.deepEqual(await c.insert('devices', { device_id: 1, hits: 3 }, { returning: ['hits'], onConflict: oc, key: 'inc-1' }),
    { row: null, action: null, duplicate: true });
  assert.deepEqual(await c.insert('devices', { device_id: 1 }, { returning: ['hits'], onConflict: { do: 'nothing' } }),
    { row: null, action: 'none', duplicate: false });
  const again = await Promise.all(Array.from({ length: 100 }, (_, i) => c.insert('t_keyed', { k: 'a' }, { key: i % 2 ? 'K-a' : `K-${i}` })));
  assert.equal(again.filter((r) => !r.duplicate).length, 50);
  await c.close();
  assert.equal(sql('SELECT hits || kind FROM devices WHERE device_id = 1'), '5y');
  assert.equal(sql("SELECT count(*) FROM t_keyed WHERE k = 'a'"), '51');
});
