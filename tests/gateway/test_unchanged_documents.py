"""Unchanged desired-state fetches answered 304 by the gateway's nginx, not the portal (issue 12,
"Performance"), through the real gateway with mutual TLS.

nginx answers only the device its verified certificate names, only an If-None-Match equal to
the ETag the portal last served that certificate, and only while the database's desired-state
generation and the certificate's access version are the ones that answer was made under. The
portal is wrapped here so that the tests see which fetches reached it.

Every kind of change is waited for by its effect (the gateway told the new generation, or a
fetch reaching the portal), never for a time.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from govmobile.core.database import Database
from govmobile.portal.app import create_app as create_portal
from govmobile.portal.desired_state import LIFETIME
from tests.portal.test_portal_api import assign, published
from tests.support.apks import ApkFactory, AppSpec
from tests.support.devices import ScriptedDevice
from tests.support.gateway import DECISION_TIMEOUT, Gateway, through_gateway
from tests.support.mdm import Admin, Department, new_token
from tests.support.portal import PortalKeyFiles, portal_admin, portal_settings

PACKAGE = "cn.gov.water.inspect"


class RunningClock:
    """The appliance's clock: real time, which a test may move on (nginx keeps real time)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, delta: dt.timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> RunningClock:
    return RunningClock()


class _Seen:
    """ASGI middleware noting the path of every request that reaches the portal."""

    def __init__(self, app: Any, paths: list[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def portal_seen() -> list[str]:
    return []


@pytest.fixture
def portal_app(
    database: Database,
    database_url: str,
    clock: RunningClock,
    portal_key_files: PortalKeyFiles,
    portal_data: Path,
    portal_seen: list[str],
) -> Any:
    app = create_portal(
        portal_settings(database_url, portal_key_files, portal_data), database=database, clock=clock
    )
    app.add_middleware(_Seen, paths=portal_seen)
    return app


@dataclass
class Fetcher:
    """A device's desired-state fetches, and which of them reached the portal."""

    device: ScriptedDevice
    seen: list[str]
    http: httpx.Client

    @property
    def path(self) -> str:
        return f"/portal/v1/devices/{self.device.device_id}/desired-state"

    def fetch(
        self, etag: str | None = None, path: str | None = None, **headers: str
    ) -> tuple[httpx.Response, bool]:
        """The answer, and whether the portal saw the request."""
        before = len(self.seen)
        if etag is not None:
            headers["If-None-Match"] = etag
        response = self.http.get(path or self.path, headers=headers)
        return response, len(self.seen) > before

    def unchanged_at_gateway(self, etag: str) -> None:
        """The next fetch with ``etag`` is answered 304 by nginx itself (waits for it: an answer
        the portal gave a moment before a change may be refused as stale, and asked again)."""
        answers: list[tuple[int, bool]] = []

        def answered_by_gateway() -> bool:
            response, reached = self.fetch(etag)
            answers.append((response.status_code, reached))
            return response.status_code == 304 and not reached

        wait(answered_by_gateway, f"no 304 from the gateway itself: {answers[-5:]}")


def wait(condition: Callable[[], bool], message: str, timeout: float = DECISION_TIMEOUT) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


def apps_of(response: httpx.Response) -> dict[str, dict[str, Any]]:
    payload = json.loads(base64.b64decode(response.json()["payload"]))
    return {app["package"]: app for app in payload["apps"]}


@pytest.fixture
def fetcher(mobile: ScriptedDevice, portal_seen: list[str]) -> Iterator[Fetcher]:
    with mobile.tls_client() as http:
        yield Fetcher(mobile, portal_seen, http)


@pytest.fixture
def water_admin_gw(management: Admin, database: Database, water: Department) -> Admin:
    return portal_admin(management.client, database, water, "water-admin")


def test_an_unchanged_fetch_is_answered_by_the_gateway_and_anything_else_by_the_portal(
    fetcher: Fetcher, gateway: Gateway, database: Database
) -> None:
    first, reached = fetcher.fetch()
    assert (first.status_code, reached) == (200, True), first.text
    etag = first.headers["ETag"]
    assert "GovMobile-Document-Cache" not in first.headers  # for nginx only
    fetcher.unchanged_at_gateway(etag)
    answer, reached = fetcher.fetch(etag)
    assert (answer.status_code, reached) == (304, False)
    assert answer.headers["ETag"] == etag
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.content == b""
    assert "GovMobile-Document-Cache" not in answer.headers

    # Whatever is not exactly the held ETag, on exactly the device's path, is the portal's to judge.
    for other_etag in ('"999"', f"W/{etag}", f"{etag}x", etag + "," + etag, '"' + "9" * 70 + '"', ""):
        answer, reached = fetcher.fetch(other_etag)
        assert reached, other_etag
        assert answer.status_code != 304, other_etag
    for path in (fetcher.path + "?fresh=1", fetcher.path.replace("/devices/", "/devices//")):
        answer, reached = fetcher.fetch(etag, path=path)
        assert reached, (path, answer.status_code)
    seen = len(fetcher.seen)
    twice = fetcher.http.get(fetcher.path, headers=[("If-None-Match", etag), ("If-None-Match", etag)])
    # nginx itself refuses a repeated If-None-Match ("duplicate header line").
    assert (twice.status_code, len(fetcher.seen)) == (400, seen)
    # Without an ETag: the document, from the portal.
    answer, reached = fetcher.fetch()
    assert (answer.status_code, reached) == (200, True)
    assert answer.headers["ETag"] == etag
    # And still unchanged at the gateway afterwards.
    fetcher.unchanged_at_gateway(etag)


def test_another_devices_etag_and_path_and_another_department_never_get_a_304_from_the_gateway(
    fetcher: Fetcher,
    gateway: Gateway,
    platform: Admin,
    water: Department,
    fire: Department,
    tmp_path: Path,
    portal_seen: list[str],
) -> None:
    etag = fetcher.fetch()[0].headers["ETag"]
    fetcher.unchanged_at_gateway(etag)
    neighbours = {}
    for name, department in (("water", water), ("fire", fire)):
        other = through_gateway(gateway, tmp_path / name, f"SN-GW-{name.upper()}")
        assert other.enroll(new_token(platform, department)).status_code == 200
        with other.tls_client() as http:
            other_fetcher = Fetcher(other, portal_seen, http)
            other_etag = other_fetcher.fetch()[0].headers["ETag"]
            other_fetcher.unchanged_at_gateway(other_etag)
        neighbours[name] = (other.device_id, other_etag)
    for device_id, other_etag in neighbours.values():
        # Both devices' ETags are '"1"': the gateway holds answers per certificate, not per ETag.
        path = f"/portal/v1/devices/{device_id}/desired-state"
        for sent in (other_etag, etag):
            answer, reached = fetcher.fetch(sent, path=path)
            assert (answer.status_code, reached) == (403, True), answer.text
            assert answer.json()["error"] == "certificate_of_another_device"
    # This device's own unchanged fetches are still answered (once asked again: the neighbours'
    # enrollments bound certificates to devices, which raises the generation).
    fetcher.unchanged_at_gateway(etag)


@dataclass
class Scene:
    """What a change needs: the gateway, the admins, a published app assigned to the device's
    group, and the device's fetches."""

    gateway: Gateway
    database: Database
    admin: Admin
    platform: Admin
    water: Department
    fetcher: Fetcher
    release: dict[str, Any]
    assignment: dict[str, Any]
    apks: ApkFactory


def _new_release(scene: Scene) -> None:
    published(scene.admin, scene.apks.build(AppSpec(package=PACKAGE, version_code=2)))


def _assignment_removed(scene: Scene) -> None:
    scene.admin.ok("DELETE", f"/api/v1/portal/assignments/{scene.assignment['id']}")


def _assignment_added(scene: Scene) -> None:
    other = published(scene.admin, scene.apks.build(AppSpec(package=PACKAGE + ".extra")))
    assert assign(scene.admin, other["app_id"], "department", scene.water.tenant_id).status_code == 201


def _release_retired(scene: Scene) -> None:
    scene.admin.ok("POST", f"/api/v1/portal/releases/{scene.release['id']}/retire")


def _department_protection(scene: Scene) -> None:
    scene.admin.ok(
        "PUT",
        f"/api/v1/portal/departments/{scene.water.tenant_id}/rules",
        json={"protection": {"pin_required": True, "pin_max_attempts": 5}},
    )


def _left_the_group(scene: Scene) -> None:
    response = scene.platform(
        "DELETE", f"/api/v1/groups/{scene.water.group_id}/members/{scene.water.person_id}"
    )
    assert response.status_code == 204, response.text


def _install_retried(scene: Scene) -> None:
    # The device reports a failed install; the admin asks for a retry (the document carries it).
    with scene.fetcher.device.tls_client() as http:
        reported = http.post(
            "/portal/v1/installations",
            json={
                "apps": [
                    {
                        "package": PACKAGE,
                        "state": "failed",
                        "version_code": 1,
                        "attempts": 3,
                        "last_error": "disk full",
                    }
                ]
            },
        )
        assert reported.status_code in (200, 202), reported.text
    device_id = scene.fetcher.device.device_id
    scene.admin.ok("POST", f"/api/v1/portal/devices/{device_id}/apps/{PACKAGE}/retry")


CHANGES: dict[str, Callable[[Scene], None]] = {
    "a newer release published": _new_release,
    "the assignment removed": _assignment_removed,
    "another assignment added": _assignment_added,
    "the release retired": _release_retired,
    "the department's protection rules": _department_protection,
    "the person taken out of the group": _left_the_group,
    "an install retry asked for": _install_retried,
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_each_kind_of_change_the_next_fetch_is_the_new_document(
    change: str,
    apks: ApkFactory,
    fetcher: Fetcher,
    gateway: Gateway,
    database: Database,
    management: Admin,
    platform: Admin,
    water: Department,
    water_admin_gw: Admin,
) -> None:
    release = published(water_admin_gw, apks.build(AppSpec(package=PACKAGE)))
    assigned = assign(water_admin_gw, release["app_id"], "group", water.group_id)
    assert assigned.status_code == 201, assigned.text
    scene = Scene(gateway, database, water_admin_gw, platform, water, fetcher, release, assigned.json(), apks)
    first, _ = fetcher.fetch()
    assert first.status_code == 200
    assert PACKAGE in apps_of(first)
    etag = first.headers["ETag"]
    fetcher.unchanged_at_gateway(etag)

    before = gateway.desired_state_generation()
    CHANGES[change](scene)
    assert gateway.desired_state_generation() > before, (
        "the change did not raise the desired-state generation"
    )
    gateway.wait_for_documents()

    answer, reached = fetcher.fetch(etag)
    assert (answer.status_code, reached) == (200, True), answer.text
    assert answer.headers["ETag"] != etag
    assert apps_of(answer) != apps_of(first)
    # And the new document is answered unchanged by the gateway in turn.
    fetcher.unchanged_at_gateway(answer.headers["ETag"])


def test_a_fetch_that_asks_for_no_cache_is_answered_by_the_portal_even_before_the_gateway_knows(
    apks: ApkFactory, fetcher: Fetcher, gateway: Gateway, water: Department, water_admin_gw: Admin
) -> None:
    """What a device fetches because a person or an admin's command asked just now must not trail
    a change by the gateway's poll: Cache-Control: no-cache always goes to the portal."""
    etag = fetcher.fetch()[0].headers["ETag"]
    fetcher.unchanged_at_gateway(etag)
    for spelling in ("no-cache", "No-Cache", "max-age=0, no-cache"):
        answer, reached = fetcher.fetch(etag, **{"Cache-Control": spelling})
        assert (answer.status_code, reached) == (304, True), spelling
    # A change, and at once (well inside a poll) a fetch that asks for no cache sees it.
    release = published(water_admin_gw, apks.build(AppSpec(package=PACKAGE)))
    assigned = assign(water_admin_gw, release["app_id"], "group", water.group_id)
    assert assigned.status_code == 201, assigned.text
    answer, reached = fetcher.fetch(etag, **{"Cache-Control": "no-cache"})
    assert (answer.status_code, reached) == (200, True), answer.text
    assert PACKAGE in apps_of(answer)
    # Other directives leave the gateway free to answer.
    fetcher.unchanged_at_gateway(answer.headers["ETag"])
    held, reached = fetcher.fetch(answer.headers["ETag"], **{"Cache-Control": "max-age=60"})
    assert (held.status_code, reached) == (304, False)


def test_an_access_change_sends_the_next_fetch_to_the_portal_before_any_304(
    fetcher: Fetcher, gateway: Gateway, platform: Admin, water: Department
) -> None:
    etag = fetcher.fetch()[0].headers["ETag"]
    fetcher.unchanged_at_gateway(etag)
    # A lock on its way: the portal decides again (a locked device still gets its state).
    platform.ok("POST", f"/api/v1/devices/{fetcher.device.device_id}/commands", json={"type": "lock"})
    wait(lambda: fetcher.fetch(etag)[1], "a fetch after the lock never reached the portal")
    fetcher.unchanged_at_gateway(etag)
    # The person disabled.
    platform.ok("PATCH", f"/api/v1/people/{water.person_id}", json={"disabled": True})
    wait(lambda: fetcher.fetch(etag)[1], "a fetch after the person was disabled never reached the portal")


def test_a_retired_device_with_its_certificate_revoked_gets_no_304(
    fetcher: Fetcher, gateway: Gateway, platform: Admin, mobile: ScriptedDevice
) -> None:
    etag = fetcher.fetch()[0].headers["ETag"]
    fetcher.unchanged_at_gateway(etag)
    platform.ok("POST", f"/api/v1/devices/{mobile.device_id}/retire")
    answers: list[int] = []

    def refused() -> bool:
        answers.append(fetcher.fetch(etag)[0].status_code)
        return answers[-1] == 401

    # Refused by the certificate's revocation, in nginx's shared memory, before any answer held.
    wait(refused, f"a retired device still got its document: {answers[-5:]}")
    answer, reached = fetcher.fetch(etag)
    assert (answer.status_code, reached) == (401, False)
    assert answer.json()["error"] == "certificate_refused"


def test_a_restarted_nginx_and_a_generation_gone_back_answer_nothing_held_before(
    fetcher: Fetcher, gateway: Gateway, database: Database
) -> None:
    etag = fetcher.fetch()[0].headers["ETag"]
    fetcher.unchanged_at_gateway(etag)
    # A database restored from an older backup: the generation goes back.
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE desired_state_generation SET value = value - 5"))
    gateway_knows_exactly = gateway.desired_state_generation()
    controller = gateway.app.state.controller
    wait(lambda: controller.documents_generation == gateway_knows_exactly, "the gateway was not told")
    answer, reached = fetcher.fetch(etag)
    assert (answer.status_code, reached) == (304, True)
    fetcher.unchanged_at_gateway(etag)

    # nginx restarted: its shared memory starts empty, and nothing is answered until told.
    nginx = controller.nginx
    old_pid = nginx.pid
    nginx.stop()
    controller.sync()
    assert nginx.pid not in (None, old_pid)
    fetcher.http.close()
    with fetcher.device.tls_client() as http:
        fresh = Fetcher(fetcher.device, fetcher.seen, http)
        answer, reached = fresh.fetch(etag)
        assert (answer.status_code, reached) == (304, True)
        fresh.unchanged_at_gateway(etag)


def test_a_held_answer_never_outlives_the_point_where_the_portal_signs_anew(
    fetcher: Fetcher, gateway: Gateway, database: Database, clock: RunningClock, platform: Admin
) -> None:
    first = fetcher.fetch()[0]
    etag = first.headers["ETag"]
    fetcher.unchanged_at_gateway(etag)
    # The document is now almost half its lifetime old: the portal signs a new one in 8 s.
    clock.advance(LIFETIME / 2 - dt.timedelta(seconds=8))
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)
    # Any change makes nginx ask the portal again, which now says how short the answer holds.
    platform.ok("POST", "/api/v1/tenants", json={"slug": "unrelated", "name": "Unrelated"})
    gateway.wait_for_documents()
    answers: list[tuple[dt.datetime, int, bool]] = []

    def renewed() -> bool:
        sent = dt.datetime.now(dt.UTC)
        response, reached = fetcher.fetch(etag)
        answers.append((sent, response.status_code, reached))
        return response.status_code == 200

    wait(renewed, "the portal never signed a new document")
    assert fetcher.fetch(etag)[0].status_code == 200  # the new document is not the old ETag's
    held = [sent for sent, status, reached in answers if status == 304 and not reached]
    assert held, "the gateway never answered in the last seconds: nothing was proved"
    # No answer from the gateway's memory for a fetch sent once the portal would sign anew.
    assert max(held) < due, (max(held), due)
