'use strict';
// Against two running sidecars while another session holds an exclusive
// lock on t_keyed, so rows of t_keyed stay in flight; starts nothing itself.
// test/integration/test_client_node.py runs it with:
//   PGCOALESCE_TEST_SOCKET, PGCOALESCE_TEST_PID                a plain sidecar
//   PGCOALESCE_TEST_SOCKET_REJECT, PGCOALESCE_TEST_PID_REJECT  one with
//     --max-pending-rows 100 --overload reject --shutdown-timeout-ms 2000
// The tests run in order; the last two stop the sidecars.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const pgc = require('..');

const LIMIT = 120000; // ms per test: a hang fails with its name, not the runner's timeout

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through test/integration/test_client_node.py`);
  return v;
}
const SOCKET = env('PGCOALESCE_TEST_SOCKET');
const PID = Number(env('PGCOALESCE_TEST_PID'));
const SOCKET_REJECT = env('PGCOALESCE_TEST_SOCKET_REJECT');
const PID_REJECT = Number(env('PGCOALESCE_TEST_PID_REJECT'));
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function waitFor(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function pending(socket) {
  const c = new pgc.Client(socket);
  try {
    return (await c.stats()).pending_rows;
  } finally {
    await c.close();
  }
}

test('timeouts: sent (in doubt) and not sent', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET, { maxInFlight: 1 });
  let e = await c.insert('t_keyed', { k: 'slow' }, { timeout: 300 })
    .then(() => null, (err) => err);
  assert.ok(e instanceof pgc.RequestTimeout, String(e));
  assert.equal(e.notWritten, false);
  assert.equal(c.inFlight, 1); // the sidecar still has it: it keeps its place
  e = await c.ping({ timeout: 300 }).then(() => null, (err) => err);
  assert.ok(e instanceof pgc.RequestTimeout, String(e));
  assert.equal(e.notWritten, true);
  assert.match(e.message, /not sent/);
  await c.close({ timeout: 0 });
});

test('overloaded (PC004), then shutting down (PC005)', { timeout: LIMIT }, async () => {
  const c = new pgc.Client(SOCKET_REJECT);
  const held = Array.from({ length: 300 }, (_, i) => c.insert('t_keyed', { k: `r${i}` }));
  const settled = await Promise.allSettled(held.slice(100));
  for (const s of settled) {
    assert.ok(s.status === 'rejected' && s.reason instanceof pgc.Overloaded, String(s.reason));
    assert.equal(s.reason.code, 'PC004');
    assert.equal(s.reason.notWritten, true);
  }
  assert.equal(c.inFlight, 100); // the first 100 wait for the lock
  process.kill(PID_REJECT, 'SIGTERM');
  const late = await waitFor('a PC005 answer', async () => {
    try {
      await c.insert('events', { device_id: 1, kind: 'late' });
      assert.fail('the sidecar took a row at its pending-row limit');
    } catch (e) {
      if (e instanceof pgc.Overloaded) return null; // the shutdown has not begun yet
      return e;
    }
  });
  assert.ok(late instanceof pgc.ShuttingDown, String(late));
  assert.equal(late.code, 'PC005');
  assert.equal(late.notWritten, true);
  for (const s of await Promise.allSettled(held.slice(0, 100))) {
    assert.ok(s.status === 'rejected' && s.reason instanceof pgc.ShuttingDown, String(s.reason));
    assert.equal(s.reason.notWritten, true);
  }
  await c.close();
});

test('connection lost: rows in flight are in doubt, callers waiting were never sent', { timeout: LIMIT }, async () => {
  const base = await pending(SOCKET);
  const c = new pgc.Client(SOCKET, { maxInFlight: 50, connectTimeout: 500 });
  const ok = await c.insert('events', { device_id: 1, kind: 'acked' }, { returning: ['kind'] });
  assert.deepEqual(ok, { kind: 'acked' });
  const inserts = Array.from({ length: 1000 }, (_, i) => c.insert('t_keyed', { k: `f${i}` }));
  await waitFor('50 rows pending', async () => (await pending(SOCKET)) === base + 50);
  await sleep(300); // room for more to go out, were the bound not held
  assert.equal(await pending(SOCKET), base + 50);
  assert.equal(c.inFlight, 50);
  // The callers waiting for room reconnect at once, and a dying process's
  // listening socket may still take connections after its clients saw EOF
  // (the kernel closes its sockets newest first): remove the path first.
  fs.unlinkSync(SOCKET);
  process.kill(PID, 'SIGKILL');
  const results = await Promise.allSettled(inserts);
  const lost = results.filter((r) => r.reason instanceof pgc.ConnectionLost).map((r) => r.reason);
  const unsent = results.filter((r) => r.reason instanceof pgc.ConnectFailed).map((r) => r.reason);
  assert.equal(lost.length, 50);
  assert.equal(unsent.length, 950);
  for (const e of lost) {
    assert.equal(e.notWritten, false);
    assert.equal(e.code, 'connection_lost');
    assert.match(e.message, /may or may not be written/);
  }
  for (const e of unsent) assert.equal(e.notWritten, true);
  assert.equal(c.inFlight, 0);
  await c.close();
});
