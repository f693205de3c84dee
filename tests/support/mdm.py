"""An MDM on loopback beside the CA, sharing one real database; admins and departments to drive it,
and scripted devices that speak to it straight with the gateway's proof (a pytest plugin:
``tests/conftest.py``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from govmobile.mdm.app import create_app as create_mdm
from govmobile.mdm.settings import MdmSettings
from govmobile.mdm.signer import HttpCertificateSigner
from tests.support.admins import make_admin
from tests.support.ca import MDM_SECRET, Clock
from tests.support.devices import ScriptedDevice, StraightToMdm
from tests.support.servers import serving

GATEWAY_SECRET = "gateway-proof-0123456789abcdef"


@pytest.fixture
def signer(ca_url: str) -> Iterator[HttpCertificateSigner]:
    client = HttpCertificateSigner(ca_url, ra_name="mdm", ra_secret=MDM_SECRET)
    yield client
    client.close()


def mdm_settings(database_url: str, **overrides: Any) -> MdmSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "ca_ra_secret": MDM_SECRET,
        "gateway_secret": GATEWAY_SECRET,
        "public_url": "https://gm.water.example",
        "wakeup_poll_seconds": 0.05,
        "maintenance_interval_seconds": 3600,
    }
    values.update(overrides)
    return MdmSettings(**values)


@pytest.fixture
def mdm_app(
    database: Database, database_url: str, signer: HttpCertificateSigner, clock: Clock, portal_key_files: Any
) -> Any:
    # The appliance has a portal: enrolled devices receive its TUF root in their enrollment profile.
    settings = mdm_settings(database_url, portal_root_file=portal_key_files.root_file)
    return create_mdm(settings, database=database, signer=signer, clock=clock)


@pytest.fixture
def mdm_url(mdm_app: Any) -> Iterator[str]:
    with serving(mdm_app) as url:
        yield url


@pytest.fixture
def http(mdm_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mdm_url, timeout=30) as client:
        yield client


@dataclass
class Admin:
    """An admin's view of the API: a bearer token on the same client."""

    client: httpx.Client
    token: str

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.token}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self(method, path, **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


@pytest.fixture
def platform(http: httpx.Client, database: Database) -> Admin:
    return Admin(http, make_admin(database, Role.PLATFORM_ADMIN, username="root-admin"))


@dataclass
class Department:
    tenant_id: str
    person_id: str
    group_id: str


def make_department(admin: Admin, slug: str, *, max_devices: int | None = None) -> Department:
    tenant = admin.ok(
        "POST", "/api/v1/tenants", json={"slug": slug, "name": slug.title(), "max_devices": max_devices}
    )
    person = admin.ok(
        "POST",
        "/api/v1/people",
        json={"tenant_id": tenant["id"], "username": f"{slug}-inspector", "display_name": "Field Inspector"},
    )
    group = admin.ok("POST", "/api/v1/groups", json={"tenant_id": tenant["id"], "name": "field-staff"})
    return Department(tenant["id"], person["id"], group["id"])


@pytest.fixture
def water(platform: Admin) -> Department:
    return make_department(platform, "water")


@pytest.fixture
def fire(platform: Admin) -> Department:
    """A second department, to show that one tenant's admin cannot reach the other's data."""
    return make_department(platform, "fire")


def new_token(admin: Admin, department: Department, **extra: Any) -> str:
    body = {"tenant_id": department.tenant_id, "person_id": department.person_id, **extra}
    return str(admin.ok("POST", "/api/v1/enrollment-tokens", json=body)["token"])


@pytest.fixture
def device_factory(http: httpx.Client) -> Any:
    def make(serial: str | None = None) -> ScriptedDevice:
        return ScriptedDevice(
            StraightToMdm(http, GATEWAY_SECRET), serial or f"SN{secrets.token_hex(4).upper()}"
        )

    return make


@pytest.fixture
def enrolled(platform: Admin, water: Department, device_factory: Any) -> ScriptedDevice:
    device: ScriptedDevice = device_factory()
    response = device.enroll(new_token(platform, water))
    assert response.status_code == 200, response.text
    return device
