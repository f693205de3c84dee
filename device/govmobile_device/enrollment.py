"""Enrollment and renewal over EST (RFC 7030), with the root pinned by its fingerprint.

1. Trust: fetch ``cacerts`` without trusting the server yet, and keep the root whose SHA-256
   equals the pinned fingerprint (or, only when told ``--insecure-first-use``, the one root the
   server offers). Nothing secret has been sent at this point.
2. Enroll: over TLS verified against that root, send a CSR for a key made here, with the
   enrollment token as the HTTP Basic password (§4.2.1).
3. Check: our certificate is the one for our key, and it verifies as a client certificate up
   to the pinned root; a root in the answer other than the pinned one is refused.

Renewal (§4.2.2) is the same check on the answer to ``simplereenroll``, sent with the current
certificate over mutual TLS and a new key.
"""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from govmobile_device import pki
from govmobile_device.errors import TrustFailure, UsageError
from govmobile_device.gateway import Gateway, check_server_url
from govmobile_device.profile import DeviceProfile
from govmobile_device.state import DeviceIdentity

QR_PREFIX = "govmobile:enroll?"


@dataclass(frozen=True)
class EnrollmentOffer:
    """Where to enroll, which root to trust, and the one-time token (what the QR code holds)."""

    server: str
    token: str
    ca_sha256: str | None


def parse_qr(payload: str) -> EnrollmentOffer:
    """``govmobile:enroll?server=<url>&ca_sha256=<hex>&token=<secret>``."""
    text = payload.strip()
    if not text.startswith(QR_PREFIX):
        raise UsageError(f"not a GovMobile enrollment code: it must start with {QR_PREFIX!r}")
    fields = urllib.parse.parse_qs(text[len(QR_PREFIX) :], keep_blank_values=True)
    values = {name: items[-1] for name, items in fields.items()}
    missing = [name for name in ("server", "token") if not values.get(name)]
    if missing:
        raise UsageError(f"the enrollment code lacks {', '.join(missing)}")
    pin = values.get("ca_sha256") or None
    return EnrollmentOffer(
        server=check_server_url(values["server"]),
        token=values["token"],
        ca_sha256=pki.normalise_fingerprint(pin) if pin else None,
    )


async def fetch_trusted_root(
    server: str, pin: str | None, *, insecure_first_use: bool, timeout: float = 30.0
) -> x509.Certificate:
    """The root to trust from now on: the pinned one, as offered by the server's ``cacerts``."""
    if pin is None and not insecure_first_use:
        raise UsageError(
            "refusing to enroll without the CA fingerprint: give --ca-fingerprint (or a QR code that has it). "
            "--insecure-first-use trusts whatever the server presents, and is only for labs"
        )
    async with Gateway.bootstrap(server, timeout=timeout) as gateway:
        certificates = await gateway.cacerts()
    return pki.pinned_root(certificates, pin)


def device_facts(profile: DeviceProfile) -> dict[str, object]:
    """What the device says about its hardware when it enrolls (``GovMobile-Device-Facts``)."""
    return {
        "serial_number": profile.serial_number,
        "model": profile.model,
        "os_name": profile.os_name,
        "os_version": profile.os_version,
        "hardware_ids": profile.hardware_ids,
    }


async def request_certificate(
    gateway: Gateway,
    root: x509.Certificate,
    token: str,
    profile: DeviceProfile,
    *,
    now: dt.datetime,
) -> DeviceIdentity:
    """EST simpleenroll with a new P-256 key; the answer must chain to ``root``."""
    key = pki.new_key()
    certificates = await gateway.simpleenroll(
        pki.csr_base64(key, profile.serial_number), token, device_facts(profile)
    )
    leaf, intermediates = _checked(key, certificates, root, now)
    return DeviceIdentity(
        server=gateway.server,
        ca_sha256=pki.fingerprint(root),
        root=root,
        intermediates=intermediates,
        certificate=leaf,
        key=key,
        enrolled_at=now,
    )


async def renew_certificate(
    gateway: Gateway, identity: DeviceIdentity, serial_number: str, *, now: dt.datetime, expired: bool = False
) -> DeviceIdentity:
    """EST simplereenroll with a new key; the successor must chain to the pinned root.

    ``expired``: the certificate can no longer authenticate TLS, so the request goes to the
    grace-window endpoint over server-authenticated TLS, with the old key's signature over
    the new CSR as the proof (``gateway`` must then be a pinned, not a mutual, connection).
    """
    key = pki.new_key()
    csr = pki.csr_base64(key, serial_number)
    if expired:
        der = base64.b64decode(csr)
        signature = identity.key.sign(der, ec.ECDSA(hashes.SHA256()))
        certificates = await gateway.renew_expired(csr, identity.certificate, signature)
    else:
        certificates = await gateway.simplereenroll(csr)
    leaf, intermediates = _checked(key, certificates, identity.root, now)
    if pki.common_name(leaf) != identity.device_id:
        raise TrustFailure("the renewed certificate names another device; it was not accepted")
    return DeviceIdentity(
        server=identity.server,
        ca_sha256=identity.ca_sha256,
        root=identity.root,
        intermediates=intermediates,
        certificate=leaf,
        key=key,
        enrolled_at=identity.enrolled_at,
        renewed_at=now,
    )


def _checked(
    key: ec.EllipticCurvePrivateKey,
    certificates: list[x509.Certificate],
    root: x509.Certificate,
    now: dt.datetime,
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    roots = [c for c in certificates if pki.is_self_signed(c)]
    if any(r != root for r in roots):
        raise TrustFailure(
            "the certificate chain the server returned ends in a root other than the pinned one; "
            "it was not accepted"
        )
    leaf = pki.leaf_for(key, certificates)
    if not pki.common_name(leaf):
        raise TrustFailure("the issued certificate does not name the device (no common name)")
    return leaf, pki.verify_client_chain(leaf, certificates, root, now=now)
