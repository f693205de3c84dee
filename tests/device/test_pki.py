"""Fingerprints, pinning and chains."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from govmobile.ca.hierarchy import CaLayout
from govmobile_device import pki
from govmobile_device.errors import TrustFailure, UsageError
from tests.support.pki import make_ca


def certificates(layout: CaLayout) -> tuple[x509.Certificate, x509.Certificate]:
    root = x509.load_pem_x509_certificate(layout.root_certificate.read_bytes())
    issuing = x509.load_pem_x509_certificate(layout.issuing_certificate.read_bytes())
    return root, issuing


def test_fingerprints_in_any_common_spelling(ca_layout: CaLayout) -> None:
    root, _ = certificates(ca_layout)
    plain = pki.fingerprint(root)
    colons = ":".join(plain[i : i + 2] for i in range(0, 64, 2)).upper()
    assert pki.normalise_fingerprint(colons) == plain
    assert pki.normalise_fingerprint(f"sha256:{plain}") == plain
    with pytest.raises(UsageError):
        pki.normalise_fingerprint(plain[:-2])


def test_pinned_root(ca_layout: CaLayout, tmp_path: Path) -> None:
    root, issuing = certificates(ca_layout)
    other_root, _ = certificates(make_ca(tmp_path / "other"))
    assert pki.pinned_root([issuing, root], pki.fingerprint(root)) == root
    assert pki.pinned_root([root, issuing], None) == root  # trusted on first use: the one root offered
    with pytest.raises(TrustFailure, match="does not match the pinned fingerprint"):
        pki.pinned_root([issuing, other_root], pki.fingerprint(root))
    with pytest.raises(TrustFailure, match="2 root certificates"):
        pki.pinned_root([root, other_root], None)
    assert not pki.is_self_signed(issuing)


def test_a_chain_is_verified_as_a_client_certificate(ca_layout: CaLayout, tmp_path: Path) -> None:
    root, issuing = certificates(ca_layout)
    other_root, _ = certificates(make_ca(tmp_path / "other"))
    # The issuing CA is not a client certificate: the verifier refuses it as a leaf.
    with pytest.raises(TrustFailure):
        pki.verify_client_chain(issuing, [issuing, root], root, now=dt.datetime.now(dt.UTC))
    with pytest.raises(TrustFailure):
        pki.verify_client_chain(issuing, [issuing], other_root, now=dt.datetime.now(dt.UTC))
