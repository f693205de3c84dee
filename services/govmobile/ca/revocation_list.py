"""Certificate revocation lists (RFC 5280 §5), written directly in DER for speed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from govmobile.ca import der
from govmobile.ca.hierarchy import IssuerKey

_OID_AKI = der.oid("2.5.29.35")
_OID_CRL_NUMBER = der.oid("2.5.29.20")
_OID_REASON_CODE = der.oid("2.5.29.21")


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: dt.datetime
    #: RFC 5280 §5.3.1 CRLReason value.
    reason: int


def build_crl(
    issuer: IssuerKey,
    entries: Iterable[RevokedEntry],
    *,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
) -> bytes:
    """A complete v2 CRL signed by the issuing CA, as DER."""
    algorithm, sign = _signer(issuer)
    revoked = b"".join(_entry(entry) for entry in entries)
    aki = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    extensions = der.explicit(
        0,
        der.sequence(
            der.sequence(_OID_AKI, der.octet_string(der.sequence(der.tlv(0x80, aki)))),
            der.sequence(_OID_CRL_NUMBER, der.octet_string(der.integer(number))),
        ),
    )
    tbs = der.sequence(
        der.integer(1),  # v2
        algorithm,
        issuer.certificate.subject.public_bytes(),
        der.time(this_update),
        der.time(next_update),
        der.tlv(0x30, revoked) if revoked else b"",  # absent when empty (§5.1.2.6)
        extensions,
    )
    return der.sequence(tbs, algorithm, der.bit_string(sign(tbs)))


def root_crl(root: IssuerKey, *, now: dt.datetime, validity: dt.timedelta) -> bytes:
    """An (empty unless given) CRL signed by the offline root, as PEM.

    Relying parties that check every level of the chain (nginx does) need one for the issuing
    CA's certificate too. The CRL number is the issue time, so each new one is larger.
    """
    der = build_crl(root, iter(()), number=int(now.timestamp()), this_update=now, next_update=now + validity)
    return x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)


def _entry(entry: RevokedEntry) -> bytes:
    parts = der.integer(entry.serial) + der.time(entry.revoked_at)
    if entry.reason:  # "unspecified" SHOULD be omitted (§5.3.1)
        reason_ext = der.sequence(_OID_REASON_CODE, der.octet_string(der.enumerated(entry.reason)))
        parts += der.sequence(reason_ext)
    return der.tlv(0x30, parts)


def _signer(issuer: IssuerKey) -> tuple[bytes, Callable[[bytes], bytes]]:
    key = issuer.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size > 256:
            return der.sequence(der.oid("1.2.840.10045.4.3.3")), lambda tbs: key.sign(
                tbs, ec.ECDSA(hashes.SHA384())
            )
        return der.sequence(der.oid("1.2.840.10045.4.3.2")), lambda tbs: key.sign(
            tbs, ec.ECDSA(hashes.SHA256())
        )
    if isinstance(key, rsa.RSAPrivateKey):
        return der.sequence(der.oid("1.2.840.113549.1.1.11"), b"\x05\x00"), lambda tbs: key.sign(
            tbs, padding.PKCS1v15(), hashes.SHA256()
        )
    raise TypeError(f"unsupported issuing key type {type(key).__name__}")
