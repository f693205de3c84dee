"""The admin API behind one management address, and admins that log in with passwords.

The CA, the MDM and their shared database come from ``tests/mdm/conftest.py``; they are
imported here so that these tests run against exactly the servers the MDM tests use. The
routes API is the gateway's own: its tests use the real gateway from ``tests/gateway/conftest.py``
(nginx run by the control plane) and its management listener.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from govmobile.ca.hierarchy import CaLayout
from govmobile.core.database import Database
from govmobile_client import GovMobileClient
from tests.client.management import Appliance, management_listener
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import Gateway
from tests.mdm import conftest as mdm
from tests.mdm.conftest import Admin, Department, make_department

# The MDM tests' fixtures, bound here so that pytest offers them to these tests too.
clock = mdm.clock
ca_url = mdm.ca_url
signer = mdm.signer
mdm_app = mdm.mdm_app
mdm_url = mdm.mdm_url
http = mdm.http
platform = mdm.platform
water = mdm.water
device_factory = mdm.device_factory
enrolled = mdm.enrolled
# The gateway tests' fixtures: a real gateway (nginx) in front of the same CA and MDM.
gateway = gateway_fixtures.gateway
gateway_overrides = gateway_fixtures.gateway_overrides
gateway_tls = gateway_fixtures.gateway_tls
management = gateway_fixtures.management
upstream = gateway_fixtures.upstream
mobile = gateway_fixtures.mobile


@pytest.fixture
def appliance(ca_url: str, mdm_url: str, ca_layout: CaLayout, tmp_path: Path) -> Iterator[Appliance]:
    """The management listener (TLS, verified against the test root) in front of CA and MDM."""
    directory = tmp_path / "management"
    directory.mkdir()
    with management_listener(ca_url, mdm_url, ca_layout.root_certificate, directory) as found:
        yield found


@pytest.fixture
def client(appliance: Appliance, platform: Admin) -> Iterator[GovMobileClient]:
    """A client acting as a platform admin (with an API token)."""
    with GovMobileClient(appliance.url, token=platform.token, ca_file=appliance.ca_file) as made:
        yield made


@pytest.fixture
def gateway_appliance(gateway: Gateway) -> Appliance:
    """The real gateway's management listener, where an appliance's admins point the client."""
    return Appliance(gateway.management_url, gateway.tls.root)


@pytest.fixture
def gateway_client(gateway_appliance: Appliance, platform: Admin) -> Iterator[GovMobileClient]:
    """A client acting as a platform admin, through the real gateway's management listener."""
    with GovMobileClient(
        gateway_appliance.url, token=platform.token, ca_file=gateway_appliance.ca_file
    ) as made:
        yield made


@pytest.fixture
def fire(platform: Admin) -> Department:
    """A second department, to show that one tenant's admin cannot reach the other's data."""
    return make_department(platform, "fire")


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def make_login(
    admin: Admin, role: str, tenant_id: str | None = None, *, username: str | None = None
) -> Login:
    """An admin account with a known password, made through the API by ``admin``."""
    login = Login(username or f"{role.replace('_', '-')}-{secrets.token_hex(3)}", secrets.token_urlsafe(18))
    admin.ok(
        "POST",
        "/api/v1/admins",
        json={"username": login.username, "password": login.password, "role": role, "tenant_id": tenant_id},
    )
    return login


@pytest.fixture
def operator(platform: Admin) -> Login:
    """A platform admin who logs in with username and password."""
    return make_login(platform, "platform_admin", username="ops-lead")


def break_audit_chain(database: Database) -> int:
    """Alter an audit event the way only someone with full database rights could; its id."""
    with database.transaction() as session:
        connection = session.connection()
        if database.is_sqlite:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update_delete ON audit_event"))
        target = int(connection.execute(text("SELECT min(id) FROM audit_event")).scalar_one())
        connection.execute(
            text("UPDATE audit_event SET actor = 'admin:mallory' WHERE id = :id"), {"id": target}
        )
    return target
