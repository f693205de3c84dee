"""The work container: government files, encrypted, and erasable in one step (crypto-erase).

Layout, under the state directory::

    container/               0700
      data-key.sealed        the data key, sealed with the keystore entry "container"
      index.sealed           file names, sizes and digests, sealed with the data key
      blobs/<random id>      one file each, sealed with the data key (bound to its id)

Three keys deep on purpose: the files are encrypted with a random data key; the data key is
wrapped by a key the device holds in its keystore. A selective wipe destroys that keystore key
and the wrapped data key first, then the files: from the first step on, nothing of the
container can be decrypted, even from a copy of its files or of the wrapped key taken earlier.
File names are sealed too, because they say what government work the device was doing.
Personal data lives outside the container and is never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypedDict

from govmobile_device.crypto import DecryptionFailed, new_key, open_sealed, seal
from govmobile_device.errors import StateError, UsageError
from govmobile_device.files import private_directory, read_private, shred, write_atomic
from govmobile_device.keystore import Keystore

KEYSTORE_ENTRY = "container"
#: The managed apps' data spaces, inside the container (sandbox.py).
APPS_DIRECTORY = "apps"
MAX_NAME = 200


class WorkContainer(Protocol):
    def erase(self) -> list[str]:
        """Destroy the data key and every file; return the names of the files destroyed."""


class _Entry(TypedDict):
    blob: str
    size: int
    sha256: str
    stored_at: str


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str
    stored_at: str


class FileContainer:
    def __init__(self, directory: Path, keystore: Keystore) -> None:
        self.directory = directory
        self.keystore = keystore
        self.cipher = keystore.cipher

    # -- files -------------------------------------------------------------------------------

    def put(self, name: str, data: bytes, *, now: dt.datetime) -> StoredFile:
        """Store (or replace) a government file."""
        _check_name(name)
        key = self._data_key(create=True)
        assert key is not None
        index = self._index(key)
        blob = secrets.token_hex(16)
        private_directory(self.directory / "blobs")
        write_atomic(self._blob_path(blob), seal(self.cipher, key, data, f"blob:{blob}".encode()))
        previous = index.get(name)
        stored = StoredFile(name, len(data), hashlib.sha256(data).hexdigest(), now.isoformat())
        index[name] = {
            "blob": blob,
            "size": stored.size,
            "sha256": stored.sha256,
            "stored_at": stored.stored_at,
        }
        self._write_index(key, index)
        if previous is not None:
            shred(self._blob_path(previous["blob"]))
        return stored

    def get(self, name: str) -> bytes:
        key = self._data_key(create=False)
        if key is None:
            raise UsageError(f"no file {name!r} in the work container (it is empty)")
        entry = self._index(key).get(name)
        if entry is None:
            raise UsageError(f"no file {name!r} in the work container")
        blob = entry["blob"]
        try:
            sealed = read_private(self._blob_path(blob))
            return open_sealed(self.cipher, key, sealed, f"blob:{blob}".encode())
        except FileNotFoundError:
            raise StateError(f"the work container lost the contents of {name!r}") from None
        except DecryptionFailed:
            raise StateError(f"the contents of {name!r} in the work container are damaged") from None

    def list_files(self) -> list[StoredFile]:
        key = self._data_key(create=False)
        if key is None:
            return []
        return [
            StoredFile(name, e["size"], e["sha256"], e["stored_at"])
            for name, e in sorted(self._index(key).items())
        ]

    def erase(self) -> list[str]:
        """Crypto-erase: destroy the wrapping key and the data key, then the files.

        The managed apps' data spaces (``sandbox.py``, under ``apps/``) go too: their keys are
        wrapped by the data key destroyed here, and their files are shredded after it."""
        try:
            key = self._data_key(create=False)
            names = sorted(self._index(key)) if key is not None else []
        except StateError:
            names = []  # already unreadable: destroying it is all that is left to do
        self.keystore.destroy_entry(KEYSTORE_ENTRY)
        shred(self.directory / "data-key.sealed")
        shred(self.directory / "index.sealed")
        blobs = self.directory / "blobs"
        if blobs.is_dir():
            for path in blobs.iterdir():
                shred(path)
        apps = self.directory / APPS_DIRECTORY
        if apps.is_dir():
            for path in sorted(apps.rglob("*"), reverse=True):
                if path.is_symlink():
                    path.unlink()
                elif path.is_file():
                    shred(path)
                else:
                    path.rmdir()
            apps.rmdir()
        return names

    def data_key(self) -> bytes:
        """The container's data key (made with the container when there is none yet): it wraps
        each managed app's own key (``sandbox.py``)."""
        key = self._data_key(create=True)
        assert key is not None
        return key

    # -- keys and index ------------------------------------------------------------------------

    def _data_key(self, *, create: bool) -> bytes | None:
        path = self.directory / "data-key.sealed"
        wrapping = self.keystore.entry(KEYSTORE_ENTRY)
        try:
            sealed = read_private(path)
        except FileNotFoundError:
            if not create:
                return None
            # A new container: a new wrapping key in the keystore and a new data key.
            private_directory(self.directory)
            wrapping = self.keystore.create_entry(KEYSTORE_ENTRY)
            key = new_key(self.cipher)
            write_atomic(path, seal(self.cipher, wrapping, key, b"container-data-key"))
            self._write_index(key, {})
            return key
        if wrapping is None:
            raise StateError(
                "the work container's key was destroyed (selective wipe); its data cannot be read any more"
            )
        try:
            return open_sealed(self.cipher, wrapping, sealed, b"container-data-key")
        except DecryptionFailed:
            raise StateError(
                "the work container's data key does not open with this device's key: it was destroyed "
                "or replaced, and the data it protected cannot be read"
            ) from None

    def _index(self, key: bytes) -> dict[str, _Entry]:
        try:
            sealed = read_private(self.directory / "index.sealed")
        except FileNotFoundError:
            return {}
        try:
            files: dict[str, _Entry] = json.loads(open_sealed(self.cipher, key, sealed, b"index"))["files"]
        except (DecryptionFailed, ValueError, KeyError, TypeError):
            raise StateError("the work container's index is damaged or does not match its key") from None
        return files

    def _write_index(self, key: bytes, index: dict[str, _Entry]) -> None:
        body = json.dumps({"files": index}, sort_keys=True).encode()
        write_atomic(self.directory / "index.sealed", seal(self.cipher, key, body, b"index"))

    def _blob_path(self, blob: str) -> Path:
        return self.directory / "blobs" / blob


class EmptyContainer:
    """A container with nothing in it (the fleet simulator's devices)."""

    def erase(self) -> list[str]:
        return []


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise UsageError(
            f"a work-container file name needs 1-{MAX_NAME} printable characters (got {name[:40]!r})"
        )
