"""Device-aware access to intranet apps through the gateway, end to end over real sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import time
from typing import Any

import httpx
import jwt
import pytest
import websockets

from govmobile.core import audit
from govmobile.core.database import Database
from govmobile.gateway import decisions
from govmobile.mdm.models import CommandState
from govmobile.mdm.queue import ENDS_ACCESS
from tests.support.devices import GOOD_POSTURE, ScriptedDevice
from tests.support.gateway import DECISION_TIMEOUT, Gateway, through_gateway
from tests.support.mdm import Admin, Department, make_department
from tests.support.upstreams import RecordingUpstream


def open_app(mobile: ScriptedDevice, path: str = "/apps/oa/inbox") -> httpx.Response:
    with mobile.tls_client() as client:
        return client.get(path)


def test_the_upstream_verifies_the_assertion_with_the_jwks(
    gateway: Gateway,
    mobile: ScriptedDevice,
    oa_route: dict[str, Any],
    upstream: tuple[RecordingUpstream, str],
    water: Department,
) -> None:
    assert open_app(mobile).status_code == 200
    token = upstream[0].headers_seen()[-1]["govmobile-assertion"]
    with gateway.client() as client:
        jwks = client.get("/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"]))
    claims = jwt.decode(token, key, algorithms=["ES256"], audience="oa", issuer="https://localhost")
    assert claims["sub"] == "water-inspector"
    assert claims["device_id"] == mobile.device_id
    assert claims["tenant"] == "water"
    assert claims["tenant_id"] == water.tenant_id
    assert claims["groups"] == ["field-staff"]
    assert claims["exp"] - claims["iat"] <= 300
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["ES256"], audience="payroll", issuer="https://localhost")


def test_request_bodies_reach_the_app_whole_while_the_decision_is_asked_for(
    mobile: ScriptedDevice, oa_route: dict[str, Any], upstream: tuple[RecordingUpstream, str]
) -> None:
    # The decision is a subrequest without the body; the body itself goes to the app untouched,
    # on the first request (decision asked for) as on the next (decision cached).
    report = json.dumps({"river": "Koshi", "level_m": 7.4, "photos": ["a" * 40_000]}).encode()
    with mobile.tls_client() as client:
        for _ in range(2):
            answer = client.post(
                "/apps/oa/reports", content=report, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 200, answer.text
            assert upstream[0].requests[-1]["body"] == report
    assert [r["method"] for r in upstream[0].requests] == ["POST", "POST"]


def test_a_cached_decision_keeps_python_off_the_request_path(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any]
) -> None:
    def decided() -> float:
        with httpx.Client() as client:
            text = client.get(f"http://127.0.0.1:{gateway.settings.listen_port}/metrics").text
        return sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("govmobile_gateway_decisions_total")
        )

    assert open_app(mobile).status_code == 200
    before = decided()
    with mobile.tls_client() as client:
        for _ in range(20):
            assert client.get("/apps/oa/inbox").status_code == 200
    assert decided() == before


def test_a_noncompliant_device_reaches_the_mdm_but_not_apps(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any]
) -> None:
    assert open_app(mobile).status_code == 200
    checkin = mobile.checkin(posture={**GOOD_POSTURE, "passcode_set": False})
    assert checkin.status_code == 200
    assert checkin.json()["device"]["compliant"] is False
    gateway.wait_until(lambda: open_app(mobile).status_code == 403)
    refused = open_app(mobile).json()
    assert refused["error"] == "device_noncompliant"
    assert "no passcode is set" in refused["message"]
    assert mobile.checkin(posture=GOOD_POSTURE).json()["device"]["compliant"] is True
    gateway.wait_until(lambda: open_app(mobile).status_code == 200)


def test_lock_shuts_the_device_out_within_five_seconds(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any], platform: Admin
) -> None:
    assert open_app(mobile).status_code == 200
    command = platform.ok("POST", f"/api/v1/devices/{mobile.device_id}/commands", json={"type": "lock"})
    # Refused from the moment the lock is queued: a stolen device need not check in for it.
    gateway.wait_until(lambda: open_app(mobile).status_code == 403, timeout=DECISION_TIMEOUT)
    pending = open_app(mobile).json()
    assert pending["error"] == "device_locked"
    assert "being locked" in pending["message"]
    assert mobile.checkin().json()["command"]["id"] == command["id"]
    mobile.checkin(results=[{"command_id": command["id"], "status": "acknowledged"}])
    assert open_app(mobile).json()["error"] == "device_locked"
    assert mobile.checkin().status_code == 200  # still reachable, so it can be unlocked
    unlock = platform.ok("POST", f"/api/v1/devices/{mobile.device_id}/commands", json={"type": "unlock"})
    mobile.checkin()
    mobile.checkin(results=[{"command_id": unlock["id"], "status": "acknowledged"}])
    gateway.wait_until(lambda: open_app(mobile).status_code == 200, timeout=DECISION_TIMEOUT)


def test_a_cancelled_wipe_gives_access_back(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any], platform: Admin
) -> None:
    assert open_app(mobile).status_code == 200
    wipe = platform.ok(
        "POST", f"/api/v1/devices/{mobile.device_id}/commands", json={"type": "selective_wipe"}
    )
    gateway.wait_until(lambda: open_app(mobile).status_code == 403, timeout=DECISION_TIMEOUT)
    assert open_app(mobile).json()["error"] == "device_wiped"
    platform.ok("POST", f"/api/v1/commands/{wipe['id']}/cancel")
    gateway.wait_until(lambda: open_app(mobile).status_code == 200, timeout=DECISION_TIMEOUT)


def test_the_gateway_knows_every_command_that_ends_access() -> None:
    assert set(decisions._PENDING_REFUSALS) == {kind.value for kind in ENDS_ACCESS}
    assert set(decisions._OPEN_COMMAND_STATES) == {state.value for state in CommandState if state.is_open}


def test_revocation_is_enforced_within_five_seconds(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any], management: Admin
) -> None:
    assert open_app(mobile).status_code == 200
    assert mobile.certificate is not None
    serial = format(mobile.certificate.serial_number, "x")
    management.ok("POST", f"/api/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    started = time.monotonic()

    def refused() -> bool:
        try:
            return open_app(mobile).status_code == 401
        except httpx.HTTPError:
            return True  # refused during the handshake

    gateway.wait_until(refused, timeout=DECISION_TIMEOUT)
    assert time.monotonic() - started < 5
    response = open_app(mobile)
    assert response.json()["error"] == "certificate_refused"
    assert "revoked" in response.json()["message"]
    assert mobile.checkin().status_code == 401  # the MDM is shut too: the certificate itself is refused


def test_another_departments_device_is_refused(
    gateway: Gateway, oa_route: dict[str, Any], platform: Admin, tmp_path: Any
) -> None:

    from tests.support.mdm import new_token

    roads = make_department(platform, "roads")
    stranger = through_gateway(gateway, tmp_path, "SN-ROADS-1")
    assert stranger.enroll(new_token(platform, roads, group_id=roads.group_id)).status_code == 200
    stranger.checkin()
    response = open_app(stranger)
    assert response.status_code == 403
    assert response.json()["error"] == "tenant_not_admitted"


def test_rate_limit_per_device(
    gateway: Gateway,
    mobile: ScriptedDevice,
    management: Admin,
    water: Department,
    upstream: tuple[RecordingUpstream, str],
) -> None:
    gateway.add_route(
        management,
        name="slow",
        upstream_url=upstream[1],
        allowed_tenants=[water.tenant_id],
        rate_limit=1,
    )
    assert gateway.status_of("/apps/slow/") == 401
    with mobile.tls_client() as client:
        responses = [client.get("/apps/slow/x") for _ in range(10)]
    # One request a second with a burst of two: however slow the machine, ten requests cannot
    # take the seven seconds it would need for none of them to be refused.
    assert responses[0].status_code == 200
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    # The refusal's own body, not a later request's: a request a second later would pass again.
    assert limited[0].json()["error"] == "rate_limited"


def test_a_route_by_host_name(
    gateway: Gateway,
    mobile: ScriptedDevice,
    management: Admin,
    water: Department,
    upstream: tuple[RecordingUpstream, str],
) -> None:
    gateway.add_route(
        management,
        name="oa-host",
        host="oa.gm.test",
        upstream_url=upstream[1],
        allowed_tenants=[water.tenant_id],
    )
    url = f"https://oa.gm.test:{gateway.public_port}/letters/7"
    resolve = f"oa.gm.test:{gateway.public_port}:127.0.0.1"
    gateway.wait_until(lambda: gateway.curl(url, "--resolve", resolve, cert=mobile.cert_files)[0] == 200)
    assert upstream[0].requests[-1]["path"] == "/letters/7"


def test_a_websocket_passes_through(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any]
) -> None:
    context = ssl.create_default_context(cafile=str(gateway.tls.root))
    context.load_cert_chain(str(mobile.cert_files[0]), str(mobile.cert_files[1]))

    async def talk() -> str:
        async with websockets.connect(
            f"wss://localhost:{gateway.public_port}/apps/oa/ws", ssl=context
        ) as socket:
            await socket.send("approve document 42")
            return str(await socket.recv())

    assert asyncio.run(talk()) == "echo: approve document 42"


def test_the_public_listener_serves_no_admin_api(
    gateway: Gateway, mobile: ScriptedDevice, platform: Admin
) -> None:
    with mobile.tls_client() as client:
        assert (
            client.get("/api/v1/tenants", headers={"Authorization": f"Bearer {platform.token}"}).status_code
            == 404
        )
        assert client.get("/api/docs").status_code == 404


def test_the_management_listener_serves_the_admin_api(management: Admin, mobile: ScriptedDevice) -> None:
    devices = management.ok("GET", "/api/v1/devices")["items"]
    assert [d["id"] for d in devices] == [mobile.device_id]
    assert management.ok("GET", "/api/v1/certificates", params={"device_id": mobile.device_id})["items"]
    assert (
        management.client.get("/api/v1/routes", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_decisions_are_audited_off_the_hot_path(
    gateway: Gateway, mobile: ScriptedDevice, oa_route: dict[str, Any], platform: Admin, database: Database
) -> None:
    assert open_app(mobile).status_code == 200
    mobile.checkin(posture={**GOOD_POSTURE, "rooted": True})
    gateway.wait_until(lambda: open_app(mobile).status_code == 403)

    def events() -> list[Any]:
        with database.session() as session:
            return list(session.exec(audit.select(audit.AuditEvent)).all())  # type: ignore[attr-defined]

    def summarised() -> bool:
        # nginx writes its buffered access log within a second (each worker its own buffer);
        # summarise until both the refusal and the allowed request have come through.
        gateway.app.state.summariser.run_once()
        actions = {e.action for e in events()}
        return {"access.refused", "access.summary"} <= actions

    gateway.wait_until(summarised, timeout=20)
    refused = [e for e in events() if e.action == "access.refused"]
    assert json.loads(refused[-1].details)["decision"] == "device_noncompliant"
    allowed = [e for e in events() if e.action == "access.summary"]
    assert json.loads(allowed[-1].details)["requests"] >= 1
    assert (
        refused[-1].tenant_id
        == mobile.certificate.subject.get_attributes_for_oid(
            __import__("cryptography").x509.NameOID.ORGANIZATIONAL_UNIT_NAME
        )[0].value
    )  # type: ignore[union-attr]


def test_signing_keys_rotate_and_old_keys_stay_published(gateway: Gateway, clock: Any) -> None:
    keys = gateway.app.state.keys
    first = keys.current().kid
    clock.advance(dt.timedelta(hours=25))
    second = keys.current().kid
    assert second != first
    published = {k["kid"] for k in keys.jwks()["keys"]}
    assert {first, second} <= published
    clock.advance(dt.timedelta(hours=25))
    keys.current()
    assert first not in {k["kid"] for k in keys.jwks()["keys"]}
