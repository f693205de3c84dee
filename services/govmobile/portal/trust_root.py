"""The root of the portal's TUF repository: made and kept offline, on the Ansible controller.

The Update Framework (TUF, python-tuf) separates *who may say what exists* into roles. The root
role names the keys of every role and is the one thing a device trusts from the start (it gets
root metadata at enrollment, over its mutual-TLS connection). If the portal host is compromised,
an attacker holds only the online keys (targets, snapshot, timestamp), and the controller can
rotate them away by signing a new root: devices follow the new root because the old root's keys
signed it. So the root keys never reach the portal, exactly like the CA's root key.

This module is what the controller runs (the Ansible role will call it): make root keys and the
online keys, sign root metadata listing them, and sign the next root version to renew its expiry
or rotate keys. Every key is Ed25519 (fast, small, deterministic signatures; verified by
``tuf.ngclient`` through pyca/cryptography). Root keys may be written encrypted under a passphrase.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, Key, Signer
from tuf.api.metadata import Metadata, Root

ROOT = "root"
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
#: A root is renewed by the controller (a redeploy), so it may live long.
ROOT_LIFETIME = dt.timedelta(days=365)


def generate_key() -> CryptoSigner:
    """A new Ed25519 signing key."""
    return CryptoSigner(Ed25519PrivateKey.generate())


def key_to_pem(signer: CryptoSigner, passphrase: bytes | None = None) -> bytes:
    """The private key as PKCS#8 PEM, encrypted when a passphrase is given (root keys)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    private = serialization.load_pem_private_key(signer.private_bytes, None)
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def key_from_pem(pem: bytes, passphrase: bytes | None = None) -> CryptoSigner:
    """Load a signing key written by ``key_to_pem``."""
    try:
        private = serialization.load_pem_private_key(pem, passphrase)
    except (ValueError, TypeError) as exc:
        # A wrong passphrase usually fails the padding check ("Incorrect password"), but about
        # one time in 256 it decrypts to garbage that only the ASN.1 parser refuses: one message.
        raise ValueError("the key cannot be read: a wrong passphrase, or not a PKCS#8 key") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError("the repository's keys are Ed25519 keys")
    return CryptoSigner(private)


def make_root(
    root_signers: Sequence[Signer],
    online_keys: Mapping[str, Key],
    *,
    now: dt.datetime,
    threshold: int = 1,
    lifetime: dt.timedelta = ROOT_LIFETIME,
) -> Metadata[Root]:
    """Version 1 of the root metadata: the root keys (``threshold`` of them must sign) and one key per online role."""
    root = Root(expires=_expiry(now, lifetime), consistent_snapshot=True)
    _set_keys(root, [s.public_key for s in root_signers], threshold, online_keys)
    metadata = Metadata(root)
    for signer in root_signers:
        metadata.sign(signer, append=True)
    metadata.verify_delegate(ROOT, metadata)  # refuse to hand out a root that does not verify itself
    return metadata


def next_root(
    previous: Metadata[Root],
    old_root_signers: Sequence[Signer],
    new_root_signers: Sequence[Signer],
    online_keys: Mapping[str, Key],
    *,
    now: dt.datetime,
    threshold: int = 1,
    lifetime: dt.timedelta = ROOT_LIFETIME,
) -> Metadata[Root]:
    """The next root version, signed by the old root keys and the new ones (TUF's rotation rule).

    With the same keys it simply renews the expiry; with other online keys it rotates them.
    """
    root = Root(version=previous.signed.version + 1, expires=_expiry(now, lifetime), consistent_snapshot=True)
    _set_keys(root, [s.public_key for s in new_root_signers], threshold, online_keys)
    metadata = Metadata(root)
    signed_by: set[str] = set()
    for signer in [*old_root_signers, *new_root_signers]:
        if signer.public_key.keyid not in signed_by:
            metadata.sign(signer, append=True)
            signed_by.add(signer.public_key.keyid)
    # A device accepts version N+1 only if N's root keys and N+1's both reach their thresholds.
    previous.verify_delegate(ROOT, metadata)
    metadata.verify_delegate(ROOT, metadata)
    return metadata


def _set_keys(root: Root, root_keys: Sequence[Key], threshold: int, online_keys: Mapping[str, Key]) -> None:
    if set(online_keys) != set(ONLINE_ROLES):
        raise ValueError(f"give one key for each online role: {', '.join(ONLINE_ROLES)}")
    if not 1 <= threshold <= len(root_keys):
        raise ValueError("the root threshold must be between 1 and the number of root keys")
    root_ids = {key.keyid for key in root_keys}
    if root_ids & {key.keyid for key in online_keys.values()}:
        raise ValueError("a root key must never be an online key")
    for key in root_keys:
        root.add_key(key, ROOT)
    root.roles[ROOT].threshold = threshold
    for role, key in online_keys.items():
        root.add_key(key, role)


def _expiry(now: dt.datetime, lifetime: dt.timedelta) -> dt.datetime:
    # TUF writes expiry in whole seconds, UTC.
    return (now + lifetime).astimezone(dt.UTC).replace(microsecond=0)
