"""Certificate renewal through the gateway: with the current certificate over mutual TLS, and in
the grace window after expiry with a proof of possession of the old key."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govmobile.ca import keyfiles
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice, csr_der, leaf_for, read_pkcs7
from tests.support.gateway import Gateway, through_gateway
from tests.support.mdm import Admin, Department, new_token


def test_renewal_over_mutual_tls(mobile: ScriptedDevice) -> None:
    new_key = ec.generate_private_key(ec.SECP256R1())
    with mobile.tls_client() as client:
        response = client.post(
            "/.well-known/est/simplereenroll",
            content=base64.b64encode(csr_der(new_key)),
            headers={"Content-Type": "application/pkcs10"},
        )
    assert response.status_code == 200, response.text
    renewed = leaf_for(new_key, read_pkcs7(response.content))
    assert mobile.certificate is not None
    assert renewed.subject == mobile.certificate.subject


def _expired_device(
    gateway: Gateway, platform: Admin, water: Department, clock: Clock, directory: Path
) -> ScriptedDevice:
    """A device whose certificate expired a day ago (issued with the CA's clock 31 days back)."""
    real_now = clock.now
    clock.now = real_now - dt.timedelta(days=31)
    device = through_gateway(gateway, directory, "SN-EXPIRED-1")
    assert device.enroll(new_token(platform, water)).status_code == 200
    clock.now = real_now
    return device


def _renew_expired(
    gateway: Gateway,
    device: ScriptedDevice,
    new_key: ec.EllipticCurvePrivateKey,
    *,
    signer: ec.EllipticCurvePrivateKey | None = None,
) -> httpx.Response:
    assert device.certificate is not None
    csr = csr_der(new_key)
    signature = (signer or device.key).sign(csr, ec.ECDSA(hashes.SHA256()))
    with gateway.client() as client:  # no client certificate: an expired one would not pass TLS
        return client.post(
            "/.well-known/est/expired/simplereenroll",
            content=base64.b64encode(csr),
            headers={
                "Content-Type": "application/pkcs10",
                "GovMobile-Expired-Certificate": base64.b64encode(
                    device.certificate.public_bytes(serialization.Encoding.DER)
                ).decode(),
                "GovMobile-Possession-Signature": base64.b64encode(signature).decode(),
            },
        )


def test_an_expired_certificate_renews_in_the_grace_window(
    gateway: Gateway, platform: Admin, water: Department, clock: Clock, tmp_path: Path
) -> None:
    device = _expired_device(gateway, platform, water, clock, tmp_path)
    refused = device.checkin()
    assert refused.status_code == 401
    assert "certificate has expired" in refused.json()["message"]
    forged = _renew_expired(
        gateway,
        device,
        ec.generate_private_key(ec.SECP256R1()),
        signer=ec.generate_private_key(ec.SECP256R1()),
    )
    assert forged.status_code == 401
    assert forged.json()["error"] == "bad_possession_proof"
    new_key = ec.generate_private_key(ec.SECP256R1())
    renewed = _renew_expired(gateway, device, new_key)
    assert renewed.status_code == 200, renewed.text
    device.key = new_key
    device.certificate = leaf_for(new_key, read_pkcs7(renewed.content))
    keyfiles.write_certificates(device.cert_files[0], [device.certificate])
    keyfiles.write_private_key(device.cert_files[1], new_key, overwrite=True)
    assert device.checkin().status_code == 200


def test_past_the_grace_window_the_device_must_enroll_again(
    gateway: Gateway, platform: Admin, water: Department, clock: Clock, tmp_path: Path
) -> None:
    device = _expired_device(gateway, platform, water, clock, tmp_path)
    clock.advance(dt.timedelta(days=7))  # the CA's grace window is seven days; it expired one day ago
    refused = _renew_expired(gateway, device, ec.generate_private_key(ec.SECP256R1()))
    assert refused.status_code == 410
    assert "enroll again" in refused.json()["message"]
