"""Addresses, request lines and response lines (docs/PROTOCOL.md).

Shared by the blocking and the asyncio client; no I/O here.
"""
import datetime
import decimal
import json
import math
import os
import re
import uuid

from .errors import FeatureMissing, InvalidRequest, from_response

DEFAULT_SOCKET = "/tmp/pgcoalesce.sock"
DEFAULT_MAX_REQUEST_BYTES = 1048576  # the sidecar's --max-request-bytes default

_HOSTPORT = re.compile(r"^(?:\[([^\]]+)\]|([^:\[\]/]+)):(\d+)$")
_JSON_NUMBER = re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$")
_encode_str = json.encoder.encode_basestring  # C-accelerated, keeps non-ASCII as is


def parse_address(address=None):
    """Where the sidecar listens: ("unix", path) or ("tcp", host, port).

    None means $PGCOALESCE_SOCKET (unset or empty: /tmp/pgcoalesce.sock).
    "unix:/path" and any string with a "/" are socket paths; "tcp:HOST:PORT"
    and "HOST:PORT" (IPv6 as "[::1]:PORT") are TCP addresses, for a sidecar
    with a TCP listener. Raises ValueError for anything else."""
    if address is None:
        address = os.environ.get("PGCOALESCE_SOCKET") or DEFAULT_SOCKET
    elif isinstance(address, os.PathLike):
        address = os.fspath(address)
    if not isinstance(address, str) or not address:
        raise ValueError("pgcoalesce: address must be a non-empty string, got %r" % (address,))
    if address.startswith("unix:"):
        if len(address) == 5:
            raise ValueError("pgcoalesce: %r names no socket path" % address)
        return ("unix", address[5:])
    tcp = address.startswith("tcp:")
    rest = address[4:] if tcp else address
    m = _HOSTPORT.match(rest)
    if m and (tcp or "/" not in rest):
        port = int(m.group(3))
        if not 0 < port < 65536:
            raise ValueError("pgcoalesce: port out of range in %r" % address)
        return ("tcp", m.group(1) or m.group(2), port)
    if tcp:
        raise ValueError("pgcoalesce: %r is not tcp:HOST:PORT" % address)
    return ("unix", address)


def format_address(addr):
    return addr[1] if addr[0] == "unix" else "%s:%d" % (addr[1], addr[2])


def _encode_value(v, out):
    """Append the JSON text of one value. Numbers keep their exact digits:
    int as is, Decimal as its own text; NaN and infinities (which JSON has
    no numbers for) go as strings, which PostgreSQL's numeric and float
    input functions read."""
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(_encode_str(v))
    elif isinstance(v, int):
        out.append(int.__repr__(v))
    elif isinstance(v, float):
        out.append(float.__repr__(v) if math.isfinite(v) else
                   '"NaN"' if v != v else '"Infinity"' if v > 0 else '"-Infinity"')
    elif isinstance(v, decimal.Decimal):
        _encode_decimal(v, out)
    elif isinstance(v, dict):
        _encode_object(v, out)
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _encode_value(x, out)
        out.append("]")
    elif isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        out.append(_encode_str(v.isoformat()))
    elif isinstance(v, uuid.UUID):
        out.append(_encode_str(str(v)))
    elif isinstance(v, (bytes, bytearray, memoryview)):
        out.append('"\\\\x%s"' % bytes(v).hex())  # bytea's hex input format
    else:
        raise TypeError("pgcoalesce: cannot send a value of type %s" % type(v).__name__)


def _encode_decimal(v, out):
    if v.is_nan():
        out.append('"NaN"')
    elif v.is_infinite():
        out.append('"-Infinity"' if v < 0 else '"Infinity"')
    else:
        text = str(v)
        if not _JSON_NUMBER.match(text):  # str() of a finite Decimal always is; be sure
            raise TypeError("pgcoalesce: Decimal %s has no JSON number form" % text)
        out.append(text)


