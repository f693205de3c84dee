from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func
from sqlmodel import select

from govmobile.ca.authority import Authority, CertificateQuery
from govmobile.ca.hierarchy import CaLayout
from govmobile.ca.models import Certificate, CertificateStatus, CrlState, RevocationReason
from govmobile.ca.profiles import ProfileName, SubjectRequest
from govmobile.core import audit
from govmobile.core.database import Database
from govmobile.core.errors import Conflict, Gone, InvalidInput, NotFound
from tests.support.ca import Clock
from tests.support.pki import csr_pem

DEVICE = SubjectRequest(device_id="dev-1", tenant_id="water")


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_device_profile_decides_subject_and_usage(authority: Authority) -> None:
    issued = authority.sign(csr_pem(common_name="I want to be admin"), "device", DEVICE, actor="ra:mdm")
    cert = issued.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dev-1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "water"
    assert _eku(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=30, minutes=5)
    assert issued.record.device_id == "dev-1"
    assert issued.record.tenant_id == "water"
    assert issued.record.sha256 == cert.fingerprint(hashes.SHA256()).hex()
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://gateway.test/pki/crl"  # type: ignore[index]


def test_service_profile_takes_names_and_serves(authority: Authority) -> None:
    issued = authority.sign(
        csr_pem(dns=("mdm.govmobile.internal",)),
        "service",
        SubjectRequest(dns_names=("mdm",), ip_addresses=("127.0.0.1",)),
        actor="ra:deploy",
    )
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mdm", "mdm.govmobile.internal"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert _eku(issued.certificate) == [ExtendedKeyUsageOID.SERVER_AUTH]


@pytest.mark.parametrize(
    ("profile", "subject", "csr_dns", "message"),
    [
        ("device", DEVICE, ("evil.example",), "certifies no DNS names"),
        ("device", SubjectRequest(device_id="dev-1"), (), "tenant_id"),
        ("device", SubjectRequest(device_id="dev 1", tenant_id="water"), (), "device_id"),
        (
            "admin",
            SubjectRequest(common_name="alice", dns_names=("x.example",)),
            (),
            "certifies no DNS names",
        ),
        ("service", SubjectRequest(), (), "at least one"),
        ("service", SubjectRequest(dns_names=("*.example.org",)), (), "not a valid DNS name"),
        ("codesign", SubjectRequest(device_id="d", tenant_id="t"), (), "common_name"),
    ],
)
def test_names_outside_the_profile_are_refused(
    authority: Authority,
    database: Database,
    profile: str,
    subject: SubjectRequest,
    csr_dns: tuple[str, ...],
    message: str,
) -> None:
    with pytest.raises(InvalidInput, match=message):
        authority.sign(csr_pem(dns=csr_dns), profile, subject, actor="ra:test")
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Certificate)).one() == 0


def test_name_constraints_of_the_issuing_ca_bound_service_names(
    constrained_ca_layout: CaLayout, database: Database, database_url: str, clock: Clock
) -> None:
    from govmobile.ca.app import build_authority
    from tests.support.ca import ca_settings

    constrained = build_authority(ca_settings(constrained_ca_layout, database_url), database, clock)
    ok = constrained.sign(
        csr_pem(), "service", SubjectRequest(dns_names=("ca.govmobile.internal",)), actor="t"
    )
    assert ok.record.common_name == "ca.govmobile.internal"
    with pytest.raises(InvalidInput, match="outside the names"):
        constrained.sign(csr_pem(), "service", SubjectRequest(dns_names=("ca.evil.example",)), actor="t")


def test_unknown_profile_is_refused(authority: Authority) -> None:
    with pytest.raises(NotFound, match="unknown certificate profile 'superuser'"):
        authority.sign(csr_pem(), "superuser", DEVICE, actor="ra:mdm")


def test_issuance_is_recorded_and_audited(authority: Authority, database: Database) -> None:
    issued = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    with database.session() as session:
        assert session.get(Certificate, issued.record.serial) is not None
        events = session.exec(select(audit.AuditEvent)).all()
    assert [(e.action, e.actor, e.target) for e in events] == [
        ("certificate.issued", "ra:mdm", f"certificate:{issued.record.serial}")
    ]


def test_a_crash_while_recording_returns_no_certificate(
    authority: Authority, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut while writing the audit event")

    monkeypatch.setattr(audit, "record", crash)
    with pytest.raises(RuntimeError):
        authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    monkeypatch.undo()
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Certificate)).one() == 0
        assert audit.verify_chain(session).events_checked == 0


def test_revocation_is_listed_on_a_new_crl(authority: Authority) -> None:
    issued = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    before = authority.refresh_crl_if_due()
    revocation = authority.revoke(issued.record.serial, RevocationReason.KEY_COMPROMISE, actor="admin:alice")
    assert revocation.crl.number == before.number + 1
    crl = x509.load_der_x509_crl(revocation.crl.der)
    entry = crl.get_revoked_certificate_by_serial_number(issued.certificate.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )


