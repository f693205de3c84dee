"""The database: one engine per process, short transactions, SQLite or PostgreSQL by URL.

No engine is created at import time: a service's ``main`` builds a :class:`Database` from its
settings and hands it to the constructors that need it. The schema belongs to the Alembic
migrations in ``govmobile.migrations``; nothing here creates tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

_WRITE = "govmobile_write"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the way out keeps
    comparisons correct on both backends.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class Database:
    """An engine plus the two ways to use it: a read session and a write transaction."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, durable: bool = True) -> None:
        """``durable=False`` lets SQLite skip an fsync per commit (survives a process crash,
        not a power cut); PostgreSQL keeps its own setting."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
            )
            synchronous = "FULL" if durable else "NORMAL"
            event.listen(
                self.engine,
                "connect",
                lambda dbapi_connection, record: _sqlite_on_connect(dbapi_connection, synchronous),
            )
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; it never commits. Objects stay readable after the block."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        On SQLite the transaction takes the write lock at its start (``BEGIN IMMEDIATE``) so
        that two writers queue on ``busy_timeout`` instead of failing to upgrade a read lock.
        """
        with self.engine.connect() as connection:
            connection.info[_WRITE] = True
            try:
                with connection.begin(), Session(bind=connection, expire_on_commit=False) as session:
                    yield session
                    session.flush()
            finally:
                connection.info[_WRITE] = False

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_on_connect(dbapi_connection: DBAPIConnection, synchronous: str) -> None:
    # Take transaction control away from the sqlite3 module so that the "begin" hook decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get(_WRITE) else "BEGIN")
