"""Opening the state database and migrating it to the newest schema (alembic)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ioc.domain import RetryLater

metadata = MetaData()


class StateError(RetryLater):
    """The state database failed; the message says which and why."""


MIGRATIONS = Path(__file__).parent / "migrations"

T = TypeVar("T")


def run_in(engine: Engine, what: str, work: Callable[[Connection], T], write: bool = True) -> T:
    """Run `work` in a transaction (or a plain connection to read); SQL errors as StateError."""
    try:
        if write:
            with engine.begin() as connection:
                return work(connection)
        with engine.connect() as connection:
            return work(connection)
    except SQLAlchemyError as exc:
        raise StateError(f"cannot {what}: {exc}") from exc


def connect_state(url: str) -> Engine:
    """An engine for the URL, migrated to the newest schema; SQLite files get their folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, pool_pre_ping=True)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise StateError(f"cannot open the state database {parsed!r}: {exc}") from exc
    return engine


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic narrates each step at INFO; ioc's own log has no use for it.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as connection:
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
