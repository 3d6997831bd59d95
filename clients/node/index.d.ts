// Type declarations for pgcoalesce (the Node.js client of the pgcoalesce sidecar).

/** A value a row may carry: JSON values, BigInt (exact integer text),
 * numeric() (exact number text), Date (ISO 8601), Uint8Array (bytea). */
export type Value =
  | null | undefined | boolean | number | bigint | string | Numeric | Date | Uint8Array
  | Value[] | { [key: string]: Value };

export interface ClientOptions {
  /** A socket path, "unix:/path", "tcp:HOST:PORT" or "HOST:PORT";
   * default $PGCOALESCE_SOCKET, else /tmp/pgcoalesce.sock. */
  address?: string;
  /** Requests sent and not yet answered, at most (default 1000); more wait. */
  maxInFlight?: number;
  /** Milliseconds per request, from the call to the answer (default: none). */
  timeout?: number | null;
  /** Milliseconds a call keeps trying to (re)connect (default 10000). */
  connectTimeout?: number;
  /** The sidecar's --max-request-bytes (default 1048576). */
  maxRequestBytes?: number;
  /** How numbers in answers are read (default: Number, BigInt past 2^53). */
  parseNumber?: (text: string) => unknown;
}

export interface InsertOptions {
  /** Columns to return, or "*" / ["*"] for all of them. */
  returning?: string[] | string;
  /** The schema, when the table name is taken whole (it may contain dots). */
  schema?: string;
  /** Milliseconds for this request (null: no limit). */
  timeout?: number | null;
  /** An idempotency key (1 to 200 bytes): the sidecar writes a row with a
   * given key at most once, so a resend with the same key is safe. */
  key?: string;
  /** INSERT ... ON CONFLICT: what to do when the row conflicts. */
  onConflict?: OnConflict;
}

/** The protocol's on_conflict (docs/PROTOCOL.md). */
export interface OnConflict {
  /** The target: a unique index's columns ... */
  columns?: string[];
  /** ... or a constraint's name (at most one of the two; one is needed for 'update'). */
  constraint?: string;
  do: 'nothing' | 'update';
  /** Columns that take the new row's value (col = EXCLUDED.col). */
  set?: string[];
  /** Columns the new row's value is added to (col = t.col + EXCLUDED.col). */
  add?: string[];
}

/** What an insert with `key` or `onConflict` resolves to. */
export interface InsertResult {
  /** The RETURNING columns; null without returning, for a row that did nothing, or a duplicate. */
  row: Record<string, unknown> | null;
  /** An upsert's outcome: inserted, updated the stored row, or did nothing. */
  action: 'insert' | 'update' | 'none' | null;
  /** The key had been written before: the row was not written again. */
  duplicate: boolean;
}

export interface RequestOptions {
  timeout?: number | null;
}

export class Client {
  constructor(address?: string | null, options?: ClientOptions);
  constructor(options: ClientOptions);
  readonly address: { path: string } | { host: string; port: number };
  /** Requests sent (or being sent) and not yet answered. */
  readonly inFlight: number;
  /** With key or onConflict: resolves to { row, action, duplicate }; the
   * sidecar's ping must list them (else FeatureMissing, nothing sent). */
  insert(table: string, row: Record<string, Value>,
    options: InsertOptions & ({ key: string } | { onConflict: OnConflict })): Promise<InsertResult>;
  /** Resolves to the RETURNING columns (null without `returning`) once the
   * row is committed; rejects with a PgcoalesceError subclass. */
  insert(table: string, row: Record<string, Value>, options?: InsertOptions):
    Promise<Record<string, unknown> | null>;
  /** Resolves once every row the sidecar accepted before it is committed or failed. */
  flush(options?: RequestOptions): Promise<void>;
  /** Resolves to true if the sidecar has a database connection up. */
  ping(options?: RequestOptions): Promise<boolean>;
  /** The sidecar's counters (docs/PROTOCOL.md "stats"). */
  stats(options?: RequestOptions): Promise<Record<string, any>>;
  /** Waits for the answers in flight (at most options.timeout ms), then closes. */
  close(options?: RequestOptions): Promise<void>;
}

export class Numeric {
  constructor(text: string);
  readonly text: string;
}
/** An exact number for a numeric column, e.g. numeric("12345678901234567890.12"). */
export function numeric(text: string): Numeric;

export function parseAddress(address?: string | null):
  { path: string } | { host: string; port: number };
export const DEFAULT_SOCKET: string;
export const DEFAULT_MAX_REQUEST_BYTES: number;

export interface ErrorFields {
  code?: string | null;
  detail?: string | null;
  hint?: string | null;
  column?: string | null;
  constraint?: string | null;
  notWritten?: boolean;
}

export class PgcoalesceError extends Error {
  constructor(message: string, fields?: ErrorFields);
  /** SQLSTATE, PC code, or a client-side name ("connection_lost", ...). */
  readonly code: string | null;
  readonly detail: string | null;
  readonly hint: string | null;
  readonly column: string | null;
  readonly constraint: string | null;
  /** true: the row is certainly not in the database (a resend cannot
   * store it twice); false: it may or may not be. */
  readonly notWritten: boolean;
}
/** PostgreSQL refused the row (any SQLSTATE). notWritten: true. */
export class RowError extends PgcoalesceError { readonly sqlstate: string; }
/** PC001, PC002, PC003, PC009. notWritten: true. */
export class InvalidRequest extends PgcoalesceError {}
/** PC008. notWritten: true. */
export class TableNotAllowed extends PgcoalesceError {}
/** PC004. notWritten: true. */
export class Overloaded extends PgcoalesceError {}
/** PC005. notWritten: true. */
export class ShuttingDown extends PgcoalesceError {}
/** PC006. notWritten: true. */
export class Unavailable extends PgcoalesceError {}
/** PC007: may or may not be written. notWritten: false. */
export class CommitUnknown extends PgcoalesceError {}
/** The connection dropped with the request in flight. notWritten: false
 * (true only if it was never sent). */
export class ConnectionLost extends PgcoalesceError {}
/** No connection within connectTimeout; nothing sent. notWritten: true. */
export class ConnectFailed extends PgcoalesceError {}
/** No answer in time. notWritten: true if never sent, else false. */
export class RequestTimeout extends PgcoalesceError {}
/** close() was called; nothing sent. notWritten: true. */
export class ClientClosed extends PgcoalesceError {}
/** key or onConflict to a sidecar whose ping does not list them; nothing sent. notWritten: true. */
export class FeatureMissing extends PgcoalesceError {}
