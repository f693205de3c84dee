"""The portal's TUF root as the controller keeps it between deploys.

``trust_root`` knows how to make and sign roots; this keeps them in a directory of the
controller's secrets, so that every deploy can run it and only the first one, or one past the
root's half-life, changes anything (Ansible's idempotence):

    root-key.pem              the offline root key, PKCS#8 encrypted under the passphrase
    online/targets.pem        the online keys the portal signs with (unencrypted, mode 0600:
    online/snapshot.pem       the portal's container reads them at start)
    online/timestamp.pem
    online/desired-state.pem
    roots/1.root.json ...     every root version: a device that slept through a renewal walks
                              the chain, each version signed by the keys of the one before
    root.json                 the newest, the one devices get at enrollment

Renewing needs the root key's passphrase; a deploy before half-life never asks for it, so the
passphrase may live off the controller most of the year (as the CA root key's does).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Key
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root

from govmobile.core.files import write_atomically
from govmobile.portal.trust import KEY_FILES
from govmobile.portal.trust_root import (
    ONLINE_ROLES,
    ROOT_LIFETIME,
    generate_key,
    key_from_pem,
    key_to_pem,
    make_root,
    next_root,
)

ROOT_KEY_FILE = "root-key.pem"
ONLINE_DIR = "online"
ROOTS_DIR = "roots"
NEWEST_ROOT = "root.json"
_VERSIONED_ROOT = re.compile(r"^([1-9][0-9]{0,8})\.root\.json$")


class RootChange(enum.StrEnum):
    MADE = "made"
    RENEWED = "renewed"
    KEPT = "kept"


@dataclass(frozen=True)
class RootState:
    change: RootChange
    version: int
    expires: dt.datetime


class RootKeepingError(ValueError):
    """The directory cannot be used as it is; the message says what to do."""


def keep_root(directory: Path, passphrase: bytes | None, *, now: dt.datetime) -> RootState:
    """Make the root on first use, renew it past half its lifetime, otherwise change nothing."""
    newest = directory / NEWEST_ROOT
    if not newest.exists():
        if (directory / ROOT_KEY_FILE).exists():
            raise RootKeepingError(
                f"{directory / ROOT_KEY_FILE} exists without the root it signed ({newest})"
            )
        return _make(directory, _required(passphrase, "make the portal's root"), now)
    root = _read_root(newest)
    if now < root.signed.expires - ROOT_LIFETIME / 2:
        # The key is not needed (it may be off the controller, or left out of the backup restored here).
        return RootState(RootChange.KEPT, root.signed.version, root.signed.expires)
    if not (directory / ROOT_KEY_FILE).exists():
        # Never a new root in its place: enrolled devices trust only what the old root's key signs.
        raise RootKeepingError(
            f"the portal's root (version {root.signed.version}) is due for renewal but its key"
            f" {directory / ROOT_KEY_FILE} is not here: restore it (a backup made with --with-root-key)"
        )
    return _renew(directory, root, _required(passphrase, "renew the portal's root"), now)


def root_versions(directory: Path) -> list[Path]:
    """Every root version kept in ``directory`` (``N.root.json``), oldest first."""
    found = [
        (int(m.group(1)), path) for path in directory.iterdir() if (m := _VERSIONED_ROOT.match(path.name))
    ]
    return [path for _, path in sorted(found)]


def _make(directory: Path, passphrase: bytes, now: dt.datetime) -> RootState:
    root_signer = generate_key()
    online = {role: generate_key() for role in KEY_FILES}
    root = make_root([root_signer], _online_public_keys(online), now=now)
    for role, signer in online.items():
        _write_private(directory / ONLINE_DIR / KEY_FILES[role], key_to_pem(signer))
    _write_root(directory, root)
    # The key last: a directory with a root key always has the root it signed.
    _write_private(directory / ROOT_KEY_FILE, key_to_pem(root_signer, passphrase))
    return RootState(RootChange.MADE, root.signed.version, root.signed.expires)


def _renew(directory: Path, previous: Metadata[Root], passphrase: bytes, now: dt.datetime) -> RootState:
    try:
        root_signer = key_from_pem((directory / ROOT_KEY_FILE).read_bytes(), passphrase)
    except ValueError as exc:
        raise RootKeepingError(f"the portal's root key cannot be opened: {exc}") from exc
    online = {role: _read_online(directory, role) for role in KEY_FILES}
    root = next_root(previous, [root_signer], [root_signer], _online_public_keys(online), now=now)
    _write_root(directory, root)
    return RootState(RootChange.RENEWED, root.signed.version, root.signed.expires)


def _online_public_keys(signers: dict[str, CryptoSigner]) -> dict[str, Key]:
    return {role: signers[role].public_key for role in ONLINE_ROLES}


def _read_online(directory: Path, role: str) -> CryptoSigner:
    path = directory / ONLINE_DIR / KEY_FILES[role]
    try:
        return key_from_pem(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise RootKeepingError(f"the portal's {role} key cannot be read from {path}: {exc}") from exc


def _read_root(path: Path) -> Metadata[Root]:
    try:
        return Metadata[Root].from_bytes(path.read_bytes())
    except (OSError, ValueError, RepositoryError) as exc:  # tuf's DeserializationError is a RepositoryError
        raise RootKeepingError(f"the portal's root metadata cannot be read from {path}: {exc}") from exc


def _write_root(directory: Path, root: Metadata[Root]) -> None:
    data = root.to_bytes()
    _write_public(directory / ROOTS_DIR / f"{root.signed.version}.root.json", data)
    _write_public(directory / NEWEST_ROOT, data)


def _required(passphrase: bytes | None, purpose: str) -> bytes:
    if not passphrase:
        raise RootKeepingError(f"the root key's passphrase is needed to {purpose}")
    return passphrase


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, data, mode=0o600)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, data, mode=0o644)
