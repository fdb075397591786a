"""Which database errors are the database being away or busy, rather than a bug.

* **Unavailable**: the connection was lost or refused (PostgreSQL down, restarting, not
  accepting connections, our backend terminated), the pool had no connection to give in
  time, or SQLite stayed locked past its busy timeout. The request could not be served now
  but will be once the database is back: the web edge answers 503, workers wait.
* **Transient**: unavailable, or PostgreSQL aborted the transaction to resolve a conflict
  (serialization failure, deadlock). Doing the work again later succeeds.

Anything else (a constraint violated, SQL that is wrong) is a real failure.
"""

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL SQLSTATEs. Class 08 is "connection exception"; 57P01..57P03: the server is shutting
# down, crashed, or is starting up (and our backend was terminated with 57P01 as well).
_CONNECTION_LOST = ("57P01", "57P02", "57P03")
_CONFLICT = ("40001", "40P01")
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, (DisconnectionError, PoolTimeout)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    cause = error.orig
    sqlite_name = getattr(cause, "sqlite_errorname", None)
    if sqlite_name is not None:
        return sqlite_name.startswith(_SQLITE_BUSY)
    if not hasattr(cause, "sqlstate"):
        return False
    # psycopg raises errors without a SQLSTATE when no server answered: refused, reset, closed.
    sqlstate = cause.sqlstate
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _CONNECTION_LOST


def is_transient(error: BaseException) -> bool:
    if is_unavailable(error):
        return True
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _CONFLICT
