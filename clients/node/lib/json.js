'use strict';
// Request lines out, response lines in (docs/PROTOCOL.md), numbers exact
// both ways: the sidecar keeps a number's text exactly as written.

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** An exact number given as text, for numeric columns: sent as a JSON
 * number with exactly these digits ("NaN", "Infinity" and "-Infinity" go
 * as strings, which PostgreSQL's numeric and float input read). */
class Numeric {
  constructor(text) {
    text = String(text);
    if (!JSON_NUMBER.test(text) && !['NaN', 'Infinity', '-Infinity'].includes(text)) {
      throw new TypeError(`pgcoalesce: "${text}" is not a number`);
    }
    this.text = text;
    Object.freeze(this);
  }

  toString() { return this.text; }
}

function numeric(text) { return new Numeric(text); }

function encodeNumber(n) {
  if (Number.isFinite(n)) return JSON.stringify(n);
  return Number.isNaN(n) ? '"NaN"' : n > 0 ? '"Infinity"' : '"-Infinity"';
}

/** The JSON text of one value (see README: values). undefined inside an
 * array is null, as JSON.stringify has it; functions and symbols throw. */
function encodeValue(v) {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'number': return encodeNumber(v);
    case 'bigint': return v.toString();
    case 'boolean': return v ? 'true' : 'false';
    case 'object': break;
    default: throw new TypeError(`pgcoalesce: cannot send a value of type ${typeof v}`);
  }
  if (v instanceof Numeric) return JSON_NUMBER.test(v.text) ? v.text : `"${v.text}"`;
  if (Array.isArray(v)) return `[${v.map(encodeValue).join(',')}]`;
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return `"\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`; // bytea hex
  }
  if (typeof v.toJSON === 'function') return encodeValue(v.toJSON());
  return encodeObject(v);
}

function encodeObject(o) {
  const parts = [];
  for (const k of Object.keys(o)) {
    if (o[k] !== undefined) parts.push(`${JSON.stringify(k)}:${encodeValue(o[k])}`);
  }
  return `{${parts.join(',')}}`;
}

const KEY_MAX_BYTES = 200; // the protocol's longest idempotency key
const CONFLICT_FIELDS = ['columns', 'constraint', 'do', 'set', 'add'];

function conflictNames(v, what, nonEmpty) {
  if (!Array.isArray(v) || !v.every((c) => typeof c === 'string' && c !== '') || (nonEmpty && !v.length)) {
    throw new TypeError(`pgcoalesce: onConflict.${what} must be a non-empty array of column names`);
  }
  return v;
}

/** The protocol's on_conflict object, checked as the sidecar checks it
 * (docs/PROTOCOL.md); a TypeError naming the field otherwise. */
function checkOnConflict(oc) {
  if (oc === null || typeof oc !== 'object' || Array.isArray(oc)) {
    throw new TypeError("pgcoalesce: onConflict must be an object, e.g. { columns: ['id'], do: 'update', set: ['seen'], add: ['hits'] }");
  }
  const unknown = Object.keys(oc).filter((k) => oc[k] !== undefined && !CONFLICT_FIELDS.includes(k));
  if (unknown.length) throw new TypeError(`pgcoalesce: onConflict has no field "${unknown[0]}"`);
  if (oc.do !== 'nothing' && oc.do !== 'update') {
    throw new TypeError("pgcoalesce: onConflict.do must be 'nothing' or 'update'");
  }
  const out = {};
  if (oc.columns !== undefined) out.columns = conflictNames(oc.columns, 'columns', true);
  if (oc.constraint !== undefined) {
    if (oc.columns !== undefined) throw new TypeError('pgcoalesce: onConflict takes columns or constraint, not both');
    if (typeof oc.constraint !== 'string' || oc.constraint === '') {
      throw new TypeError('pgcoalesce: onConflict.constraint must be a non-empty name');
    }
    out.constraint = oc.constraint;
  }
  out.do = oc.do;
  const set = oc.set === undefined ? [] : conflictNames(oc.set, 'set', false);
  const add = oc.add === undefined ? [] : conflictNames(oc.add, 'add', false);
  if (oc.do === 'nothing') {
    if (set.length || add.length) throw new TypeError("pgcoalesce: onConflict.set and add need do: 'update'");
    return out;
  }
  if (out.columns === undefined && out.constraint === undefined) {
    throw new TypeError("pgcoalesce: onConflict do: 'update' needs columns or a constraint");
  }
  if (!set.length && !add.length) throw new TypeError("pgcoalesce: onConflict do: 'update' needs a column in set or add");
  const both = set.find((c) => add.includes(c));
  if (both !== undefined) throw new TypeError(`pgcoalesce: onConflict column "${both}" is in set and add`);
  if (set.length) out.set = set;
  if (add.length) out.add = add;
  return out;
}

