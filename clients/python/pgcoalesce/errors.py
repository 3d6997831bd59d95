"""Typed errors: one class per kind of answer (docs/PROTOCOL.md "Responses").

Every error the client raises is a PgcoalesceError. Its `not_written`
attribute is the one thing to look at before resending a row:

    True   the row is certainly not in the database (a PostgreSQL error, a
           refused request, overload, shutdown, database unavailable, or a
           request that was never sent): a resend cannot store it twice
    False  the row may or may not be in the database (PC007 commit unknown,
           the connection lost with the request in flight, a request that
           timed out after it was sent): a resend may store it twice, unless
           it was sent with an idempotency key (insert's key=): resent with
           the same key, it is written at most once
"""


class PgcoalesceError(Exception):
    """Base class. `code` is the SQLSTATE, the PC code, or for errors raised
    by the client itself a lower-case name ("connection_lost", ...);
    `detail`, `hint`, `column` and `constraint` are PostgreSQL's fields when
    it sent them, else None."""

    not_written = False  # unknown codes: assume the worst

    def __init__(self, message, code=None, detail=None, hint=None, column=None,
                 constraint=None, not_written=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
        self.hint = hint
        self.column = column
        self.constraint = constraint
        if not_written is not None:
            self.not_written = not_written

    def __str__(self):
        text = "%s: %s" % (self.code, self.message) if self.code else self.message
        if self.detail:
            text += " (%s)" % self.detail
        return text


class RowError(PgcoalesceError):
    """PostgreSQL refused the row (any SQLSTATE): it is not in the database."""

    not_written = True

    @property
    def sqlstate(self):
        return self.code


class InvalidRequest(PgcoalesceError):
    """PC001, PC002, PC003, PC009: the request itself was refused (also raised
    before sending, as PC003, for a line over max_request_bytes)."""

    not_written = True


class TableNotAllowed(PgcoalesceError):
    """PC008: the table is outside the sidecar's --allow-table list."""

    not_written = True


class Overloaded(PgcoalesceError):
    """PC004: --overload reject and the sidecar's pending-row limit reached."""

    not_written = True


class ShuttingDown(PgcoalesceError):
    """PC005: the sidecar is stopping; the row was not written."""

    not_written = True


class Unavailable(PgcoalesceError):
    """PC006: the database stayed unreachable for --retry-timeout-ms."""

    not_written = True


class CommitUnknown(PgcoalesceError):
    """PC007: the sidecar lost its database connection during COMMIT and
    could not find out: the row may or may not be in the database."""

    not_written = False


class ConnectionLost(PgcoalesceError):
    """Client side: the connection to the sidecar dropped (or the sidecar
    died) while this request was in flight. For an insert the row may or may
    not be written: the sidecar writes rows it accepted even when the client
    is gone, and a sidecar that was killed may have committed it."""

    not_written = False


class ConnectFailed(PgcoalesceError):
    """Client side: no connection to the sidecar within connect_timeout.
    Nothing was sent."""

    not_written = True


class RequestTimeout(PgcoalesceError):
    """Client side: no answer within the request's timeout. `not_written` is
    True when the request was never sent (it waited for a connection or for
    room under max_in_flight), False once it was sent: its row may still be
    written, and its late answer is dropped."""


class FeatureMissing(PgcoalesceError):
    """Client side: the insert uses an extension of the protocol (key=,
    on_conflict=) that the sidecar does not list in its ping's features.
    A sidecar without it would ignore the field (a keyed row resent would be
    written twice), so nothing was sent."""

    not_written = True


class ClientClosed(PgcoalesceError):
    """Client side: close() was called; nothing was sent."""

    not_written = True


# PC codes -> class; every other code is PostgreSQL's SQLSTATE (RowError).
_PC_CLASSES = {
    "PC001": InvalidRequest,
    "PC002": InvalidRequest,
    "PC003": InvalidRequest,
    "PC009": InvalidRequest,
    "PC004": Overloaded,
    "PC005": ShuttingDown,
    "PC006": Unavailable,
    "PC007": CommitUnknown,
    "PC008": TableNotAllowed,
}


def from_response(error):
    """The exception for a response's "error" object. A PC code this client
    does not know (a newer sidecar) is a plain PgcoalesceError, in doubt."""
    code = error.get("code")
    if not isinstance(code, str):
        code = None
    if code in _PC_CLASSES:
        cls = _PC_CLASSES[code]
    elif code is not None and not code.startswith("PC"):
        cls = RowError
    else:
        cls = PgcoalesceError
    return cls(str(error.get("message", "")), code=code, detail=error.get("detail"),
               hint=error.get("hint"), column=error.get("column"),
               constraint=error.get("constraint"))