def test_second_revocation_and_unknown_serial_change_nothing(
    authority: Authority, database: Database
) -> None:
    issued = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    authority.revoke(issued.record.serial, RevocationReason.SUPERSEDED, actor="admin:alice")
    with database.session() as session:
        state_before = session.get(CrlState, 1)
        events_before = audit.verify_chain(session).events_checked
    with pytest.raises(Conflict, match="already revoked"):
        authority.revoke(issued.record.serial, RevocationReason.KEY_COMPROMISE, actor="admin:alice")
    with pytest.raises(NotFound):
        authority.revoke("deadbeef", RevocationReason.KEY_COMPROMISE, actor="admin:alice")
    with pytest.raises(InvalidInput):
        authority.revoke("not-hex!", RevocationReason.KEY_COMPROMISE, actor="admin:alice")
    with database.session() as session:
        state_after = session.get(CrlState, 1)
        assert state_before is not None
        assert state_after is not None
        assert (state_after.number, state_after.der) == (state_before.number, state_before.der)
        assert audit.verify_chain(session).events_checked == events_before
        record = session.get(Certificate, issued.record.serial)
        assert record is not None
        assert record.revocation_reason == RevocationReason.SUPERSEDED


def test_tenant_scope_hides_other_tenants_certificates(authority: Authority) -> None:
    issued = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    with pytest.raises(NotFound):
        authority.revoke(
            issued.record.serial, RevocationReason.UNSPECIFIED, actor="admin:bob", tenant_scope="roads"
        )
    with pytest.raises(NotFound):
        authority.get_certificate(issued.record.serial, tenant_scope="roads")
    assert (
        authority.get_certificate(issued.record.serial, tenant_scope="water").serial == issued.record.serial
    )


def test_renewal_keeps_subject_and_links_the_predecessor(authority: Authority) -> None:
    first = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    renewed = authority.renew(first.record.pem, csr_pem(), actor="ra:mdm")
    assert renewed.certificate.subject == first.certificate.subject
    assert renewed.record.renewed_from == first.record.serial
    assert renewed.record.serial != first.record.serial


def test_renewal_within_and_past_the_grace_window(authority: Authority, clock: Clock) -> None:
    first = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    clock.advance(dt.timedelta(days=30 + 6))  # expired six days ago, grace is seven
    assert (
        authority.renew(first.record.pem, csr_pem(), actor="ra:mdm").record.renewed_from
        == first.record.serial
    )
    second = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    clock.advance(dt.timedelta(days=30 + 8))
    with pytest.raises(Gone, match="grace window"):
        authority.renew(second.record.pem, csr_pem(), actor="ra:mdm")


def test_a_revoked_certificate_is_never_renewed(authority: Authority) -> None:
    first = authority.sign(csr_pem(), "device", DEVICE, actor="ra:mdm")
    authority.revoke(first.record.serial, RevocationReason.KEY_COMPROMISE, actor="ra:mdm")
    with pytest.raises(Conflict, match="revoked"):
        authority.renew(first.record.pem, csr_pem(), actor="ra:mdm")


def test_renewal_cannot_add_names(authority: Authority) -> None:
    first = authority.sign(
        csr_pem(), "service", SubjectRequest(dns_names=("mdm.govmobile.internal",)), actor="ra:deploy"
    )
    with pytest.raises(InvalidInput, match="cannot add names"):
        authority.renew(first.record.pem, csr_pem(dns=("evil.example",)), actor="ra:deploy")


def test_renewal_is_limited_to_the_callers_profiles(authority: Authority) -> None:
    first = authority.sign(csr_pem(), "service", SubjectRequest(dns_names=("ca",)), actor="ra:deploy")
    with pytest.raises(NotFound):
        authority.renew(first.record.pem, csr_pem(), actor="ra:mdm", allowed=frozenset({ProfileName.DEVICE}))


def test_crl_is_regenerated_when_due(authority: Authority, clock: Clock) -> None:
    first = authority.refresh_crl_if_due()
    assert authority.refresh_crl_if_due().number == first.number  # not due yet
    clock.advance(dt.timedelta(hours=19))  # inside the six-hour margin before nextUpdate
    assert authority.refresh_crl_if_due().number == first.number + 1


def test_search_filters_and_pages(authority: Authority, clock: Clock) -> None:
    serials = [
        authority.sign(
            csr_pem(), "device", SubjectRequest(device_id=f"d{i}", tenant_id="water"), actor="t"
        ).record.serial
        for i in range(5)
    ]
    authority.sign(csr_pem(), "admin", SubjectRequest(common_name="alice"), actor="t")
    authority.revoke(serials[0], RevocationReason.UNSPECIFIED, actor="t")
    assert len(authority.find_certificates(CertificateQuery(tenant_scope="water", limit=100))) == 5
    assert {
        c.serial for c in authority.find_certificates(CertificateQuery(status=CertificateStatus.REVOKED))
    } == {serials[0]}
    assert [c.common_name for c in authority.find_certificates(CertificateQuery(text="ALI"))] == ["alice"]
    page1 = authority.find_certificates(CertificateQuery(limit=3))
    page2 = authority.find_certificates(CertificateQuery(limit=3, after_serial=page1[-1].serial))
    assert len(page1) == 3
    assert len(page2) == 3
    assert not {c.serial for c in page1} & {c.serial for c in page2}
    soon = clock.now + dt.timedelta(days=31)
    assert len(authority.find_certificates(CertificateQuery(expiring_before=soon, limit=100))) == 4
