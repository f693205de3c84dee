"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database per test.

Set GOVMOBILE_TEST_DATABASE_URL to a PostgreSQL URL (a role allowed to CREATE DATABASE) to run
the suite against PostgreSQL; ``./govmobile test`` does this in its second pass.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from govmobile.migrations import upgrade

POSTGRES_URL_ENV = "GOVMOBILE_TEST_DATABASE_URL"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


class DatabaseFactory:
    """Makes migrated, empty databases quickly (PostgreSQL clones a migrated template)."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.admin_url = postgres_admin_url()
        self._template: str | None = None
        self._sqlite_template: Path | None = None

    @property
    def backend(self) -> str:
        return "postgresql" if self.admin_url else "sqlite"

    @contextmanager
    def fresh(self) -> Iterator[str]:
        if self.admin_url is None:
            yield self._fresh_sqlite()
            return
        name = f"gm_test_{secrets.token_hex(6)}"
        with self._admin() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self._postgres_template()}"')
        try:
            yield str(make_url(self.admin_url).set(database=name).render_as_string(hide_password=False))
        finally:
            with self._admin() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.admin_url is not None and self._template is not None:
            with self._admin() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')

    def _fresh_sqlite(self) -> str:
        if self._sqlite_template is None:
            self._sqlite_template = self.tmp_dir / "template.sqlite3"
            upgrade(f"sqlite:///{self._sqlite_template}")
        path = self.tmp_dir / f"{secrets.token_hex(6)}.sqlite3"
        path.write_bytes(self._sqlite_template.read_bytes())
        return f"sqlite:///{path}"

    def _postgres_template(self) -> str:
        if self._template is None:
            name = f"gm_template_{secrets.token_hex(4)}"
            with self._admin() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            assert self.admin_url is not None
            upgrade(make_url(self.admin_url).set(database=name).render_as_string(hide_password=False))
            self._template = name
        return self._template

    @contextmanager
    def _admin(self) -> Iterator[sa.Connection]:
        assert self.admin_url is not None
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()
