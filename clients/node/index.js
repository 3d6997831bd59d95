'use strict';
// pgcoalesce: the Node.js client of the pgcoalesce sidecar (no dependencies).
//
//   const { Client } = require('pgcoalesce');
//   const c = new Client();   // $PGCOALESCE_SOCKET, else /tmp/pgcoalesce.sock
//   await c.insert('events', { device_id: 7, kind: 'click' });
//   await c.close();

const { Client, DEFAULT_MAX_REQUEST_BYTES } = require('./lib/client');
const { DEFAULT_SOCKET, parseAddress } = require('./lib/address');
const { Numeric, numeric } = require('./lib/json');
const errors = require('./lib/errors');

module.exports = {
  Client,
  numeric,
  Numeric,
  parseAddress,
  DEFAULT_SOCKET,
  DEFAULT_MAX_REQUEST_BYTES,
  PgcoalesceError: errors.PgcoalesceError,
  RowError: errors.RowError,
  InvalidRequest: errors.InvalidRequest,
  TableNotAllowed: errors.TableNotAllowed,
  Overloaded: errors.Overloaded,
  ShuttingDown: errors.ShuttingDown,
  Unavailable: errors.Unavailable,
  CommitUnknown: errors.CommitUnknown,
  ConnectionLost: errors.ConnectionLost,
  ConnectFailed: errors.ConnectFailed,
  RequestTimeout: errors.RequestTimeout,
  ClientClosed: errors.ClientClosed,
  FeatureMissing: errors.FeatureMissing,
};
