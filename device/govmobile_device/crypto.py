"""Authenticated encryption for data at rest: AES-256-GCM, or SM4-GCM where national algorithms are required.

A sealed value is ``nonce (12 bytes) || ciphertext || tag (16 bytes)``. The associated data
binds a ciphertext to its purpose (which key, which file), so one sealed value cannot be
swapped for another. Nonces are random: each key seals few values (a key per container, a new
one after every selective wipe), far below the 2^32 messages where random 96-bit nonces start
to matter.
"""

from __future__ import annotations

import enum
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionFailed(Exception):
    """Wrong key, or the sealed value was altered: there is nothing to read."""


class Cipher(enum.StrEnum):
    AES_256_GCM = "aes-256-gcm"
    SM4_GCM = "sm4-gcm"

    @property
    def key_bytes(self) -> int:
        return 32 if self is Cipher.AES_256_GCM else 16


def new_key(cipher: Cipher) -> bytes:
    return os.urandom(cipher.key_bytes)


def derive_key(master: bytes, purpose: str, cipher: Cipher) -> bytes:
    """A key for one purpose from a master secret (HKDF-SHA256, RFC 5869)."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=cipher.key_bytes,
        salt=None,
        info=f"govmobile-device/{purpose}/{cipher.value}".encode(),
    ).derive(master)


def seal(cipher: Cipher, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    _check_key(cipher, key)
    nonce = os.urandom(NONCE_BYTES)
    if cipher is Cipher.AES_256_GCM:
        return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
    encryptor = _Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def open_sealed(cipher: Cipher, key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of a sealed value, or DecryptionFailed."""
    _check_key(cipher, key)
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("the sealed value is truncated")
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        if cipher is Cipher.AES_256_GCM:
            return AESGCM(key).decrypt(nonce, body, aad)
        decryptor = _Cipher(
            algorithms.SM4(key), modes.GCM(nonce, body[-TAG_BYTES:], min_tag_length=TAG_BYTES)
        ).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(body[:-TAG_BYTES]) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionFailed("wrong key, or the data was altered") from None


def _check_key(cipher: Cipher, key: bytes) -> None:
    if len(key) != cipher.key_bytes:
        raise ValueError(f"{cipher.value} needs a {cipher.key_bytes * 8}-bit key, not {len(key) * 8} bits")
