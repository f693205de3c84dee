"""Logging in and out, TOTP, API tokens and admin accounts through the client."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest

from govmobile_client import GovMobileClient
from govmobile_client.errors import Conflict, NotFound, PermissionDenied, Throttled, Unauthenticated
from govmobile_client.models import Role, TokenKind
from tests.client.management import Appliance
from tests.support.ca import Clock
from tests.support.client import Login, make_login
from tests.support.mdm import Admin, Department


def anonymous(appliance: Appliance) -> GovMobileClient:
    return GovMobileClient(appliance.url, ca_file=appliance.ca_file)


def test_login_uses_the_session_and_logout_ends_it(appliance: Appliance, operator: Login) -> None:
    with anonymous(appliance) as client:
        issued = client.auth.login(operator.username, operator.password)
        assert issued.kind is TokenKind.SESSION
        assert issued.token.startswith("gmt_")
        me = client.auth.me()
        assert (me.username, me.role, me.tenant_id) == ("ops-lead", Role.PLATFORM_ADMIN, None)
        client.auth.logout()
        assert client.connection.token is None
        client.connection.token = issued.token
        with pytest.raises(Unauthenticated):
            client.auth.me()


def test_a_wrong_password_is_refused_without_saying_which_part(appliance: Appliance, operator: Login) -> None:
    with anonymous(appliance) as client, pytest.raises(Unauthenticated) as refused:
        client.auth.login(operator.username, "not the password")
    assert refused.value.message == "invalid username, password or one-time code"
    assert client.connection.token is None


def test_totp_once_confirmed_is_required(appliance: Appliance, operator: Login, clock: Clock) -> None:
    # Codes come from the MDM's injected clock, never from the wall clock: a 30-second step
    # boundary between two readings of the wall clock would make the "replayed" code a fresh one.
    with anonymous(appliance) as client:
        client.auth.login(operator.username, operator.password)
        totp = pyotp.parse_uri(client.auth.start_totp().provisioning_uri)
        confirming = totp.at(clock.now)
        client.auth.confirm_totp(confirming)
    with anonymous(appliance) as client:
        with pytest.raises(Unauthenticated):
            client.auth.login(operator.username, operator.password)
        with pytest.raises(Unauthenticated):  # the confirming code works once only (RFC 6238 §5.2)
            client.auth.login(operator.username, operator.password, confirming)
        next_code = totp.at(clock.now + dt.timedelta(seconds=30))
        client.auth.login(operator.username, operator.password, next_code)
        assert client.auth.me().username == operator.username


def test_api_tokens_act_as_their_maker_until_revoked(appliance: Appliance, client: GovMobileClient) -> None:
    issued = client.api_tokens.create("nightly-report", ttl_days=7)
    assert issued.kind is TokenKind.API
    listed = {t.id: t for t in client.api_tokens.list()}
    assert listed[issued.id].name == "nightly-report"
    with GovMobileClient(appliance.url, token=issued.token, ca_file=appliance.ca_file) as script:
        assert script.auth.me().username == "root-admin"
        assert client.api_tokens.revoke(issued.id).revoked_at is not None
        with pytest.raises(Unauthenticated):
            script.auth.me()
    with pytest.raises(Conflict, match="already revoked"):
        client.api_tokens.revoke(issued.id)


def test_admin_accounts_throttling_and_unlock(
    appliance: Appliance, client: GovMobileClient, water: Department
) -> None:
    made = client.admins.create(
        "water-lead", "a long enough password", Role.TENANT_ADMIN, tenant_id=water.tenant_id
    )
    assert (made.role, made.tenant_id, made.disabled) == (Role.TENANT_ADMIN, water.tenant_id, False)
    assert client.admins.resolve("water-lead").id == made.id
    assert client.admins.resolve(made.id).username == "water-lead"
    with anonymous(appliance) as other:
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                other.auth.login("water-lead", "wrong password!")
        with pytest.raises(Throttled) as throttled:
            other.auth.login("water-lead", "a long enough password")
        assert throttled.value.code == "too_many_attempts"
        assert throttled.value.retry_after == 15 * 60
        client.admins.unlock(made.id)
        other.auth.login("water-lead", "a long enough password")
        assert client.admins.disable(made.id).disabled
        with pytest.raises(Unauthenticated):
            other.auth.me()
        assert not client.admins.enable(made.id).disabled
    with pytest.raises(NotFound, match="no admin account 'nobody'"):
        client.admins.resolve("nobody")


def test_a_tenant_admin_sees_only_its_tenant_and_an_auditor_changes_nothing(
    appliance: Appliance, platform: Admin, water: Department, fire: Department
) -> None:
    lead = make_login(platform, "tenant_admin", water.tenant_id)
    auditor = make_login(platform, "auditor")
    with anonymous(appliance) as client:
        client.auth.login(lead.username, lead.password)
        assert [t.slug for t in client.tenants.list()] == ["water"]
        assert {a.username for a in client.admins.list()} == {lead.username}
        with pytest.raises(PermissionDenied, match="own tenant"):
            client.admins.create(
                "fire-lead", "a long enough password", Role.TENANT_ADMIN, tenant_id=fire.tenant_id
            )
    with anonymous(appliance) as client:
        client.auth.login(auditor.username, auditor.password)
        assert {t.slug for t in client.tenants.list()} == {"water", "fire"}
        with pytest.raises(PermissionDenied, match="read-only"):
            client.people.create(water.tenant_id, "someone", "Some One")
