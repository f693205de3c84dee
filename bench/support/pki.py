"""A throwaway CA that signs device certificates quickly, in process.

The MDM only checks that a certificate's SHA-256 is bound to a device (the gateway verified
the chain before), so certificates for the MDM benchmark need not come from the GovMobile CA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class DeviceCertificate:
    der: bytes
    sha256: str
    serial: str
    not_after: dt.datetime

    @property
    def pem(self) -> str:
        return x509.load_der_x509_certificate(self.der).public_bytes(serialization.Encoding.PEM).decode()

    def escaped_pem(self) -> str:
        """The header value nginx sends ($ssl_client_escaped_cert): the URL-escaped PEM."""
        return urllib.parse.quote(self.pem, safe="")


class ThrowawayCa:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench throwaway CA")])
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def device(self, device_id: str, tenant_id: str) -> DeviceCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = self.now + dt.timedelta(days=30)
        serial = x509.random_serial_number()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, device_id),
                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, tenant_id),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GovMobile bench"),
                    ]
                )
            )
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(self.now - dt.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        der = certificate.public_bytes(serialization.Encoding.DER)
        return DeviceCertificate(der, hashlib.sha256(der).hexdigest(), format(serial, "x"), not_after)