def _encode_object(d, out):
    out.append("{")
    first = True
    for k, x in d.items():
        if not isinstance(k, str):
            raise TypeError("pgcoalesce: object keys must be str, got %r" % (k,))
        if not first:
            out.append(",")
        first = False
        out.append(_encode_str(k))
        out.append(":")
        _encode_value(x, out)
    out.append("}")


KEY_MAX_BYTES = 200  # the protocol's longest idempotency key
_CONFLICT_FIELDS = ("columns", "constraint", "do", "set", "add")


class Result:
    """What an insert with `key=` or `on_conflict=` returns:

    row        the RETURNING columns as a dict, or None (no `returning`, a row
               that did nothing, or a duplicate)
    action     "insert", "update" or "none" for an upsert (what the row did:
               inserted, updated the stored row, or nothing); None otherwise
    duplicate  True when the row's key had been written before: the sidecar
               did not write it again
    """
    __slots__ = ("row", "action", "duplicate")

    def __init__(self, row=None, action=None, duplicate=False):
        self.row = row
        self.action = action
        self.duplicate = duplicate

    def __eq__(self, other):
        return isinstance(other, Result) and (self.row, self.action, self.duplicate) == \
            (other.row, other.action, other.duplicate)

    def __repr__(self):
        return "Result(row=%r, action=%r, duplicate=%r)" % (self.row, self.action, self.duplicate)


def _names(value, what, nonempty=True):
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or \
            not all(isinstance(c, str) and c for c in value) or (nonempty and not value):
        raise ValueError("pgcoalesce: on_conflict %s must be a non-empty list of column names" % what)
    return list(value)


def check_on_conflict(oc):
    """The protocol's on_conflict object, checked as the sidecar checks it
    (docs/PROTOCOL.md); ValueError naming the field otherwise."""
    if not isinstance(oc, dict):
        raise ValueError("pgcoalesce: on_conflict must be a dict, e.g. "
                         "{'columns': ['id'], 'do': 'update', 'set': ['seen'], 'add': ['hits']}")
    unknown = [k for k in oc if k not in _CONFLICT_FIELDS]
    if unknown:
        raise ValueError("pgcoalesce: on_conflict has no field %r" % unknown[0])
    if oc.get("do") not in ("nothing", "update"):
        raise ValueError("pgcoalesce: on_conflict do must be 'nothing' or 'update'")
    out = {}
    if "columns" in oc:
        out["columns"] = _names(oc["columns"], "columns")
    if "constraint" in oc:
        if "columns" in oc:
            raise ValueError("pgcoalesce: on_conflict takes columns or constraint, not both")
        if not isinstance(oc["constraint"], str) or not oc["constraint"]:
            raise ValueError("pgcoalesce: on_conflict constraint must be a non-empty name")
        out["constraint"] = oc["constraint"]
    out["do"] = oc["do"]
    updates = [c for f in ("set", "add") if f in oc for c in _names(oc[f], f, nonempty=False)]
    if oc["do"] == "nothing":
        if updates:
            raise ValueError("pgcoalesce: on_conflict set and add need do 'update'")
        return out
    if "columns" not in out and "constraint" not in out:
        raise ValueError("pgcoalesce: on_conflict do 'update' needs columns or a constraint")
    if not updates:
        raise ValueError("pgcoalesce: on_conflict do 'update' needs a column in set or add")
    both = set(oc.get("set", ())) & set(oc.get("add", ()))
    if both:
        raise ValueError("pgcoalesce: on_conflict column %r is in set and add" % sorted(both)[0])
    for f in ("set", "add"):
        if oc.get(f):
            out[f] = list(oc[f])
    return out


