'use strict';
// Where the sidecar listens (the same forms as the Python and C clients).

const DEFAULT_SOCKET = '/tmp/pgcoalesce.sock';
const HOSTPORT = /^(?:\[([^\]]+)\]|([^:[\]/]+)):(\d+)$/;

/**
 * { path } for a Unix socket or { host, port } for TCP.
 * undefined/null: $PGCOALESCE_SOCKET (unset or empty: /tmp/pgcoalesce.sock).
 * "unix:/path" and any string with a "/" are socket paths; "tcp:HOST:PORT"
 * and "HOST:PORT" (IPv6 as "[::1]:PORT") are TCP addresses, for a sidecar
 * with a TCP listener. Throws TypeError for anything else.
 */
function parseAddress(address) {
  if (address === undefined || address === null) {
    address = process.env.PGCOALESCE_SOCKET || DEFAULT_SOCKET;
  }
  if (typeof address !== 'string' || address === '') {
    throw new TypeError(`pgcoalesce: address must be a non-empty string, got ${String(address)}`);
  }
  if (address.startsWith('unix:')) {
    if (address.length === 5) throw new TypeError(`pgcoalesce: "${address}" names no socket path`);
    return { path: address.slice(5) };
  }
  const tcp = address.startsWith('tcp:');
  const rest = tcp ? address.slice(4) : address;
  const m = HOSTPORT.exec(rest);
  if (m && (tcp || !rest.includes('/'))) {
    const port = Number(m[3]);
    if (!(port > 0 && port < 65536)) throw new TypeError(`pgcoalesce: port out of range in "${address}"`);
    return { host: m[1] || m[2], port };
  }
  if (tcp) throw new TypeError(`pgcoalesce: "${address}" is not tcp:HOST:PORT`);
  return { path: address };
}

function formatAddress(a) {
  return a.path !== undefined ? a.path : `${a.host}:${a.port}`;
}

module.exports = { DEFAULT_SOCKET, parseAddress, formatAddress };
