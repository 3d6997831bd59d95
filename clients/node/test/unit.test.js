'use strict';
// No sidecar needed: addresses, request encoding, answer parsing, error classes.
const test = require('node:test');
const assert = require('node:assert/strict');
const pgc = require('..');
const { insertBody, parse } = require('../lib/json');
const { fromResponse } = require('../lib/errors');

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