def check_key(key):
    """An idempotency key: a str of 1 to 200 bytes of UTF-8, without U+0000."""
    if not isinstance(key, str):
        raise TypeError("pgcoalesce: key must be a str, got %s" % type(key).__name__)
    try:
        n = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        n = 0
    if not 0 < n <= KEY_MAX_BYTES or "\0" in key:
        raise ValueError("pgcoalesce: key must be 1 to %d bytes of UTF-8 text" % KEY_MAX_BYTES)
    return key


def insert_body(table, row, returning=None, schema=None, on_conflict=None, key=None):
    """The fields of an insert request after its id, as JSON text starting
    with a comma. Raises TypeError for a value that cannot be sent, and
    ValueError for a malformed on_conflict or key."""
    if not isinstance(table, str):
        raise TypeError("pgcoalesce: table must be a str")
    if not isinstance(row, dict):
        raise TypeError("pgcoalesce: row must be a dict of column name to value")
    out = [',"table":', _encode_str(table)]
    if schema is not None:
        if not isinstance(schema, str):
            raise TypeError("pgcoalesce: schema must be a str")
        out += [',"schema":', _encode_str(schema)]
    out.append(',"row":')
    _encode_object(row, out)
    if returning is not None:
        if isinstance(returning, str):
            returning = [returning]
        if not all(isinstance(c, str) for c in returning):
            raise TypeError("pgcoalesce: returning must be a list of column names")
        out.append(',"returning":')
        _encode_value(list(returning), out)
    if on_conflict is not None:
        out.append(',"on_conflict":')
        _encode_object(check_on_conflict(on_conflict), out)
    if key is not None:
        out += [',"key":', _encode_str(check_key(key))]
    return "".join(out)


def needed_features(on_conflict=None, key=None):
    """The ping features a sidecar must list for these insert arguments: one
    without them would ignore the fields (a keyed resend written twice)."""
    return tuple(f for f, v in (("on_conflict", on_conflict), ("key", key)) if v is not None)


def op_body(op):
    return ',"op":' + _encode_str(op)


def request_line(request_id, body, max_bytes):
    """The request line (with its newline) as bytes; InvalidRequest (PC003,
    not sent) if it is longer than the sidecar takes: the sidecar would
    answer it with "id": null, which no client can match to its request."""
    line = ('{"id":%d%s}\n' % (request_id, body)).encode("utf-8")
    if len(line) - 1 > max_bytes:
        raise InvalidRequest("request of %d bytes is longer than max_request_bytes (%d): not sent"
                             % (len(line) - 1, max_bytes), code="PC003")
    return line


def decode_response(line, parse_float):
    """A response line (bytes) -> dict. Non-integer numbers go through
    parse_float (Decimal by default: PostgreSQL's exact text)."""
    obj = json.loads(line, parse_float=parse_float)
    if not isinstance(obj, dict):
        raise ValueError("response is not a JSON object: %r" % line[:200])
    return obj


def response_result(op, response):
    """What a request of kind `op` returns for `response`, or the error
    (an exception instance, not raised) it fails with."""
    if response.get("ok") is not True:
        err = response.get("error")
        return from_response(err if isinstance(err, dict) else {"message": repr(response)})
    if op == "insert":
        return response.get("row")
    if op == "insert+":  # with key= or on_conflict=
        return Result(response.get("row"), response.get("action"), response.get("duplicate") is True)
    if op == "features":  # a ping asked for its features
        features = response.get("features")
        return [f for f in features if isinstance(f, str)] if isinstance(features, list) else []
    if op == "ping":
        return response.get("db") == "up"
    if op == "stats":
        return response.get("stats")
    return None


def require_features(address, have, need):
    """FeatureMissing (nothing was sent) unless every feature in `need` is
    among `have`, the features of the sidecar at `address`."""
    missing = [f for f in need if f not in have]
    if missing:
        raise FeatureMissing(
            "the sidecar at %s does not support %s (its ping lists no %s among its features: "
            "it is older than this client): not sent" % (
                format_address(address), " and ".join(missing),
                " or ".join('"%s"' % f for f in missing)), code="feature_missing")
