"""The portal's TUF repository: what exists, signed online, re-signed before it expires.

The root (``trust_root``) is signed offline on the controller and names one online key for each
of the other three roles, which the portal holds:

- **targets** lists every file a device may download — each release's APK, with its length,
  SHA-256 and custom facts (package, version, signers) — and is signed again whenever a release is
  published or retired;
- **snapshot** pins the version of targets, so that an attacker cannot mix old and new metadata;
- **timestamp** pins the snapshot and expires soonest (a day): a device that is fed a *frozen*
  repository notices within that day.

Consistent snapshots are on: every metadata version and every file is written under a name that
says its version or hash (``3.targets.json``, ``<sha256>.<version>.apk``), so nginx can serve them
as immutable files, a device never reads a half-updated repository, and what a device downloads
is never overwritten. Only ``timestamp.json`` is rewritten in place (atomically).

``refresh(now)`` is the job that keeps devices working: it re-signs every online role that is
past half its lifetime, and the snapshot and timestamp above it. The store is an interface; the
files go to a directory (the portal's volume) through ``DirectoryStore``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from govmobile.core.files import write_atomically
from govmobile.portal.manifest import check_package_id

#: How long each online role's signature is valid for, and when it is re-signed.
LIFETIMES = {
    "targets": dt.timedelta(days=7),
    "snapshot": dt.timedelta(days=7),
    "timestamp": dt.timedelta(days=1),
}
_SERIALIZER = JSONSerializer(compact=True)


class MetadataStore(Protocol):
    """Where metadata and target files go (a directory nginx serves, in production)."""

    def write_metadata(self, name: str, data: bytes) -> None: ...
    def read_metadata(self, name: str) -> bytes | None: ...
    def write_target(self, name: str, data: bytes) -> None: ...


class DirectoryStore:
    """``metadata/`` and ``targets/`` under one directory; every write is atomic."""

    def __init__(self, directory: Path) -> None:
        self.metadata_dir = directory / "metadata"
        self.targets_dir = directory / "targets"

    def write_metadata(self, name: str, data: bytes) -> None:
        write_atomically(self.metadata_dir / name, data)

    def read_metadata(self, name: str) -> bytes | None:
        path = self.metadata_dir / name
        return path.read_bytes() if path.is_file() else None

    def write_target(self, name: str, data: bytes) -> None:
        write_atomically(self.targets_dir / name, data)

    def target_file(self, name: str) -> Path:
        """Where a target named ``name`` (hash-prefixed) is kept: the service moves APKs here."""
        return self.targets_dir / name


def package_target_path(package: str, version_code: int) -> str:
    """A release's path in the repository: ``apps/<package>/<version code>.apk``."""
    return f"apps/{check_package_id(package)}/{int(version_code)}.apk"


def stored_target_name(target_path: str, sha256: str) -> str:
    """Where a consistent-snapshot client fetches a target: its hash before its file name."""
    directory, _, filename = target_path.rpartition("/")
    return f"{directory}/{sha256}.{filename}" if directory else f"{sha256}.{filename}"


@dataclass(frozen=True)
class OnlineSigners:
    targets: Signer
    snapshot: Signer
    timestamp: Signer

    def for_role(self, role: str) -> Signer:
        signer: Signer = getattr(self, role)
        return signer


