"""The database: one engine per process, short transactions, SQLite or PostgreSQL by URL.

No engine is created at import time: a service's ``main`` builds a :class:`Database` from its
settings and hands it to the constructors that need it. The schema belongs to the Alembic
migrations in ``govmobile.migrations``; nothing here creates tables.
"""

from __future__ import annotations

import datetime as dt
import enum
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, String, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

_WRITE = "govmobile_write"
T = TypeVar("T")


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


class EnumText(TypeDecorator[enum.StrEnum]):
    """A string enum stored as its value (``"active"``), read back as the enum member.

    SQLAlchemy's own Enum type stores member *names* and, on some backends, creates a database
    type; plain text keeps raw SQL and other services' readers simple.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[enum.StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: enum.StrEnum | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> enum.StrEnum | None:
        return None if value is None else self.enum_class(value)


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
        self._writer_lock: _WriterLock | None = None
        if self.is_sqlite:
            self._writer_lock = _WriterLock(make_url(url).database)
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
        with self._exclusive(), self.engine.connect() as connection:
            connection.info[_WRITE] = True
            try:
                with connection.begin(), Session(bind=connection, expire_on_commit=False) as session:
                    yield session
                    session.flush()
            finally:
                connection.info[_WRITE] = False

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if self._writer_lock is None:
            yield
        else:
            with self._writer_lock:
                yield

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class _WriterLock:
    """Queue SQLite writers on a kernel lock instead of SQLite's busy handler.

    SQLite's busy handler polls with sleeps of up to 100 ms, which under concurrent writes
    turns milliseconds into seconds. Writers here wait on a thread lock (same process) and an
    ``flock`` on a file beside the database (other processes, other containers sharing the
    volume); both wake the next writer at once. SQLite's own locking still guards correctness.
    """

    def __init__(self, database_path: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = (
            None if not database_path or database_path == ":memory:" else Path(database_path + ".writelock")
        )
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._path is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class GroupCommit:
    """Concurrent writers share one transaction and one commit, so one fsync serves many.

    Each call's work runs in its own savepoint inside the shared transaction: a failure undoes
    that call's writes only and is raised to that caller alone. Whoever holds the commit lock
    runs everything queued so far; the others find their work already committed when they get
    the lock. Work returns only after its commit, so nothing is reported done before it is.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[_QueuedWork[Any]] = []
        self._pending_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def run(self, work: Callable[[Session], T]) -> T:
        entry: _QueuedWork[T] = _QueuedWork(work)
        with self._pending_lock:
            self._pending.append(entry)
        with self._commit_lock:
            if not entry.done:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._commit(batch)
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]

    def _commit(self, batch: list[_QueuedWork[Any]]) -> None:
        try:
            with self.database.transaction() as session:
                for item in batch:
                    try:
                        with session.begin_nested():
                            item.result = item.work(session)
                    except Exception as error:  # noqa: BLE001 - handed to that item's caller
                        item.error = error
        except BaseException as error:
            for item in batch:
                if item.error is None:
                    item.error = error
            if not isinstance(error, Exception):
                raise
        finally:
            for item in batch:
                item.done = True


class _QueuedWork(Generic[T]):
    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


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
