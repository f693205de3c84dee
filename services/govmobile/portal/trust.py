"""The portal's TUF repository on its volume, changed by one writer at a time.

``repository.TufRepository`` is the domain; this keeps it on disk for a service that may run
several worker processes: every change loads the newest metadata under an exclusive file lock,
applies itself and writes the next versions, so two workers publishing at once cannot both sign
version N+1 of targets. Reads (devices fetching metadata) are files nginx or the portal serves
and need no lock: every metadata version is written under its own name and ``timestamp.json``
is replaced atomically, last.
"""

from __future__ import annotations

import datetime as dt
import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root

from govmobile.core.errors import ConfigurationError
from govmobile.portal.desired_state import KEY_TARGET, public_key_document
from govmobile.portal.repository import DirectoryStore, OnlineSigners, TufRepository
from govmobile.portal.trust_root import key_from_pem

KEY_FILES = {
    "targets": "targets.pem",
    "snapshot": "snapshot.pem",
    "timestamp": "timestamp.pem",
    "desired_state": "desired-state.pem",
}


@dataclass(frozen=True)
class PortalKeys:
    """The online keys the controller made for the portal (the root keys never come here)."""

    online: OnlineSigners
    desired_state: CryptoSigner

    @classmethod
    def load(cls, directory: Path) -> PortalKeys:
        def key(role: str) -> CryptoSigner:
            path = directory / KEY_FILES[role]
            try:
                return key_from_pem(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"the portal's {role} key cannot be read from {path}: {exc}"
                ) from exc

        return cls(OnlineSigners(key("targets"), key("snapshot"), key("timestamp")), key("desired_state"))


class RepositoryKeeper:
    """The repository in ``directory``, created from the controller's root on first start."""

    def __init__(
        self, directory: Path, keys: PortalKeys, clock: Callable[[], dt.datetime], *, root_file: Path
    ) -> None:
        self.directory = directory
        self.store = DirectoryStore(directory)
        self.keys = keys
        self.clock = clock
        self.root_file = root_file
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_path = directory / ".lock"

    @contextmanager
    def changing(self) -> Iterator[TufRepository]:
        """The newest repository, for one change; the next change waits until this one is written."""
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self._load_or_create()

    def refresh(self) -> list[str]:
        """Re-sign the online roles past half their lifetime (the background job)."""
        with self.changing() as repository:
            return repository.refresh()

    def metadata_file(self, name: str) -> Path | None:
        """A metadata file a device may fetch (``timestamp.json``, ``3.snapshot.json``, ``2.root.json``...)."""
        path = self.store.metadata_dir / name
        if "/" in name or name.startswith(".") or not name.endswith(".json") or not path.is_file():
            return None
        return path

    def _load_or_create(self) -> TufRepository:
        if self.store.read_metadata("timestamp.json") is not None:
            repository = TufRepository.load(self.store, self.keys.online, self.clock)
            self._follow_the_controller(repository)
            return repository
        try:
            root = Metadata[Root].from_bytes(self.root_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"the portal's repository is new and its root metadata cannot be read from {self.root_file}: {exc}"
            ) from exc
        try:
            repository = TufRepository.create(self.store, root, self.keys.online, self.clock)
        except ValueError as exc:
            raise ConfigurationError(f"the portal's online keys do not match its root: {exc}") from exc
        # Devices learn the desired-state key through TUF, so its trust comes from the offline root.
        repository.add_target_bytes(KEY_TARGET, public_key_document(self.keys.desired_state.public_key))
        return repository

    def _follow_the_controller(self, repository: TufRepository) -> None:
        """Take the roots the controller signed since (``N.root.json`` beside ``root_file``), in
        order: a redeploy past the root's half-life renews it, and devices walk the same chain."""
        version = repository.root.signed.version + 1
        while (path := self.root_file.parent / f"{version}.root.json").is_file():
            try:
                repository.update_root(Metadata[Root].from_bytes(path.read_bytes()))
            except (ValueError, RepositoryError) as exc:  # unreadable, unsigned, signed by other keys
                raise ConfigurationError(f"the controller's root {path} cannot be taken: {exc}") from exc
            version += 1
