"""The hand-written DER CRL against cryptography's parser."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from govmobile.ca.hierarchy import CaLayout, load_issuer
from govmobile.ca.revocation_list import RevokedEntry, build_crl


def test_crl_parses_and_verifies(ca_layout: CaLayout) -> None:
    issuer = load_issuer(ca_layout)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entries = [
        RevokedEntry(0x01, now, 0),
        RevokedEntry(0x80, now, 1),  # needs a leading zero octet
        RevokedEntry(2**158 + 12345, now, 9),
    ]
    der = build_crl(issuer, iter(entries), number=42, this_update=now, next_update=now + dt.timedelta(days=1))
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(issuer.certificate.public_key())  # type: ignore[arg-type]
    assert crl.issuer == issuer.certificate.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert crl.next_update_utc == now + dt.timedelta(days=1)
    by_serial = {r.serial_number: r for r in crl}
    assert set(by_serial) == {0x01, 0x80, 2**158 + 12345}
    assert (
        by_serial[0x80].extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    # "unspecified" is left out, as RFC 5280 §5.3.1 recommends
    assert len(by_serial[0x01].extensions) == 0


def test_an_empty_crl_omits_the_revoked_list(ca_layout: CaLayout) -> None:
    issuer = load_issuer(ca_layout)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    crl = x509.load_der_x509_crl(
        build_crl(issuer, iter([]), number=1, this_update=now, next_update=now + dt.timedelta(hours=1))
    )
    assert len(crl) == 0
    assert crl.is_signature_valid(issuer.certificate.public_key())  # type: ignore[arg-type]


def test_times_after_2049_use_generalized_time(ca_layout: CaLayout) -> None:
    issuer = load_issuer(ca_layout)
    late = dt.datetime(2051, 6, 1, tzinfo=dt.UTC)
    der = build_crl(
        issuer,
        iter([RevokedEntry(7, late, 0)]),
        number=1,
        this_update=late,
        next_update=late + dt.timedelta(days=1),
    )
    crl = x509.load_der_x509_crl(der)
    assert crl.last_update_utc == late
    assert next(iter(crl)).revocation_date_utc == late
