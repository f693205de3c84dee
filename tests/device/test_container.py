"""The work container: files encrypted at rest, and selective wipe as a crypto-erase with a signed receipt."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from govmobile_device.commands import canonical_json
from tests.device.conftest import Admin, Department, Tablet, command_of, new_token, send, server_view

REPORT = b"Bridge 14, pier 2: cracks 3 mm wide; closed to trucks."


@pytest.fixture
def with_files(enrolled: Tablet) -> Tablet:
    enrolled.ok("files", "put", "bridge-14.txt", stdin=REPORT)
    photo = enrolled.state.parent / "pier.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    enrolled.ok("files", "put", "photos/pier 2.jpg", str(photo))
    return enrolled


def test_put_get_list(with_files: Tablet, tmp_path: Path) -> None:
    assert with_files.ok("files", "get", "bridge-14.txt").raw == REPORT
    listing = json.loads(with_files.ok("files", "list", "--json").out)
    assert [(f["name"], f["size"]) for f in listing] == [
        ("bridge-14.txt", len(REPORT)),
        ("photos/pier 2.jpg", 10243),
    ]
    target = tmp_path / "copy.jpg"
    with_files.ok("files", "get", "photos/pier 2.jpg", "-o", str(target))
    assert target.read_bytes() == (with_files.state.parent / "pier.jpg").read_bytes()
    # Replacing a file keeps one copy.
    with_files.ok("files", "put", "bridge-14.txt", stdin=b"updated")
    assert with_files.ok("files", "get", "bridge-14.txt").raw == b"updated"
    assert len(list((with_files.state / "container" / "blobs").iterdir())) == 2
    missing = with_files("files", "get", "nope.txt")
    assert missing.code == 2
    assert "no file 'nope.txt'" in missing.err


def test_nothing_readable_on_disk(with_files: Tablet) -> None:
    for path in (with_files.state / "container").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in (b"cracks", b"bridge-14", b"pier"):
                assert secret not in content, path


def test_tampered_file_is_refused(with_files: Tablet) -> None:
    blob = next((with_files.state / "container" / "blobs").iterdir())
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    outcomes = [with_files("files", "get", name) for name in ("bridge-14.txt", "photos/pier 2.jpg")]
    assert sorted(o.code for o in outcomes) == [0, 8]
    assert any("damaged" in o.err for o in outcomes)


def test_selective_wipe_crypto_erases_the_container_and_keeps_the_rest(
    with_files: Tablet, platform: Admin, tmp_path: Path
) -> None:
    device = with_files
    device.ok("checkin")
    personal = device.state.parent / "personal" / "holiday.jpg"
    personal.parent.mkdir()
    personal.write_bytes(b"family photo")
    # An attacker's copy of the container, taken before the wipe.
    stolen = tmp_path / "stolen"
    shutil.copytree(device.state / "container", stolen)
    identity = device.store.load_identity()

    command = send(platform, identity.device_id, "selective_wipe")
    device.ok("checkin")

    found = command_of(platform, command)
    assert found["state"] == "acknowledged"
    result = found["result"]["result"]
    receipt = result["receipt"]
    assert receipt["device_id"] == identity.device_id
    assert receipt["command_id"] == command
    assert receipt["destroyed"] == ["bridge-14.txt", "photos/pier 2.jpg"]
    assert receipt["data_key_destroyed"] is True
    # The server verified the signature; check it here too, the way the protocol defines it.
    public_key = identity.certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(
        base64.b64decode(result["signature"]), canonical_json(receipt), ec.ECDSA(hashes.SHA256())
    )
    view = server_view(platform, identity.device_id)
    assert view["work_container_wiped_at"] is not None
    assert view["state"] == "active"

    # The container is empty and its key gone; personal data and the enrollment are untouched.
    assert device.ok("files", "list").out == ""
    assert not (device.state / "keystore" / "container.key").exists()
    assert personal.read_bytes() == b"family photo"
    assert device.store.load_identity().certificate == identity.certificate
    device.ok("checkin")

    # The old wrapped data key, index and files, put back, open with nothing the device has.
    shutil.rmtree(device.state / "container")
    shutil.copytree(stolen, device.state / "container")
    restored = device("files", "get", "bridge-14.txt")
    assert restored.code == 8
    assert "key was destroyed" in restored.err
    # Even after the device makes a new container (a new key in its keystore).
    shutil.rmtree(device.state / "container")
    device.ok("files", "put", "new.txt", stdin=b"new work")
    for name in ("data-key.sealed", "index.sealed"):
        shutil.copy(stolen / name, device.state / "container" / name)
    for blob in (stolen / "blobs").iterdir():
        shutil.copy(blob, device.state / "container" / "blobs" / blob.name)
    again = device("files", "get", "bridge-14.txt")
    assert again.code == 8
    assert "does not open with this device's key" in again.err


def test_sm4_container(device_factory: Any, platform: Admin, water: Department) -> None:
    device = device_factory("sm4")
    assert device.enroll(new_token(platform, water), "--cipher", "sm4-gcm").code == 0
    device.ok("files", "put", "a.txt", stdin=REPORT)
    assert device.ok("files", "get", "a.txt").raw == REPORT
    assert json.loads((device.state / "keystore" / "keystore.json").read_text())["cipher"] == "sm4-gcm"
