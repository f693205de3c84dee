"""The CA on loopback: its settings, a clock tests move, the registration authorities' secrets, and
the CA served over HTTP on the test database (a pytest plugin: ``tests/conftest.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from govmobile.ca.app import build_authority, create_app
from govmobile.ca.authority import Authority
from govmobile.ca.hierarchy import CaLayout
from govmobile.ca.settings import CAServiceSettings
from govmobile.core.database import Database
from tests.support.servers import serving

MDM_SECRET = "mdm-ra-secret-0123456789abcdef"
DEPLOY_SECRET = "deploy-ra-secret-0123456789abcdef"


class Clock:
    """A clock tests can move."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ca_settings(layout: CaLayout, database_url: str, **overrides: object) -> CAServiceSettings:
    values: dict[str, object] = {
        "ca_dir": layout.directory,
        "database_url": database_url,
        "ra_secrets": {"mdm": MDM_SECRET, "deploy": DEPLOY_SECRET},
        "public_base_url": "http://gateway.test",
    }
    values.update(overrides)
    return CAServiceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def authority(ca_layout: CaLayout, database: Database, database_url: str, clock: Clock) -> Authority:
    return build_authority(ca_settings(ca_layout, database_url), database, clock)


@pytest.fixture
def ca_url(ca_layout: CaLayout, database: Database, database_url: str, clock: Clock) -> Iterator[str]:
    app = create_app(ca_settings(ca_layout, database_url), database=database, clock=clock)
    with serving(app) as url:
        yield url


@pytest.fixture
def ca_http(ca_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ca_url, timeout=30) as client:
        yield client


@pytest.fixture
def mdm_auth() -> tuple[str, str]:
    return ("mdm", MDM_SECRET)


@pytest.fixture
def deploy_auth() -> tuple[str, str]:
    return ("deploy", DEPLOY_SECRET)
