"""The admin API behind one management address, the typed client on it, and admins that log in
with passwords (a pytest plugin: ``tests/conftest.py``).

The CA and the MDM are the very servers of ``tests/support/ca.py`` and ``tests/support/mdm.py``.
The routes API is the gateway's own: its tests use the real gateway of ``tests/support/gateway.py``
(nginx run by the control plane) and its management listener.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govmobile.ca.hierarchy import CaLayout
from govmobile_client import GovMobileClient
from tests.client.management import Appliance, management_listener
from tests.support.gateway import Gateway
from tests.support.mdm import Admin


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
