"""The TUF repository against python-tuf's own client, over HTTP from the files on disk.

The client is ``tuf.ngclient.Updater`` with its default (urllib3) fetcher, bootstrapped with the
root a device gets at enrollment, reading what nginx serves from the repository's directory. Each
attack is played by changing those files, as a compromised mirror or a man in the middle would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tuf.api.exceptions import (
    BadVersionNumberError,
    ExpiredMetadataError,
    LengthOrHashMismatchError,
    UnsignedMetadataError,
)
from tuf.api.metadata import Metadata, Root, Targets
from tuf.ngclient import Updater

from govmobile.portal.errors import InvalidPackageId
from govmobile.portal.repository import (
    LIFETIMES,
    DirectoryStore,
    OnlineSigners,
    TufRepository,
    package_target_path,
    stored_target_name,
)
from govmobile.portal.trust_root import generate_key, key_from_pem, key_to_pem, make_root, next_root
from tests.support.apks import ApkFactory, AppSpec
from tests.support.static_files import serve_directory


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Portal:
    """A repository on disk, served by nginx, and what a device got at enrollment."""

    repository: TufRepository
    store: DirectoryStore
    clock: Clock
    url: str
    root_signer: object
    enrolled_root: bytes

    def publish_file(self, path: str, source: Path, custom: dict[str, object] | None = None) -> str:
        data = source.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        destination = self.store.target_file(stored_target_name(path, sha256))
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        self.repository.add_target(path, len(data), sha256, custom)
        return sha256

    def device(self, home: Path) -> Updater:
        """A device's TUF client; its cache in ``home`` persists across calls, as on a tablet."""
        (home / "metadata").mkdir(parents=True, exist_ok=True)
        (home / "targets").mkdir(parents=True, exist_ok=True)
        return Updater(
            metadata_dir=str(home / "metadata"),
            metadata_base_url=f"{self.url}/metadata/",
            target_dir=str(home / "targets"),
            target_base_url=f"{self.url}/targets/",
            bootstrap=self.enrolled_root,
        )


def online_signers() -> OnlineSigners:
    return OnlineSigners(generate_key(), generate_key(), generate_key())


def online_keys(signers: OnlineSigners) -> dict[str, object]:
    return {role: signers.for_role(role).public_key for role in ("targets", "snapshot", "timestamp")}


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    clock = Clock()
    root_key = generate_key()
    signers = online_signers()
    root = make_root([root_key], online_keys(signers), now=clock())  # type: ignore[arg-type]
    store = DirectoryStore(tmp_path / "repository")
    repository = TufRepository.create(store, root, signers, clock)
    with serve_directory(tmp_path / "repository") as url:
        yield Portal(
            repository, store, clock, url, root_key, (store.metadata_dir / "1.root.json").read_bytes()
        )


APP_PATH = package_target_path("cn.gov.example.inspect", 1)


def test_a_device_downloads_a_listed_package_and_sees_its_facts(
    portal: Portal, apks: ApkFactory, tmp_path: Path
) -> None:
    apk = apks.build()
    sha256 = portal.publish_file(APP_PATH, apk, {"package": "cn.gov.example.inspect", "version_code": 1})
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    info = device.get_targetinfo(APP_PATH)
    assert info is not None
    assert (info.length, info.hashes, info.custom) == (
        apk.stat().st_size, {"sha256": sha256}, {"package": "cn.gov.example.inspect", "version_code": 1},
    )  # fmt: skip
    downloaded = Path(device.download_target(info))
    assert downloaded.read_bytes() == apk.read_bytes()


def test_a_tampered_package_is_refused(portal: Portal, apks: ApkFactory, tmp_path: Path) -> None:
    sha256 = portal.publish_file(APP_PATH, apks.build())
    served = portal.store.target_file(stored_target_name(APP_PATH, sha256))
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0x01
    served.write_bytes(bytes(data))
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    info = device.get_targetinfo(APP_PATH)
    assert info is not None
    with pytest.raises(LengthOrHashMismatchError, match="hash"):
        device.download_target(info)
    assert list((tmp_path / "tablet" / "targets").iterdir()) == []


def test_a_package_the_metadata_does_not_list_is_refused(
    portal: Portal, apks: ApkFactory, tmp_path: Path
) -> None:
    # The file is on the server, under the name a listed one would have, but unlisted.
    apk = apks.build()
    unlisted = portal.store.target_file(
        stored_target_name(APP_PATH, hashlib.sha256(apk.read_bytes()).hexdigest())
    )
    unlisted.parent.mkdir(parents=True)
    shutil.copyfile(apk, unlisted)
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is None


def test_a_retired_package_is_unlisted_from_then_on(portal: Portal, apks: ApkFactory, tmp_path: Path) -> None:
    portal.publish_file(APP_PATH, apks.build())
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is not None
    portal.repository.remove_target(APP_PATH)
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is None


def test_a_replayed_older_catalogue_is_refused_as_a_rollback(
    portal: Portal, apks: ApkFactory, tmp_path: Path
) -> None:
    old_timestamp = (portal.store.metadata_dir / "timestamp.json").read_bytes()
    portal.publish_file(APP_PATH, apks.build())
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is not None
    # A mirror replays the earlier (validly signed, unexpired) timestamp without the package.
    (portal.store.metadata_dir / "timestamp.json").write_bytes(old_timestamp)
    device = portal.device(tmp_path / "tablet")
    with pytest.raises(BadVersionNumberError, match="must be >= 2"):
        device.refresh()