class TufRepository:
    """The online half of the repository: targets, snapshot and timestamp, kept signed."""

    def __init__(
        self,
        store: MetadataStore,
        root: Metadata[Root],
        signers: OnlineSigners,
        clock: Callable[[], dt.datetime],
        *,
        targets: Metadata[Targets] | None = None,
        snapshot: Metadata[Snapshot] | None = None,
        timestamp: Metadata[Timestamp] | None = None,
    ) -> None:
        self._store = store
        self._signers = signers
        self._clock = clock
        self.root = root
        _check_signers(root, signers)
        # Unsigned version-1 metadata until the first _sign (which keeps version 1).
        self.targets = targets or Metadata(Targets())
        self.snapshot = snapshot or Metadata(Snapshot())
        self.timestamp = timestamp or Metadata(Timestamp())

    @classmethod
    def create(
        cls,
        store: MetadataStore,
        root: Metadata[Root],
        signers: OnlineSigners,
        clock: Callable[[], dt.datetime],
    ) -> TufRepository:
        """A new, empty repository: the controller's root and the first online metadata."""
        repository = cls(store, root, signers, clock)
        repository._write_root(root)
        repository._sign_targets()
        return repository

    @classmethod
    def load(
        cls, store: MetadataStore, signers: OnlineSigners, clock: Callable[[], dt.datetime]
    ) -> TufRepository:
        """The repository as the store has it (the newest root, timestamp, snapshot and targets)."""
        root = Metadata[Root].from_bytes(_required(store.read_metadata("root.json"), "root.json"))
        timestamp = Metadata[Timestamp].from_bytes(
            _required(store.read_metadata("timestamp.json"), "timestamp.json")
        )
        snapshot_name = f"{timestamp.signed.snapshot_meta.version}.snapshot.json"
        snapshot = Metadata[Snapshot].from_bytes(_required(store.read_metadata(snapshot_name), snapshot_name))
        targets_name = f"{snapshot.signed.meta['targets.json'].version}.targets.json"
        targets = Metadata[Targets].from_bytes(_required(store.read_metadata(targets_name), targets_name))
        return cls(store, root, signers, clock, targets=targets, snapshot=snapshot, timestamp=timestamp)

    # --- What exists ---------------------------------------------------------------------------

    def add_target(
        self, path: str, length: int, sha256: str, custom: Mapping[str, Any] | None = None
    ) -> TargetFile:
        """List a file (already stored under ``stored_target_name``) and sign the change."""
        target = TargetFile(
            length, {"sha256": sha256}, path, unrecognized_fields={"custom": dict(custom or {})}
        )
        self.targets.signed.targets[path] = target
        self._sign_targets()
        return target

    def add_target_bytes(self, path: str, data: bytes, custom: Mapping[str, Any] | None = None) -> TargetFile:
        """Store a small file (a public key, an icon) as a target and list it."""
        sha256 = hashlib.sha256(data).hexdigest()
        self._store.write_target(stored_target_name(path, sha256), data)
        return self.add_target(path, len(data), sha256, custom)

    def remove_target(self, path: str) -> None:
        """Stop listing a file (a retired release): devices will refuse it from now on."""
        if self.targets.signed.targets.pop(path, None) is not None:
            self._sign_targets()

    def listed(self, path: str) -> TargetFile | None:
        return self.targets.signed.targets.get(path)

    # --- Staying signed ------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Re-sign the roles past half their lifetime (and those above them); say which were."""
        now = self._clock()
        due = [role for role in ("targets", "snapshot", "timestamp") if self._past_half_life(role, now)]
        if "targets" in due:
            self._sign_targets()
            return ["targets", "snapshot", "timestamp"]
        if "snapshot" in due:
            self._sign_snapshot()
            return ["snapshot", "timestamp"]
        if "timestamp" in due:
            self._sign_timestamp()
            return ["timestamp"]
        return []

    def update_root(self, new_root: Metadata[Root], signers: OnlineSigners | None = None) -> None:
        """Take a root signed on the controller (renewed or rotating keys); re-sign with new online keys."""
        if new_root.signed.version != self.root.signed.version + 1:
            raise ValueError(f"the next root must be version {self.root.signed.version + 1}")
        self.root.verify_delegate("root", new_root)
        new_root.verify_delegate("root", new_root)
        signers = signers or self._signers
        _check_signers(new_root, signers)
        self._write_root(new_root)
        self._signers = signers
        self._sign_targets()

    def due_at(self) -> dt.datetime:
        """When ``refresh`` next has something to do: for the job that schedules it."""
        roles: dict[str, Metadata[Any]] = {
            "targets": self.targets,
            "snapshot": self.snapshot,
            "timestamp": self.timestamp,
        }
        due: dt.datetime = min(roles[role].signed.expires - LIFETIMES[role] / 2 for role in LIFETIMES)
        return due

    def _past_half_life(self, role: str, now: dt.datetime) -> bool:
        metadata: Metadata[Any] = getattr(self, role)
        return bool(metadata.signed.expires - now <= LIFETIMES[role] / 2)

    def _write_root(self, root: Metadata[Root]) -> None:
        data = root.to_bytes(_SERIALIZER)
        self._store.write_metadata(f"{root.signed.version}.root.json", data)
        self._store.write_metadata("root.json", data)
        self.root = root

    def _sign(self, metadata: Metadata[Any], role: str) -> bytes:
        now = self._clock()
        if metadata.signatures:
            metadata.signed.version += 1
        metadata.signed.expires = (now + LIFETIMES[role]).astimezone(dt.UTC).replace(microsecond=0)
        metadata.sign(self._signers.for_role(role), append=False)
        return metadata.to_bytes(_SERIALIZER)

    def _sign_targets(self) -> None:
        data = self._sign(self.targets, "targets")
        self._store.write_metadata(f"{self.targets.signed.version}.targets.json", data)
        self._sign_snapshot()

    def _sign_snapshot(self) -> None:
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=self.targets.signed.version)
        data = self._sign(self.snapshot, "snapshot")
        self._store.write_metadata(f"{self.snapshot.signed.version}.snapshot.json", data)
        self._sign_timestamp()

    def _sign_timestamp(self) -> None:
        self.timestamp.signed.snapshot_meta = MetaFile(version=self.snapshot.signed.version)
        # Written last: until it lands, devices keep seeing the previous, complete repository.
        self._store.write_metadata("timestamp.json", self._sign(self.timestamp, "timestamp"))


def _check_signers(root: Metadata[Root], signers: OnlineSigners) -> None:
    for role in ("targets", "snapshot", "timestamp"):
        if signers.for_role(role).public_key.keyid not in root.signed.roles[role].keyids:
            raise ValueError(f"the {role} key given is not the one the root names for {role}")


def _required(data: bytes | None, name: str) -> bytes:
    if data is None:
        raise FileNotFoundError(f"the repository has no {name}")
    return data
