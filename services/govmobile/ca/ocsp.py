"""OCSP responder (RFC 6960) for certificates of the issuing CA.

Responses are signed by the issuing CA itself (§4.2.2.2 allows the CA as responder), name the
responder by key hash, echo the request's nonce (RFC 8954) and are valid for a short while.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from govmobile.ca.hierarchy import IssuerKey
from govmobile.ca.models import Certificate, RevocationReason
from govmobile.ca.serials import serial_text

_REASON_FLAGS = {
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.CA_COMPROMISE: x509.ReasonFlags.ca_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}
RESPONSE_VALIDITY = dt.timedelta(hours=1)


class OcspResponder:
    """Answers status requests from the certificate records."""

    def __init__(self, issuer: IssuerKey, lookup: Callable[[str], Certificate | None]) -> None:
        self.issuer = issuer
        self.lookup = lookup
        public_key_der = issuer.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._issuer_name_der = issuer.certificate.subject.public_bytes()
        self._key_bits = _subject_public_key_bits(public_key_der)

    def answer(self, request_der: bytes, *, now: dt.datetime) -> tuple[bytes, bool]:
        """The DER response and whether the request was well-formed."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
        except (ValueError, UnsupportedAlgorithm):
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST), False
        if not self._is_our_issuer(request, algorithm):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED), True
        record = self.lookup(serial_text(request.serial_number))
        revocation_time = None
        revocation_reason = None
        if record is None:
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif record.revoked_at is not None:
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = record.revoked_at
            revocation_reason = _REASON_FLAGS.get(
                RevocationReason(record.revocation_reason or 0), x509.ReasonFlags.unspecified
            )
        else:
            status = ocsp.OCSPCertStatus.GOOD
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=algorithm,
                cert_status=status,
                this_update=now,
                next_update=now + RESPONSE_VALIDITY,
                revocation_time=revocation_time,
                revocation_reason=revocation_reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuer.certificate)
        )
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
            builder = builder.add_extension(nonce.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        response = builder.sign(self.issuer.private_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER), True

    def _is_our_issuer(self, request: ocsp.OCSPRequest, algorithm: hashes.HashAlgorithm) -> bool:
        name_hash = hashes.Hash(algorithm)
        name_hash.update(self._issuer_name_der)
        key_hash = hashes.Hash(algorithm)
        key_hash.update(self._key_bits)
        return (
            request.issuer_name_hash == name_hash.finalize()
            and request.issuer_key_hash == key_hash.finalize()
        )


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _subject_public_key_bits(spki_der: bytes) -> bytes:
    """The BIT STRING contents of a SubjectPublicKeyInfo, which RFC 6960 §4.1.1 hashes."""
    # SPKI ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
    offset = _skip_header(spki_der, 0)  # into the outer SEQUENCE
    offset = _skip_element(spki_der, offset)  # past AlgorithmIdentifier
    start = _skip_header(spki_der, offset)  # into the BIT STRING
    return spki_der[start + 1 :]  # drop the unused-bits octet


def _skip_header(data: bytes, offset: int) -> int:
    length_byte = data[offset + 1]
    if length_byte < 0x80:
        return offset + 2
    return offset + 2 + (length_byte & 0x7F)


def _skip_element(data: bytes, offset: int) -> int:
    length_byte = data[offset + 1]
    if length_byte < 0x80:
        return offset + 2 + length_byte
    count = length_byte & 0x7F
    size = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    return offset + 2 + count + size