def test_a_frozen_repository_is_refused_once_its_timestamp_expires(
    portal: Portal, apks: ApkFactory, tmp_path: Path
) -> None:
    # Signed two days ago and never refreshed since: the one-day timestamp has expired.
    portal.clock.now -= dt.timedelta(days=2)
    portal.publish_file(APP_PATH, apks.build())
    device = portal.device(tmp_path / "tablet")
    with pytest.raises(ExpiredMetadataError, match=r"timestamp\.json is expired"):
        device.refresh()
    # The re-signing job brings it back (only the timestamp was due: the others last a week).
    portal.clock.now = dt.datetime.now(dt.UTC)
    assert portal.repository.refresh() == ["timestamp"]
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is not None


def test_metadata_signed_by_a_key_the_root_does_not_name_is_refused(portal: Portal, tmp_path: Path) -> None:
    """An attacker on the portal host without the online targets key cannot list a package."""
    attacker = generate_key()
    current = portal.repository.targets
    forged = Metadata(Targets(version=current.signed.version + 1, expires=current.signed.expires))
    forged.signed.targets = dict(current.signed.targets)
    forged.sign(attacker)
    # Snapshot and timestamp, signed with the real keys, point at the forgery: only targets is wrong.
    portal.store.write_metadata(f"{forged.signed.version}.targets.json", forged.to_bytes())
    portal.repository.targets = forged
    portal.repository._sign_snapshot()
    device = portal.device(tmp_path / "tablet")
    with pytest.raises(UnsignedMetadataError, match="targets"):
        device.refresh()


def test_the_online_roles_are_resigned_before_they_expire(portal: Portal) -> None:
    repository = portal.repository
    start = portal.clock.now
    assert repository.refresh() == []
    assert repository.due_at() == repository.timestamp.signed.expires - LIFETIMES["timestamp"] / 2
    portal.clock.now = start + dt.timedelta(hours=13)
    versions = (repository.targets.signed.version, repository.snapshot.signed.version)
    assert repository.refresh() == ["timestamp"]
    assert (repository.targets.signed.version, repository.snapshot.signed.version) == versions
    assert repository.timestamp.signed.expires > portal.clock.now + dt.timedelta(hours=23)
    portal.clock.now = start + dt.timedelta(days=4)
    assert repository.refresh() == ["targets", "snapshot", "timestamp"]
    assert repository.targets.signed.expires > portal.clock.now + dt.timedelta(days=6)


def test_the_repository_loads_back_from_its_files(portal: Portal, apks: ApkFactory) -> None:
    portal.publish_file(APP_PATH, apks.build())
    repository = portal.repository
    loaded = TufRepository.load(portal.store, repository._signers, portal.clock)
    assert loaded.listed(APP_PATH) == repository.listed(APP_PATH)
    assert (loaded.timestamp.signed.version, loaded.root.signed.version) == (
        repository.timestamp.signed.version, 1,
    )  # fmt: skip


def test_online_keys_rotate_through_a_new_root_that_devices_follow(
    portal: Portal, apks: ApkFactory, tmp_path: Path
) -> None:
    device_home = tmp_path / "tablet"
    portal.device(device_home).refresh()
    new_signers = online_signers()
    new_root = next_root(
        portal.repository.root,
        [portal.root_signer],  # type: ignore[list-item]
        [portal.root_signer],  # type: ignore[list-item]
        online_keys(new_signers),  # type: ignore[arg-type]
        now=portal.clock(),
    )
    portal.repository.update_root(new_root, new_signers)
    portal.publish_file(APP_PATH, apks.build())
    device = portal.device(device_home)  # still bootstrapped with root version 1
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is not None
    assert (
        Metadata[Root].from_bytes((device_home / "metadata" / "root.json").read_bytes()).signed.version == 2
    )


def test_a_root_not_signed_by_the_old_root_keys_is_refused(portal: Portal) -> None:
    impostor = generate_key()
    with pytest.raises(UnsignedMetadataError):
        next_root(
            portal.repository.root,
            [impostor],
            [impostor],
            online_keys(online_signers()),  # type: ignore[arg-type]
            now=portal.clock(),
        )


def test_root_keys_are_kept_encrypted_and_load_back() -> None:
    key = generate_key()
    pem = key_to_pem(key, b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert key_from_pem(pem, b"correct horse").public_key.keyid == key.public_key.keyid
    for attempt in range(300):  # a wrong passphrase is refused the same way, whatever it decrypts to
        with pytest.raises(ValueError, match="wrong passphrase"):
            key_from_pem(pem, f"wrong {attempt}".encode())


def test_the_root_refuses_to_share_keys_between_root_and_online_roles() -> None:
    key = generate_key()
    with pytest.raises(ValueError, match="never be an online key"):
        make_root(
            [key],
            {"targets": key.public_key, "snapshot": key.public_key, "timestamp": key.public_key},
            now=dt.datetime.now(dt.UTC),
        )


def test_package_paths_carry_no_traversal() -> None:
    assert package_target_path("cn.gov.app", 12) == "apps/cn.gov.app/12.apk"
    assert stored_target_name("apps/cn.gov.app/12.apk", "ab" * 32) == f"apps/cn.gov.app/{'ab' * 32}.12.apk"
    with pytest.raises(InvalidPackageId, match="Android package name"):
        package_target_path("../../etc", 1)


@pytest.mark.parametrize("spec", [AppSpec(version_code=2)], ids=["second-release"])
def test_two_releases_are_listed_side_by_side(
    portal: Portal, apks: ApkFactory, tmp_path: Path, spec: AppSpec
) -> None:
    portal.publish_file(APP_PATH, apks.build())
    second = package_target_path(spec.package, spec.version_code)
    portal.publish_file(second, apks.build(spec))
    device = portal.device(tmp_path / "tablet")
    device.refresh()
    assert device.get_targetinfo(APP_PATH) is not None
    assert device.get_targetinfo(second) is not None
