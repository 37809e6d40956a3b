"""Opening the state database and migrating it to the newest schema (alembic)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ioc.domain import DeliveryError, NeedsOperator, RetryLater

metadata = MetaData()

_Row = dict[str, Any]


class StateError(DeliveryError):
    """The state database failed; the subclass says whether trying again can help."""


class StateUnavailable(StateError, RetryLater):
    """The database is away, busy or dropped the connection: the same work may succeed later."""


class StateRefused(StateError, NeedsOperator):
    """The database refused the work itself (an integrity, data or programming error): the same
    work will fail again, so it is reported for an operator, never retried forever."""


MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x10C_0001  # the advisory lock that serialises migrations

T = TypeVar("T")


Guard = Callable[[Connection], None]  # raises, inside the transaction, to refuse it


def run_in(
    engine: Engine,
    what: str,
    work: Callable[[Connection], T],
    write: bool = True,
    guard: Guard | None = None,
) -> T:
    """Run `work` in a transaction (or a plain connection to read), after `guard` in the same
    transaction when one is given; SQL errors as StateError."""
    try:
        if write:
            with engine.begin() as connection:
                if guard is not None:
                    guard(connection)
                return work(connection)
        with engine.connect() as connection:
            return work(connection)
    except SQLAlchemyError as exc:
        raise state_error(f"cannot {what}", exc) from exc


# Connection-level: the server went away, a pool ran dry, SQLite was locked past its timeout.
_TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
# SQLite reports a bad statement as an OperationalError too; its result codes tell the kinds
# apart: busy, locked, I/O error, full, cannot open, lock protocol (the rest are mistakes).
_SQLITE_TRANSIENT = {5, 6, 10, 13, 14, 15}


ROWS_PER_STATEMENT = 1000  # well under PostgreSQL's 65,535 parameters a statement


def in_statements(rows: Sequence[_Row]) -> Iterator[Sequence[_Row]]:
    """Rows to write, a statement's worth at a time (`insert(...).values(chunk)`), for the
    leader's fenced writes: never one execute with a list of rows. psycopg sends that as a
    pipeline, and until its Sync the server waits for the rest ('active', reading from the
    client), where its idle-in-transaction limit does not apply: a leader frozen there would
    hold the lease row its fence locked for ever, and no other node could take over."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        yield rows[start : start + ROWS_PER_STATEMENT]


def state_error(what: str, exc: SQLAlchemyError) -> StateError:
    """SQLAlchemy's error as ours, by cause: connection-level failures may be retried."""
    connection_lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    transient = isinstance(exc, _TRANSIENT)
    sqlite_code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    if transient and sqlite_code is not None:
        transient = sqlite_code & 0xFF in _SQLITE_TRANSIENT  # the primary code of an extended one
    kind = StateUnavailable if transient or connection_lost else StateRefused
    return kind(f"{what}: {_driver_message(exc)}")


def _driver_message(exc: SQLAlchemyError) -> str:
    """What the database said, first line only: SQLAlchemy's own text adds the statement and
    its parameters (a password's hash, a session's, a dead letter's payload), which must not
    reach a log line or an API answer. The traceback keeps the whole error as the cause."""
    said = str(getattr(exc, "orig", None) or exc).strip()
    return said.splitlines()[0] if said else type(exc).__name__


def connect_state(url: str, idle_in_transaction_ms: int | None = None) -> Engine:
    """An engine for the URL, migrated to the newest schema; SQLite files get their folder.

    On PostgreSQL, `idle_in_transaction_ms` has the server end a session that sits inside a
    transaction that long: a node frozen mid-write (SIGSTOP, a stalled VM) would otherwise hold
    the lease row its fence locked, and no other node could ever take over.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql" and idle_in_transaction_ms is not None:
        timeout = f"-c idle_in_transaction_session_timeout={idle_in_transaction_ms}"
        options["connect_args"] = {"options": timeout}
    try:
        engine = create_engine(url, pool_pre_ping=True, **options)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise state_error(f"cannot open the state database {parsed!r}", exc) from exc
    return engine


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Nodes of a cluster start together: one migrates, the others wait for it and
            # then find nothing to do (PostgreSQL's DDL is transactional).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL with NORMAL sync survives a crash of ioc (not of the machine) and commits without
    # an fsync each: a storm of alerts is thousands of small transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
