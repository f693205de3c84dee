"""Certificates over time: renewal at two thirds of their life, expiry, revocation, retirement."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from cryptography import x509

from tests.device.conftest import Admin, Tablet, server_view
from tests.support.ca import MDM_SECRET, Clock
from tests.support.gateway_stub import GatewayStub


@pytest.fixture
def active(enrolled: Tablet) -> Tablet:
    enrolled.ok("checkin")
    return enrolled


def revoked_serials(ca_url: str) -> set[int]:
    crl = x509.load_der_x509_crl(httpx.get(f"{ca_url}/pki/crl").content)
    return {entry.serial_number for entry in crl}


def test_renews_at_two_thirds_of_the_certificates_life(
    active: Tablet, platform: Admin, clock: Clock, ca_url: str
) -> None:
    old = active.store.load_identity().certificate
    clock.advance(dt.timedelta(days=19))
    active.ok("checkin")
    assert active.store.load_identity().certificate == old  # not due yet (30-day certificates)
    clock.advance(dt.timedelta(days=2))
    outcome = active.ok("checkin")
    assert "certificate renewed" in outcome.err
    new = active.store.load_identity().certificate
    assert new.serial_number != old.serial_number
    assert new.not_valid_after_utc > old.not_valid_after_utc
    assert server_view(platform, active.device_id)["cert_serial"] == format(new.serial_number, "x")
    # The new certificate was used at that check-in, so the server had the old one revoked.
    assert old.serial_number in revoked_serials(ca_url)
    assert new.serial_number not in revoked_serials(ca_url)


def test_expired_within_the_grace_window_is_renewed(
    active: Tablet, clock: Clock, gateway: GatewayStub
) -> None:
    old = active.store.load_identity().certificate
    clock.advance(dt.timedelta(days=32))
    outcome = active.ok("checkin")
    assert "certificate renewed" in outcome.err
    assert active.store.load_identity().certificate.serial_number != old.serial_number
    # The expired certificate never went into a TLS handshake: the old key signed the new CSR.
    assert "/.well-known/est/expired/simplereenroll" in gateway.paths
    assert gateway.refused == []


def test_the_gateway_refuses_an_expired_certificate_with_a_clear_message(
    active: Tablet, clock: Clock, gateway: GatewayStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A device whose clock is wrong does not notice its certificate expired; the gateway does.
    from govmobile_device.agent import Agent

    async def not_due(self: Agent) -> bool:
        return False

    monkeypatch.setattr(Agent, "renew_if_due", not_due)
    clock.advance(dt.timedelta(days=31))
    outcome = active("checkin")
    assert outcome.code == 7
    assert "the appliance refused this device's certificate" in outcome.err
    assert "(got: FAILED:certificate has expired) (client_certificate_required)" in outcome.err
    assert "enroll again with --force" in outcome.err
    assert gateway.refused == ["FAILED:certificate has expired"]


def test_expired_past_the_grace_window_says_enroll_again(active: Tablet, clock: Clock) -> None:
    before = (active.state / "identity.json").read_bytes()
    clock.advance(dt.timedelta(days=40))
    outcome = active("checkin")
    assert outcome.code == 7
    assert "expired on" in outcome.err
    assert "could not be renewed" in outcome.err
    assert "grace window" in outcome.err
    assert "Traceback" not in outcome.err
    assert (active.state / "identity.json").read_bytes() == before


def test_a_revoked_certificate_is_refused_at_the_gateway(
    active: Tablet, ca_url: str, gateway: GatewayStub
) -> None:
    serial = active.store.load_identity().certificate.serial_number
    response = httpx.post(
        f"{ca_url}/api/v1/ra/revoke",
        json={"serial": format(serial, "x"), "reason": "keyCompromise"},
        auth=("mdm", MDM_SECRET),
    )
    assert response.status_code == 200, response.text
    gateway.refresh_crl()
    outcome = active("checkin")
    assert outcome.code == 7
    assert "(got: FAILED:certificate revoked)" in outcome.err
    assert gateway.refused == ["FAILED:certificate revoked"]


def test_a_retired_device_is_told_so(active: Tablet, platform: Admin) -> None:
    platform.ok("POST", f"/api/v1/devices/{active.device_id}/retire")
    outcome = active("checkin")
    assert outcome.code == 7
    assert "this device has been retired" in outcome.err
    assert "device_retired" in outcome.err
    assert active.store.is_enrolled()  # nothing destroyed on a refusal: only a wipe does that
