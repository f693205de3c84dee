"""Sealing at rest (AES-256-GCM, SM4-GCM) and the keystore that holds the keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher as RawCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes

from govmobile_device.crypto import Cipher, DecryptionFailed, derive_key, new_key, open_sealed, seal
from govmobile_device.errors import StateError
from govmobile_device.keystore import Keystore


@pytest.mark.parametrize("cipher", list(Cipher))
def test_seal_and_open(cipher: Cipher) -> None:
    key = new_key(cipher)
    assert len(key) == {Cipher.AES_256_GCM: 32, Cipher.SM4_GCM: 16}[cipher]
    sealed = seal(cipher, key, b"government data", b"purpose")
    assert b"government data" not in sealed
    assert seal(cipher, key, b"government data", b"purpose") != sealed  # fresh nonce each time
    assert open_sealed(cipher, key, sealed, b"purpose") == b"government data"
    with pytest.raises(DecryptionFailed):
        open_sealed(cipher, key, sealed, b"another purpose")
    with pytest.raises(DecryptionFailed):
        open_sealed(cipher, new_key(cipher), sealed, b"purpose")
    tampered = bytearray(sealed)
    tampered[14] ^= 1
    with pytest.raises(DecryptionFailed):
        open_sealed(cipher, key, bytes(tampered), b"purpose")
    with pytest.raises(DecryptionFailed):
        open_sealed(cipher, key, sealed[:20], b"purpose")


def test_sm4_gcm_is_the_standard_construction() -> None:
    # What we seal decrypts with SM4 in GCM mode as any other implementation does it.
    key = new_key(Cipher.SM4_GCM)
    sealed = seal(Cipher.SM4_GCM, key, b"national algorithms", b"aad")
    nonce, body, tag = sealed[:12], sealed[12:-16], sealed[-16:]
    decryptor = RawCipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(b"aad")
    assert decryptor.update(body) + decryptor.finalize() == b"national algorithms"


def test_derived_keys_differ_by_purpose_and_cipher() -> None:
    master = b"m" * 32
    assert derive_key(master, "a", Cipher.AES_256_GCM) != derive_key(master, "b", Cipher.AES_256_GCM)
    assert len(derive_key(master, "a", Cipher.SM4_GCM)) == 16


def test_keystore_with_a_device_secret(tmp_path: Path) -> None:
    keystore = Keystore.create(tmp_path / "ks", Cipher.AES_256_GCM)
    assert stat.S_IMODE((tmp_path / "ks").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "ks" / "device.secret").stat().st_mode) == 0o600
    entry = keystore.create_entry("container")
    reopened = Keystore.open(tmp_path / "ks")
    assert reopened.entry("container") == entry
    assert reopened.open_sealed("x", keystore.seal("x", b"secret")) == b"secret"
    assert reopened.destroy_entry("container") is True
    assert reopened.entry("container") is None
    assert reopened.destroy_entry("container") is False
    (tmp_path / "ks" / "device.secret").write_bytes(b"\0" * 32)
    with pytest.raises(StateError, match="device secret is damaged"):
        Keystore.open(tmp_path / "ks")


def test_keystore_with_a_passphrase(tmp_path: Path) -> None:
    keystore = Keystore.create(tmp_path / "ks", Cipher.SM4_GCM, "a long passphrase")
    assert not (tmp_path / "ks" / "device.secret").exists()
    sealed = keystore.seal("identity-key", b"key material")
    assert (
        Keystore.open(tmp_path / "ks", "a long passphrase").open_sealed("identity-key", sealed)
        == b"key material"
    )
    with pytest.raises(StateError, match="passphrase is wrong"):
        Keystore.open(tmp_path / "ks", "another passphrase")
    with pytest.raises(StateError, match="GOVMOBILE_DEVICE_PASSPHRASE"):
        Keystore.open(tmp_path / "ks", None)


def test_destroying_the_keystore_leaves_nothing_to_open_with(tmp_path: Path) -> None:
    keystore = Keystore.create(tmp_path / "ks", Cipher.AES_256_GCM)
    keystore.create_entry("container")
    keystore.destroy()
    assert list((tmp_path / "ks").iterdir()) == []
    with pytest.raises(StateError, match="missing"):
        Keystore.open(tmp_path / "ks")
