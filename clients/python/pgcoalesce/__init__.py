"""pgcoalesce: Python client of the pgcoalesce sidecar (standard library only).

    from pgcoalesce import Client
    with Client() as c:      # $PGCOALESCE_SOCKET, else /tmp/pgcoalesce.sock
        c.insert("events", {"device_id": 7, "kind": "click"})

Client is blocking (and thread-safe), AsyncClient is for asyncio; both
pipeline requests on one connection. Errors: see pgcoalesce.errors.
"""
from ._wire import DEFAULT_SOCKET, Result, parse_address
from .aio import AsyncClient
from .client import Client
from .errors import (ClientClosed, CommitUnknown, ConnectFailed, ConnectionLost, FeatureMissing,
                     InvalidRequest, Overloaded, PgcoalesceError, RequestTimeout, RowError,
                     ShuttingDown, TableNotAllowed, Unavailable)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "Client", "ClientClosed", "CommitUnknown", "ConnectFailed", "ConnectionLost",
    "DEFAULT_SOCKET", "FeatureMissing", "InvalidRequest", "Overloaded", "PgcoalesceError",
    "RequestTimeout", "Result", "RowError", "ShuttingDown", "TableNotAllowed", "Unavailable",
    "parse_address",
]
