'use strict';
// Typed errors: one class per kind of answer (docs/PROTOCOL.md "Responses").
//
// Every error the client rejects with is a PgcoalesceError. Its `notWritten`
// property is the one thing to look at before resending a row:
//   true   the row is certainly not in the database (a PostgreSQL error, a
//          refused request, overload, shutdown, database unavailable, or a
//          request that was never sent): a resend cannot store it twice
//   false  it may or may not be in the database (PC007 commit unknown, the
//          connection lost with the request in flight, a request that timed
//          out after it was sent): a resend may store it twice, unless it was
//          sent with an idempotency key (insert's options.key): resent with
//          the same key, it is written at most once

/** Base class. `code`: the SQLSTATE, the PC code, or for errors raised by
 * the client itself a lower-case name ("connection_lost", ...). `detail`,
 * `hint`, `column`, `constraint`: PostgreSQL's fields when it sent them. */
class PgcoalesceError extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.name = new.target.name;
    this.code = fields.code === undefined ? null : fields.code;
    for (const k of ['detail', 'hint', 'column', 'constraint']) {
      this[k] = fields[k] === undefined ? null : fields[k];
    }
    // an instance value only where the class default does not fit
    if (fields.notWritten !== undefined) {
      Object.defineProperty(this, 'notWritten', { value: fields.notWritten, enumerable: true });
    }
  }

  get notWritten() { return false; } // unknown codes: assume the worst
}

const certainlyNotWritten = { get() { return true; }, configurable: true };

/** PostgreSQL refused the row (any SQLSTATE): it is not in the database. */
class RowError extends PgcoalesceError {
  get sqlstate() { return this.code; }
}
/** PC001, PC002, PC003, PC009 (also PC003 before sending, for a line over maxRequestBytes). */
class InvalidRequest extends PgcoalesceError {}
/** PC008: the table is outside the sidecar's --allow-table list. */
class TableNotAllowed extends PgcoalesceError {}
/** PC004: --overload reject and the sidecar's pending-row limit reached. */
class Overloaded extends PgcoalesceError {}
/** PC005: the sidecar is stopping; the row was not written. */
class ShuttingDown extends PgcoalesceError {}
/** PC006: the database stayed unreachable for --retry-timeout-ms. */
class Unavailable extends PgcoalesceError {}
/** PC007: COMMIT's outcome could not be found out: the row may or may not be stored. */
class CommitUnknown extends PgcoalesceError {}
/** Client side: the connection dropped with this request in flight (an
 * insert's row may or may not be written). */
class ConnectionLost extends PgcoalesceError {}
/** Client side: no connection within connectTimeout; nothing was sent. */
class ConnectFailed extends PgcoalesceError {}
/** Client side: no answer within the timeout. notWritten is true when the
 * request was never sent, false once it was (its late answer is dropped). */
class RequestTimeout extends PgcoalesceError {}
/** Client side: close() was called; nothing was sent. */
class ClientClosed extends PgcoalesceError {}
/** Client side: the insert uses an extension of the protocol (key,
 * onConflict) that the sidecar's ping does not list in its features. One
 * without it would ignore the field (a keyed resend written twice), so
 * nothing was sent. */
class FeatureMissing extends PgcoalesceError {}

for (const cls of [RowError, InvalidRequest, TableNotAllowed, Overloaded, ShuttingDown,
  Unavailable, ConnectFailed, ClientClosed, FeatureMissing]) {
  Object.defineProperty(cls.prototype, 'notWritten', certainlyNotWritten);
}

const PC_CLASSES = {
  PC001: InvalidRequest, PC002: InvalidRequest, PC003: InvalidRequest, PC009: InvalidRequest,
  PC004: Overloaded, PC005: ShuttingDown, PC006: Unavailable, PC007: CommitUnknown,
  PC008: TableNotAllowed,
};

/** The error for a response's "error" object. A PC code this client does
 * not know (a newer sidecar) is a plain PgcoalesceError, in doubt. */
function fromResponse(error) {
  const code = typeof error.code === 'string' ? error.code : null;
  let Cls = PgcoalesceError;
  if (code !== null && Object.prototype.hasOwnProperty.call(PC_CLASSES, code)) Cls = PC_CLASSES[code];
  else if (code !== null && !code.startsWith('PC')) Cls = RowError;
  const fields = { code };
  for (const k of ['detail', 'hint', 'column', 'constraint']) {
    if (typeof error[k] === 'string') fields[k] = error[k];
  }
  return new Cls(String(error.message === undefined ? '' : error.message), fields);
}

module.exports = {
  PgcoalesceError, RowError, InvalidRequest, TableNotAllowed, Overloaded, ShuttingDown,
  Unavailable, CommitUnknown, ConnectionLost, ConnectFailed, RequestTimeout, ClientClosed,
  FeatureMissing, fromResponse,
};
