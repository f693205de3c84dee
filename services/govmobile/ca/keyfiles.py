"""Private key and certificate files: written atomically, keys mode 0600, optionally encrypted."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from govmobile.core.errors import ConfigurationError, InvalidInput
from govmobile.core.files import write_atomically


def write_private_key(
    path: Path, key: PrivateKeyTypes, *, passphrase: bytes | None = None, overwrite: bool = False
) -> None:
    """Write a PKCS#8 PEM key readable by its owner only, encrypted when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _write_atomically(path, pem, mode=0o600, overwrite=overwrite)


def write_certificates(path: Path, certificates: list[x509.Certificate], *, overwrite: bool = True) -> None:
    """Write one or more certificates as concatenated PEM (world-readable: they are public)."""
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    _write_atomically(path, pem, mode=0o644, overwrite=overwrite)


def write_bytes(path: Path, content: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write any file atomically with the given mode."""
    _write_atomically(path, content, mode=mode, overwrite=overwrite)


def read_private_key(path: Path, *, passphrase: bytes | None = None) -> PrivateKeyTypes:
    """Load a private key, refusing one that others can read and explaining passphrase errors."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigurationError(f"private key {path} does not exist; run `govmobile-ca init`") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"private key {path} is accessible to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    data = path.read_bytes()
    try:
        return serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError as exc:
        if passphrase:
            raise ConfigurationError(
                f"private key {path} is not encrypted but a passphrase was given"
            ) from exc
        raise ConfigurationError(
            f"private key {path} is encrypted: give its passphrase (GOVMOBILE_CA_KEY_PASSPHRASE)"
        ) from exc
    except ValueError as exc:
        raise ConfigurationError(
            f"private key {path} could not be read: wrong passphrase or not a PEM private key"
        ) from exc


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Load every certificate from a PEM file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"certificate file {path} does not exist") from None
    return load_certificates(data, what=str(path))


def load_certificates(data: bytes, *, what: str = "input") -> list[x509.Certificate]:
    """Parse PEM (one or more) or a single DER certificate, with a clear error."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InvalidInput(f"{what} is not a valid PEM or DER certificate") from exc


def _write_atomically(path: Path, content: bytes, *, mode: int, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise ConfigurationError(f"{path} already exists; refusing to overwrite it")
    write_atomically(path, content, mode=mode)
