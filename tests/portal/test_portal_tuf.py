"""A device's TUF client (python-tuf's ``ngclient``) against the running portal, through nginx,
with the headers the gateway adds: what the portal publishes installs; a package the device is
not offered, a replayed older timestamp and an expired one are refused on the device."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tuf.api.exceptions import BadVersionNumberError, DownloadHTTPError, ExpiredMetadataError
from tuf.ngclient import FetcherInterface, Updater  # type: ignore[attr-defined]

from tests.portal.test_portal_api import assign, published
from tests.support.apks import ApkFactory, AppSpec
from tests.support.ca import Clock
from tests.support.mdm import Admin, Department
from tests.support.portal import INTERNAL_PREFIX, PortalDevice, PortalKeyFiles
from tests.support.static_files import in_front_of_portal


class GatewayFetcher(FetcherInterface):
    """Fetches as a device behind the gateway: every request carries the gateway's headers."""

    made: list[GatewayFetcher] = []

    def __init__(self, headers: dict[str, str]) -> None:
        self.client = httpx.Client(headers=headers, timeout=30)
        GatewayFetcher.made.append(self)

    def _fetch(self, url: str) -> Iterator[bytes]:
        response = self.client.get(url)
        if response.status_code != 200:
            raise DownloadHTTPError(response.text, response.status_code)
        return iter([response.content])


@pytest.fixture(autouse=True)
def fetchers() -> Iterator[list[GatewayFetcher]]:
    yield GatewayFetcher.made
    while GatewayFetcher.made:
        GatewayFetcher.made.pop().client.close()


@pytest.fixture
def front(portal_url: str, portal_data: Path) -> Iterator[str]:
    with in_front_of_portal(portal_url, portal_data / "repository", INTERNAL_PREFIX) as url:
        yield url


def updater(device: PortalDevice, front: str, home: Path, root: bytes) -> Updater:
    for name in ("metadata", "targets"):
        (home / name).mkdir(parents=True, exist_ok=True)
    return Updater(
        metadata_dir=str(home / "metadata"),
        metadata_base_url=f"{front}/portal/v1/metadata/",
        target_dir=str(home / "targets"),
        target_base_url=f"{front}/portal/v1/targets/",
        fetcher=GatewayFetcher(device.device.identity()),
        bootstrap=root,
    )


def test_a_published_and_assigned_package_installs_and_an_unassigned_one_is_refused(
    apks: ApkFactory,
    water_admin: Admin,
    water: Department,
    portal_device_factory: Any,
    front: str,
    portal_key_files: PortalKeyFiles,
    tmp_path: Path,
) -> None:
    offered = published(water_admin, apks.build(AppSpec()))
    other = published(water_admin, apks.build(AppSpec(package="cn.gov.example.other")))
    assign(water_admin, offered["app_id"], "department", water.tenant_id)
    device = portal_device_factory(water)
    client = updater(device, front, tmp_path / "device", portal_key_files.root_file.read_bytes())
    client.refresh()
    info = client.get_targetinfo("apps/cn.gov.example.inspect/1.apk")
    assert info is not None
    path = client.download_target(info)
    assert Path(path).read_bytes() == apks.build(AppSpec()).read_bytes()
    # Listed (it is published), but not offered to this device: the portal does not authorise it.
    listed = client.get_targetinfo("apps/cn.gov.example.other/1.apk")
    assert listed is not None
    assert listed.hashes["sha256"] == other["sha256"]
    with pytest.raises(DownloadHTTPError) as refused:
        client.download_target(listed)
    assert refused.value.status_code == 404


def test_a_replayed_older_timestamp_is_refused_as_a_rollback(
    apks: ApkFactory,
    water_admin: Admin,
    water: Department,
    portal_device_factory: Any,
    front: str,
    portal_key_files: PortalKeyFiles,
    portal_data: Path,
    tmp_path: Path,
) -> None:
    device = portal_device_factory(water)
    timestamp = portal_data / "repository" / "metadata" / "timestamp.json"
    old = timestamp.read_bytes()
    published(water_admin, apks.build(AppSpec()))  # signs a newer timestamp
    client = updater(device, front, tmp_path / "device", portal_key_files.root_file.read_bytes())
    client.refresh()
    timestamp.write_bytes(old)  # a mirror or a man in the middle serves the older catalogue
    again = updater(device, front, tmp_path / "device", portal_key_files.root_file.read_bytes())
    with pytest.raises(BadVersionNumberError):
        again.refresh()


def test_an_expired_timestamp_is_refused_as_a_freeze(
    apks: ApkFactory,
    water_admin: Admin,
    water: Department,
    portal_device_factory: Any,
    front: str,
    portal_key_files: PortalKeyFiles,
    clock: Clock,
    tmp_path: Path,
) -> None:
    device = portal_device_factory(water)
    # The portal's clock runs two days behind: what it signs now expired yesterday for the device.
    clock.advance(-dt.timedelta(days=2))
    published(water_admin, apks.build(AppSpec()))
    client = updater(device, front, tmp_path / "device", portal_key_files.root_file.read_bytes())
    with pytest.raises(ExpiredMetadataError):
        client.refresh()
