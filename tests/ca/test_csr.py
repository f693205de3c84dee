from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from govmobile.ca.csr import KeyPolicy, check_csr, parse_csr
from govmobile.core.errors import InvalidInput
from tests.support.pki import csr_pem, csr_with_foreign_key, ec_key, weak_rsa_csr


def test_pem_base64_der_and_der_are_all_accepted() -> None:
    pem = csr_pem()
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    for form in (pem, base64.b64encode(der).decode(), der):
        assert parse_csr(form).is_signature_valid


def test_der_ending_in_a_whitespace_byte_is_accepted() -> None:
    # The last byte of a DER request belongs to its signature and is any value: about one in 40
    # is a byte that bytes.strip() removes (seen as a flake of the test above).
    for _ in range(2000):
        der = x509.load_pem_x509_csr(csr_pem().encode()).public_bytes(serialization.Encoding.DER)
        if der[-1:].isspace():
            break
    else:
        pytest.fail("no request ended in a whitespace byte in 2000 tries")
    assert parse_csr(der).public_bytes(serialization.Encoding.DER) == der


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"hello",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        b"0\x82\xff\xff",
        b"-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----",
    ],
)
def test_malformed_input_is_refused_clearly(garbage: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_csr(garbage)
    assert caught.value.code == "invalid_csr"


def test_a_csr_signed_by_another_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="signature does not verify"):
        check_csr(parse_csr(csr_with_foreign_key()), KeyPolicy())


def test_weak_rsa_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 2048"):
        check_csr(parse_csr(weak_rsa_csr()), KeyPolicy())


def test_unapproved_curve_is_refused() -> None:
    with pytest.raises(InvalidInput, match="secp256k1"):
        check_csr(parse_csr(csr_pem(ec_key(ec.SECP256K1()))), KeyPolicy())


def test_ed25519_is_refused_by_default() -> None:
    with pytest.raises(InvalidInput, match="not accepted"):
        check_csr(parse_csr(csr_pem(ed25519.Ed25519PrivateKey.generate())), KeyPolicy())  # type: ignore[arg-type]


def test_requested_dns_names_are_returned() -> None:
    names = check_csr(parse_csr(csr_pem(dns=("mdm.govmobile.internal",))), KeyPolicy())
    assert names.dns == ("mdm.govmobile.internal",)
