"""Fixtures shared by every test: real databases and a test CA's keys, here; the servers on
loopback (CA, MDM, the real gateway, the management listener) and the scripted device, in the
plugins under ``tests/support/``. A suite's own conftest.py adds only what is its alone (the device
agent's tests replace the servers with package-wide ones and a gateway stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from govmobile.ca.hierarchy import CaLayout
from govmobile.core.database import Database
from tests.support.databases import DatabaseFactory
from tests.support.pki import make_ca

pytest_plugins = [
    "tests.support.ca",
    "tests.support.mdm",
    "tests.support.gateway",
    "tests.support.client",
    "tests.support.portal",
]


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.close()


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> Iterator[str]:
    """A freshly migrated, empty database (SQLite file, or PostgreSQL when configured)."""
    with database_factory.fresh() as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def ca_layout(tmp_path_factory: pytest.TempPathFactory) -> CaLayout:
    """A root and issuing CA made once per test session."""
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def constrained_ca_layout(tmp_path_factory: pytest.TempPathFactory) -> CaLayout:
    """An issuing CA whose name constraints permit only govmobile.internal and localhost."""
    return make_ca(tmp_path_factory.mktemp("ca-constrained"), permit_dns=("govmobile.internal", "localhost"))


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path
