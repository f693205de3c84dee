"""The app portal on loopback beside the MDM, sharing one real database: its offline root and
online keys made as the controller makes them, admins of two departments, and devices enrolled
through the MDM that call the portal with the gateway's proof (a pytest plugin: ``tests/conftest.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from govmobile.ca.hierarchy import CaLayout
from govmobile.core.accounts import Role
from govmobile.core.database import Database
from govmobile.portal.app import create_app as create_portal
from govmobile.portal.settings import PortalSettings
from govmobile.portal.trust import KEY_FILES
from govmobile.portal.trust_root import generate_key, key_to_pem, make_root
from tests.client.management import Appliance, management_listener
from tests.support.admins import make_admin
from tests.support.apks import ApkFactory, make_signing_key, missing_tools
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice
from tests.support.mdm import GATEWAY_SECRET, Admin, Department, new_token
from tests.support.servers import serving

INTERNAL_PREFIX = "/_portal_files"


@dataclass(frozen=True)
class PortalKeyFiles:
    """What the controller hands the portal: root metadata and the online keys (never the root key)."""

    directory: Path
    root_file: Path


@pytest.fixture(scope="session")
def portal_key_files(tmp_path_factory: pytest.TempPathFactory) -> PortalKeyFiles:
    directory = tmp_path_factory.mktemp("portal-keys")
    online = {role: generate_key() for role in KEY_FILES}
    root = make_root(
        [generate_key()],
        {role: online[role].public_key for role in ("targets", "snapshot", "timestamp")},
        now=dt.datetime.now(dt.UTC),
    )
    for role, name in KEY_FILES.items():
        (directory / name).write_bytes(key_to_pem(online[role]))
    root_file = directory / "root.json"
    root_file.write_bytes(root.to_bytes())
    return PortalKeyFiles(directory, root_file)


def portal_settings(
    database_url: str, keys: PortalKeyFiles, data_dir: Path, **overrides: Any
) -> PortalSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "gateway_secret": GATEWAY_SECRET,
        "data_dir": data_dir,
        "root_file": keys.root_file,
        "keys_dir": keys.directory,
        "max_package_bytes": 8 << 20,
        "internal_files_prefix": INTERNAL_PREFIX,
        "refresh_interval_seconds": 3600,
    }
    values.update(overrides)
    return PortalSettings(**values)


@pytest.fixture
def portal_data(tmp_path: Path) -> Path:
    return tmp_path / "portal"


@pytest.fixture
def portal_app(
    database: Database, database_url: str, clock: Clock, portal_key_files: PortalKeyFiles, portal_data: Path
) -> Any:
    return create_portal(
        portal_settings(database_url, portal_key_files, portal_data), database=database, clock=clock
    )


@pytest.fixture
def portal_url(portal_app: Any) -> Iterator[str]:
    with serving(portal_app) as url:
        yield url


@pytest.fixture
def portal_http(portal_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=portal_url, timeout=60) as client:
        yield client


def portal_admin(portal_http: httpx.Client, database: Database, department: Department, name: str) -> Admin:
    """A department admin of ``department``, on the portal."""
    return Admin(portal_http, make_admin(database, Role.TENANT_ADMIN, department.tenant_id, username=name))


@pytest.fixture
def water_admin(portal_http: httpx.Client, database: Database, water: Department) -> Admin:
    return portal_admin(portal_http, database, water, "water-admin")


@pytest.fixture
def water_reviewer(portal_http: httpx.Client, database: Database, water: Department) -> Admin:
    """A second admin of the water department, for reviews that need one."""
    return portal_admin(portal_http, database, water, "water-reviewer")


@pytest.fixture
def fire_admin(portal_http: httpx.Client, database: Database, fire: Department) -> Admin:
    return portal_admin(portal_http, database, fire, "fire-admin")


@pytest.fixture
def portal_appliance(
    ca_url: str, mdm_url: str, portal_url: str, ca_layout: CaLayout, tmp_path: Path
) -> Iterator[Appliance]:
    """The management listener in front of CA, MDM and the portal: where ``govmobile-admin app``
    sends its requests."""
    directory = tmp_path / "management"
    directory.mkdir()
    with management_listener(
        ca_url, mdm_url, ca_layout.root_certificate, directory, portal_url=portal_url
    ) as found:
        yield found


@dataclass
class PortalDevice:
    """An enrolled device calling the portal with the headers the gateway adds."""

    device: ScriptedDevice
    http: httpx.Client

    @property
    def id(self) -> str:
        return self.device.device_id

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.device.identity(), **kwargs.pop("headers", {})}
        return self.http.get(path, headers=headers, **kwargs)

    def desired_state(self, device_id: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.get(f"/portal/v1/devices/{device_id or self.id}/desired-state", **kwargs)


@pytest.fixture
def portal_device_factory(platform: Admin, device_factory: Any, portal_http: httpx.Client) -> Any:
    def make(department: Department, person_id: str | None = None) -> PortalDevice:
        device: ScriptedDevice = device_factory()
        extra = {"person_id": person_id} if person_id else {}
        response = device.enroll(new_token(platform, department, **extra))
        assert response.status_code == 200, response.text
        return PortalDevice(device, portal_http)

    return make


@pytest.fixture(scope="session")
def apks(tmp_path_factory: pytest.TempPathFactory) -> ApkFactory:
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"the portal's tests build real APKs and need {', '.join(missing)} (scripts/unit-tests installs them)"
        )
    keys = tmp_path_factory.mktemp("signing-keys")
    return ApkFactory(
        tmp_path_factory.mktemp("apks"),
        make_signing_key(keys, "publisher"),
        make_signing_key(keys, "impostor"),
    )