/** An idempotency key: a string of 1 to 200 bytes of UTF-8, without U+0000
 * or lone surrogates. */
function checkKey(key) {
  if (typeof key !== 'string') throw new TypeError('pgcoalesce: key must be a string');
  const n = Buffer.byteLength(key, 'utf8');
  if (n === 0 || n > KEY_MAX_BYTES || key.includes('\0') || /[\ud800-\udfff]/.test(key.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
    throw new TypeError(`pgcoalesce: key must be 1 to ${KEY_MAX_BYTES} bytes of UTF-8 text`);
  }
  return key;
}

/** The ping features a sidecar must list for these insert options: one
 * without them would ignore the fields (a keyed resend written twice). */
function neededFeatures(onConflict, key) {
  const need = [];
  if (onConflict !== undefined && onConflict !== null) need.push('on_conflict');
  if (key !== undefined && key !== null) need.push('key');
  return need;
}

/** The fields of an insert request after its id, as JSON text starting
 * with a comma. onConflict and key: see checkOnConflict and checkKey. */
function insertBody(table, row, returning, schema, onConflict, key) {
  if (typeof table !== 'string') throw new TypeError('pgcoalesce: table must be a string');
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new TypeError('pgcoalesce: row must be an object of column name to value');
  }
  let body = `,"table":${JSON.stringify(table)}`;
  if (schema !== undefined && schema !== null) {
    if (typeof schema !== 'string') throw new TypeError('pgcoalesce: schema must be a string');
    body += `,"schema":${JSON.stringify(schema)}`;
  }
  body += `,"row":${encodeObject(row)}`;
  if (returning !== undefined && returning !== null) {
    const cols = typeof returning === 'string' ? [returning] : returning;
    if (!Array.isArray(cols) || !cols.every((c) => typeof c === 'string')) {
      throw new TypeError('pgcoalesce: returning must be an array of column names');
    }
    body += `,"returning":${JSON.stringify(cols)}`;
  }
  if (onConflict !== undefined && onConflict !== null) {
    body += `,"on_conflict":${JSON.stringify(checkOnConflict(onConflict))}`;
  }
  if (key !== undefined && key !== null) body += `,"key":${JSON.stringify(checkKey(key))}`;
  return body;
}

/** The default for numbers in answers: a Number when that is exact for an
 * integer, a BigInt for larger integers, a Number for the rest. */
function defaultParseNumber(text) {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  return Number(text);
}

const NUMBER_AT = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WS_AT = /[ \t\r\n]*/y;

/** Parse one JSON text; every number's text goes through parseNumber.
 * (JSON.parse cannot keep a number's digits on the Node versions we support.) */
function parse(text, parseNumber = defaultParseNumber) {
  let i = 0;
  const fail = (what) => { throw new SyntaxError(`pgcoalesce: bad JSON from the sidecar (${what} at ${i})`); };
  const ws = () => { WS_AT.lastIndex = i; WS_AT.exec(text); i = WS_AT.lastIndex; };
  const string = () => {
    const start = i++;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(i++);
      if (c === 34) break; // "
      if (c === 92) { escaped = true; i++; } // a backslash: skip what it escapes
      if (Number.isNaN(c)) fail('unterminated string');
    }
    return escaped ? JSON.parse(text.slice(start, i)) : text.slice(start + 1, i - 1);
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      const o = {};
      i++; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = string();
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        Object.defineProperty(o, k, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        const d = text[i++];
        if (d === '}') return o;
        if (d !== ',') fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      const a = [];
      i++; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return a;
        if (d !== ',') fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    NUMBER_AT.lastIndex = i;
    const m = NUMBER_AT.exec(text);
    if (!m) fail('unexpected character');
    i = NUMBER_AT.lastIndex;
    return parseNumber(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

module.exports = {
  Numeric, numeric, encodeValue, insertBody, checkOnConflict, checkKey, neededFeatures, parse,
  defaultParseNumber,
};
