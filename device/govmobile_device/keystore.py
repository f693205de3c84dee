"""The keystore: where the device keeps the keys that protect everything else.

On a real tablet this is the platform keystore (Android Keystore backed by the TEE or
StrongBox): keys never leave the hardware, and deleting one destroys it for good. The agent,
which runs anywhere Python does, stands in for it with a directory::

    keystore/                0700
      keystore.json          cipher, protection, and a check value (detects a wrong passphrase)
      device.secret          256 random bits (protection "device-secret"), mode 0600
      <name>.key             a random key for one purpose, sealed under the master key

The master key is either the device secret, or derived with scrypt from a passphrase (protection
"passphrase", chosen when ``GOVMOBILE_DEVICE_PASSPHRASE`` is set at enrollment; nothing then
holds the master key at rest). Entries are what other parts use: the work container's wrapping
key is one, so a selective wipe can destroy it (crypto-erase) while the identity key lives on.

A directory is weaker than hardware: someone who copied the whole state directory before a
wipe keeps what they copied. Only a hardware keystore makes deletion final; that is what a
production client must use.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import BaseModel, ValidationError

from govmobile_device.crypto import Cipher, DecryptionFailed, derive_key, new_key, open_sealed, seal
from govmobile_device.errors import StateError
from govmobile_device.files import private_directory, read_private, shred, write_atomic

PASSPHRASE_ENV = "GOVMOBILE_DEVICE_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
_CHECK = b"govmobile-device keystore"
# scrypt cost: about 0.1 s and 32 MiB per unlock on a laptop core (RFC 7914 §2 suggests N=2^14
# or more for interactive use); a tablet would not use this path at all (see the module docstring).
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1

Protection = Literal["device-secret", "passphrase"]


class _Scrypt(BaseModel):
    salt: str
    n: int
    r: int
    p: int


class _Meta(BaseModel):
    version: int = 1
    cipher: Cipher
    protection: Protection
    scrypt: _Scrypt | None = None
    check: str


class Keystore:
    """Master key plus named entries, in one private directory."""

    def __init__(self, directory: Path, cipher: Cipher, master: bytes, protection: Protection) -> None:
        self.directory = directory
        self.cipher = cipher
        self.protection = protection
        self._master = master

    # -- life cycle ------------------------------------------------------------------------

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / "keystore.json").exists()

    @classmethod
    def create(cls, directory: Path, cipher: Cipher, passphrase: str | None = None) -> Keystore:
        """A new keystore: a random device secret, or a key derived from the passphrase."""
        private_directory(directory)
        scrypt: _Scrypt | None = None
        if passphrase:
            salt = os.urandom(16)
            scrypt = _Scrypt(salt=_b64(salt), n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
            master = _stretch(passphrase, scrypt)
            protection: Protection = "passphrase"
        else:
            master = os.urandom(32)
            write_atomic(directory / "device.secret", master)
            protection = "device-secret"
        check = seal(cipher, derive_key(master, "check", cipher), _CHECK, b"check")
        meta = _Meta(cipher=cipher, protection=protection, scrypt=scrypt, check=_b64(check))
        write_atomic(directory / "keystore.json", meta.model_dump_json(indent=2).encode())
        return cls(directory, cipher, master, protection)

    @classmethod
    def open(cls, directory: Path, passphrase: str | None = None) -> Keystore:
        """Unlock an existing keystore (StateError when it is missing, damaged or locked)."""
        meta_path = directory / "keystore.json"
        try:
            meta = _Meta.model_validate_json(read_private(meta_path))
        except FileNotFoundError:
            raise StateError(f"the keystore {directory} is missing") from None
        except ValidationError:
            raise StateError(
                f"{meta_path} is damaged; the keys it protects cannot be used. Restore the state "
                "directory from a backup, or enroll again with --force"
            ) from None
        if meta.protection == "passphrase":
            if not passphrase:
                raise StateError(
                    f"this device's keys are protected by a passphrase: set {PASSPHRASE_ENV} to unlock them"
                )
            assert meta.scrypt is not None
            master = _stretch(passphrase, meta.scrypt)
        else:
            try:
                master = read_private(directory / "device.secret")
            except FileNotFoundError:
                raise StateError(
                    f"the device secret {directory / 'device.secret'} is missing; the keys it protected are "
                    "lost. Enroll again with --force"
                ) from None
        try:
            open_sealed(meta.cipher, derive_key(master, "check", meta.cipher), _unb64(meta.check), b"check")
        except (DecryptionFailed, ValueError):
            what = (
                "the passphrase is wrong"
                if meta.protection == "passphrase"
                else "the device secret is damaged"
            )
            raise StateError(f"cannot unlock the keystore {directory}: {what}") from None
        return cls(directory, meta.cipher, master, meta.protection)

    def destroy(self) -> None:
        """Destroy every key (the first step of a full wipe: everything sealed becomes unreadable)."""
        for path in sorted(self.directory.glob("*")):
            if path.is_file():
                shred(path)
        self._master = b""

    # -- sealing with the master key --------------------------------------------------------

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        return seal(self.cipher, derive_key(self._master, purpose, self.cipher), plaintext, purpose.encode())

    def open_sealed(self, purpose: str, sealed: bytes) -> bytes:
        try:
            return open_sealed(
                self.cipher, derive_key(self._master, purpose, self.cipher), sealed, purpose.encode()
            )
        except DecryptionFailed:
            raise StateError(f"the {purpose} cannot be decrypted with this device's keys") from None

    # -- entries -----------------------------------------------------------------------------

    def create_entry(self, name: str) -> bytes:
        """A new random key stored under ``name`` (replacing any old one)."""
        key = new_key(self.cipher)
        write_atomic(self._entry_path(name), self.seal(f"entry:{name}", key))
        return key

    def entry(self, name: str) -> bytes | None:
        """The key stored under ``name``, or None when there is none (never created, or destroyed)."""
        try:
            sealed = read_private(self._entry_path(name))
        except FileNotFoundError:
            return None
        return self.open_sealed(f"entry:{name}", sealed)

    def destroy_entry(self, name: str) -> bool:
        path = self._entry_path(name)
        existed = path.exists()
        shred(path)
        return existed

    def _entry_path(self, name: str) -> Path:
        if not name.replace("-", "").isalnum():
            raise ValueError(f"bad keystore entry name {name!r}")
        return self.directory / f"{name}.key"


def _stretch(passphrase: str, params: _Scrypt) -> bytes:
    kdf = Scrypt(salt=_unb64(params.salt), length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def describe(directory: Path) -> dict[str, str]:
    """Cipher and protection of a keystore, for ``status`` (without unlocking it)."""
    try:
        meta = json.loads((directory / "keystore.json").read_text())
        return {"cipher": str(meta["cipher"]), "protection": str(meta["protection"])}
    except (OSError, ValueError, KeyError):
        return {}
