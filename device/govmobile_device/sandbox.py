"""Each managed app's own encrypted data space inside the work container (its sandbox).

Layout, in the work container (container.py)::

    container/apps/<package>/     0700, one per managed app
      space.sealed   the app's protection policy and PIN state, sealed with the container's data key
      key.sealed     the app's own key, sealed (wrapped) with the container's data key
      index.sealed   the app's file names, sizes and digests, sealed with the app's key
      blobs/<id>     one file each, sealed with the app's key (bound to the package and the id)

One key per app, wrapped by the container's, so that one app's data can be destroyed alone
(crypto-erase: its key goes first, then its files) when the app is removed, when its PIN
attempts run out or when the device stays offline too long, while a selective wipe, which
destroys the container's key, takes every app's data with it at once. The associated data of
every sealed value names the package, so one app's file cannot be passed off as another's.

The installer (the portal-agent's side of issue 12) calls ``open_space`` when it installs a
managed app and ``remove_space`` when it removes one, and hands over each app's protection
policy from the verified desired-state document (``apply_protection``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govmobile_device.container import APPS_DIRECTORY, FileContainer, StoredFile
from govmobile_device.crypto import DecryptionFailed, new_key, open_sealed, seal
from govmobile_device.errors import StateError, UsageError
from govmobile_device.files import private_directory, read_private, shred, write_atomic
from govmobile_device.protection import AppPolicy, PinState, PolicyInvalid

#: An Android package name (the portal checks the same form); it names a directory, so no dots
#: alone, no slashes, nothing that climbs out.
PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
MAX_PACKAGE = 255
MAX_NAME = 200
MIN_PIN, MAX_PIN = 4, 32
# scrypt (RFC 7914) for the app PIN: a short secret, so the hash must be slow to guess offline.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class ManagedApps(Protocol):
    """What selective wipe needs from the installed-app records (seam 2, the portal-agent's)."""

    def managed_packages(self) -> list[str]:
        """The managed (portal-installed) apps on this device."""

    def remove_managed_app(self, package: str) -> None:
        """Uninstall a managed app and forget its record (its data space is removed separately)."""


class _Pin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    salt: str
    digest: str
    failures: int = 0
    unlocked_at: dt.datetime | None = None


class _Space(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: str
    created_at: dt.datetime
    #: The policy from the desired-state document (its JSON form); None: the protective default.
    policy: dict[str, Any] | None = None
    pin: _Pin | None = None
    data_wiped_at: dt.datetime | None = None


class _Entry(BaseModel):
    blob: str
    size: int
    sha256: str
    stored_at: str


class _Index(BaseModel):
    files: dict[str, _Entry] = Field(default_factory=dict)


@dataclass(frozen=True)
class SpaceInfo:
    package: str
    created_at: dt.datetime
    policy: AppPolicy
    pin: PinState
    files: int
    data_wiped_at: dt.datetime | None


class AppSpaces:
    """The data spaces of the managed apps, in one work container."""

    def __init__(self, container: FileContainer) -> None:
        self.container = container
        self.cipher = container.cipher
        self.directory = container.directory / APPS_DIRECTORY

    # -- life cycle (the installer's seam) -------------------------------------------------------

    def open_space(self, package: str, *, now: dt.datetime) -> bool:
        """Make the app's data space with a new key, unless it has one; True when it was made."""
        directory = self._space_dir(package)
        if (directory / "space.sealed").exists():
            return False
        private_directory(directory)
        self._write_space(_Space(package=package, created_at=now))
        return True

    def remove_space(self, package: str) -> list[str]:
        """Destroy the app's key, then its files and records; the names of the files destroyed."""
        directory = self._space_dir(package)
        if not directory.is_dir():
            return []
        names = self._destroy_data(package)
        shred(directory / "space.sealed")
        _remove_tree(directory)
        return names

    def remove_spaces(self, packages: Iterable[str]) -> list[str]:
        """Selective wipe of managed apps: every named space goes; ``app:<package>`` per space removed."""
        removed = []
        for package in packages:
            if self.has_space(package):
                self.remove_space(package)
                removed.append(f"app:{package}")
        return removed

    def wipe_data(self, package: str, *, now: dt.datetime) -> list[str]:
        """Crypto-erase the app's data and its PIN; the app keeps its space and policy, empty."""
        space = self._space(package)
        names = self._destroy_data(package)
        space.pin = None
        space.data_wiped_at = now
        self._write_space(space)
        return names

    def has_space(self, package: str) -> bool:
        return (self._space_dir(package) / "space.sealed").exists()

    def packages(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            p.name
            for p in self.directory.iterdir()
            if PACKAGE.fullmatch(p.name) and (p / "space.sealed").exists()
        )

    def info(self, package: str) -> SpaceInfo:
        space = self._space(package)
        return SpaceInfo(
            package,
            space.created_at,
            _policy(space),
            _pin_state(space),
            len(self._index(package, self._app_key(package, create=False)).files),
            space.data_wiped_at,
        )

    # -- policy --------------------------------------------------------------------------------

    def apply_protection(self, entries: Iterable[Mapping[str, Any]]) -> list[str]:
        """Store the policy of each app entry of a verified desired-state document whose app has a
        space here; return the packages updated. An entry without a policy gets the default."""
        updated = []
        for entry in entries:
            package = entry.get("package")
            if not isinstance(package, str) or not PACKAGE.fullmatch(package) or not self.has_space(package):
                continue
            document = entry.get("protection")
            if document is not None:
                AppPolicy.from_document(document)  # refused here, not when the app next opens
            space = self._space(package)
            if space.policy != document:
                space.policy = document
                self._write_space(space)
                updated.append(package)
        return updated

    def set_policy(self, package: str, policy: AppPolicy) -> None:
        space = self._space(package)
        space.policy = policy.to_document()
        self._write_space(space)

    def policy(self, package: str) -> AppPolicy | None:
        """The app's policy, or None when the app is not managed (it has no space)."""
        if not self.has_space(package):
            return None
        return _policy(self._space(package))

    # -- PIN -------------------------------------------------------------------------------------

    def pin_state(self, package: str) -> PinState:
        return _pin_state(self._space(package))

    def set_pin(self, package: str, pin: str) -> None:
        """Set the app's PIN (only when none is set: changing one needs the old one to unlock first)."""
        _check_pin(pin)
        space = self._space(package)
        salt = os.urandom(16)
        space.pin = _Pin(salt=salt.hex(), digest=_pin_digest(pin, salt).hex())
        self._write_space(space)

    def pin_matches(self, package: str, pin: str) -> bool:
        space = self._space(package)
        if space.pin is None:
            return False
        return hmac.compare_digest(
            _pin_digest(pin, bytes.fromhex(space.pin.salt)), bytes.fromhex(space.pin.digest)
        )

    def record_pin_attempt(self, package: str, *, correct: bool, now: dt.datetime) -> None:
        space = self._space(package)
        if space.pin is None:
            return
        if correct:
            space.pin.failures, space.pin.unlocked_at = 0, now
        else:
            space.pin.failures, space.pin.unlocked_at = space.pin.failures + 1, None
        self._write_space(space)

    # -- files -----------------------------------------------------------------------------------

    def put(self, package: str, name: str, data: bytes, *, now: dt.datetime) -> StoredFile:
        """Store (or replace) a file in the app's space."""
        _check_name(name)
        self._space(package)  # the app must have a space
        key = self._app_key(package, create=True)
        assert key is not None
        index = self._index(package, key)
        blob = secrets.token_hex(16)
        private_directory(self._space_dir(package) / "blobs")
        write_atomic(self._blob(package, blob), seal(self.cipher, key, data, _blob_aad(package, blob)))
        previous = index.files.get(name)
        stored = StoredFile(name, len(data), hashlib.sha256(data).hexdigest(), now.isoformat())
        index.files[name] = _Entry(
            blob=blob, size=stored.size, sha256=stored.sha256, stored_at=stored.stored_at
        )
        self._write_index(package, key, index)
        if previous is not None:
            shred(self._blob(package, previous.blob))
        return stored

    def get(self, package: str, name: str) -> bytes:
        self._space(package)
        key = self._app_key(package, create=False)
        entry = self._index(package, key).files.get(name)
        if key is None or entry is None:
            raise UsageError(f"no file {name[:80]!r} in {package}'s data space")
        try:
            sealed = read_private(self._blob(package, entry.blob))
            return open_sealed(self.cipher, key, sealed, _blob_aad(package, entry.blob))
        except FileNotFoundError:
            raise StateError(f"{package}'s data space lost the contents of {name[:80]!r}") from None
        except DecryptionFailed:
            raise StateError(f"the contents of {name[:80]!r} in {package}'s data space are damaged") from None

    def list_files(self, package: str) -> list[StoredFile]:
        self._space(package)
        index = self._index(package, self._app_key(package, create=False))
        return [StoredFile(n, e.size, e.sha256, e.stored_at) for n, e in sorted(index.files.items())]

    # -- inside --------------------------------------------------------------------------------

    def _space_dir(self, package: str) -> Path:
        if len(package) > MAX_PACKAGE or not PACKAGE.fullmatch(package):
            raise UsageError(f"{package[:80]!r} is not an Android package name (like gov.water.inspect)")
        return self.directory / package

    def _space(self, package: str) -> _Space:
        path = self._space_dir(package) / "space.sealed"
        try:
            sealed = read_private(path)
        except FileNotFoundError:
            raise UsageError(
                f"{package} is not a managed app on this device (it has no data space)"
            ) from None
        try:
            plain = open_sealed(self.cipher, self.container.data_key(), sealed, _space_aad(package))
            return _Space.model_validate_json(plain)
        except (DecryptionFailed, ValidationError):
            raise StateError(
                f"{package}'s data space does not open with the work container's key (damaged, or left from "
                "before a wipe); remove the app and install it again"
            ) from None

    def _write_space(self, space: _Space) -> None:
        body = space.model_dump_json().encode()
        sealed = seal(self.cipher, self.container.data_key(), body, _space_aad(space.package))
        write_atomic(self._space_dir(space.package) / "space.sealed", sealed)

    def _app_key(self, package: str, *, create: bool) -> bytes | None:
        path = self._space_dir(package) / "key.sealed"
        aad = f"app-key:{package}".encode()
        try:
            sealed = read_private(path)
        except FileNotFoundError:
            if not create:
                return None
            key = new_key(self.cipher)
            write_atomic(path, seal(self.cipher, self.container.data_key(), key, aad))
            return key
        try:
            return open_sealed(self.cipher, self.container.data_key(), sealed, aad)
        except DecryptionFailed:
            raise StateError(f"{package}'s key does not open with the work container's key") from None

    def _index(self, package: str, key: bytes | None) -> _Index:
        if key is None:
            return _Index()
        try:
            sealed = read_private(self._space_dir(package) / "index.sealed")
        except FileNotFoundError:
            return _Index()
        try:
            return _Index.model_validate_json(
                open_sealed(self.cipher, key, sealed, f"index:{package}".encode())
            )
        except (DecryptionFailed, ValidationError):
            raise StateError(f"{package}'s file index is damaged or does not match its key") from None

    def _write_index(self, package: str, key: bytes, index: _Index) -> None:
        body = index.model_dump_json().encode()
        write_atomic(
            self._space_dir(package) / "index.sealed",
            seal(self.cipher, key, body, f"index:{package}".encode()),
        )

    def _blob(self, package: str, blob: str) -> Path:
        return self._space_dir(package) / "blobs" / blob

    def _destroy_data(self, package: str) -> list[str]:
        """The key first (from then on nothing of the app's data opens), then the index and files."""
        directory = self._space_dir(package)
        try:
            names = sorted(self._index(package, self._app_key(package, create=False)).files)
        except StateError:
            names = []  # already unreadable: destroying it is all that is left to do
        shred(directory / "key.sealed")
        shred(directory / "index.sealed")
        blobs = directory / "blobs"
        if blobs.is_dir():
            for path in blobs.iterdir():
                shred(path)
            blobs.rmdir()
        return names


def _policy(space: _Space) -> AppPolicy:
    if space.policy is None:
        return AppPolicy()
    try:
        return AppPolicy.from_document(space.policy)
    except PolicyInvalid:
        return AppPolicy()  # never weaker than asked: the default is the protective one


def _pin_state(space: _Space) -> PinState:
    if space.pin is None:
        return PinState()
    return PinState(True, space.pin.failures, space.pin.unlocked_at)


def _pin_digest(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)


def _check_pin(pin: str) -> None:
    if not (MIN_PIN <= len(pin) <= MAX_PIN and pin.isascii() and pin.isprintable()):
        raise UsageError(f"an app PIN needs {MIN_PIN}-{MAX_PIN} printable ASCII characters")


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise UsageError(f"a file name needs 1-{MAX_NAME} printable characters (got {name[:40]!r})")


def _space_aad(package: str) -> bytes:
    return f"app-space:{package}".encode()


def _blob_aad(package: str, blob: str) -> bytes:
    return f"app-blob:{package}:{blob}".encode()


def _remove_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_symlink():
            path.unlink()
        elif path.is_file():
            shred(path)
        else:
            path.rmdir()
    directory.rmdir()


def describe(spaces: AppSpaces) -> list[dict[str, Any]]:
    """The spaces as JSON for ``app list --json``."""
    listing = []
    for package in spaces.packages():
        info = spaces.info(package)
        listing.append(
            {
                "package": package,
                "files": info.files,
                "policy": info.policy.to_document(),
                "pin_set": info.pin.is_set,
                "pin_failures": info.pin.failures,
                "data_wiped_at": info.data_wiped_at.isoformat() if info.data_wiped_at else None,
            }
        )
    return listing
