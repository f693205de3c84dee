"""The typed client's app portal calls: uploads stream from disk, and everything else reaches the
real portal behind the management listener with the client's own models and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from govmobile_client import GovMobileClient
from govmobile_client.connection import UPLOAD_CHUNK
from govmobile_client.errors import FileChanged, InvalidRequest, NotConfigured, NotFound, PermissionDenied
from govmobile_client.models import Intent, ReleaseState, TargetKind, Track
from tests.client.management import Appliance
from tests.support.apks import ApkFactory, AppSpec
from tests.support.client import make_login
from tests.support.mdm import Admin, Department
from tests.support.servers import serving


class Recorder:
    """A server that records how an upload's body arrives (real sockets, no portal behind it)."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.pieces: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        while True:
            message = await receive()
            if message.get("body"):
                self.pieces.append(len(message["body"]))
            if not message.get("more_body", False):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"error": "not_an_apk", "message": "recorded"}'})


def test_an_upload_is_streamed_with_its_length_and_never_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.apk"
    big.write_bytes(b"\x5a" * (UPLOAD_CHUNK * 6 + 123))
    recorder = Recorder()
    with (
        serving(recorder) as url,
        GovMobileClient(url, token="t") as client,
        pytest.raises(InvalidRequest, match="recorded"),
    ):
        client.releases.upload(big, tenant_id="water")
    assert recorder.headers["content-length"] == str(big.stat().st_size)
    assert "transfer-encoding" not in recorder.headers
    assert recorder.headers["content-type"] == "application/vnd.android.package-archive"
    assert sum(recorder.pieces) == big.stat().st_size
    assert max(recorder.pieces) <= UPLOAD_CHUNK * 2  # arrives in pieces, not as one buffered body


def test_a_file_that_grows_while_it_is_sent_is_an_error_of_its_own(tmp_path: Path) -> None:
    growing = tmp_path / "growing.apk"
    growing.write_bytes(b"\x00" * (UPLOAD_CHUNK * 3))

    class GrowsTheFile(httpx.BaseTransport):
        """Stands in for the server so that the file changes between two chunks, every time (over
        a socket, how far the client has read when it changes is a race)."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            assert isinstance(request.stream, httpx.SyncByteStream)
            for index, _ in enumerate(request.stream):
                if index == 0:
                    with growing.open("ab") as extra:
                        extra.write(b"\x01" * UPLOAD_CHUNK)
            return httpx.Response(201, json={})

    with (
        GovMobileClient("http://127.0.0.1:9", token="t", transport=GrowsTheFile()) as client,
        pytest.raises(FileChanged, match="changed while it was being sent"),
    ):
        client.releases.upload(growing)
    with (
        GovMobileClient("http://127.0.0.1:9", token="t") as client,
        pytest.raises(NotConfigured, match="cannot read"),
    ):
        client.releases.upload(tmp_path / "missing.apk")


def test_the_portal_through_the_typed_client(
    portal_appliance: Appliance,
    platform: Admin,
    water: Department,
    fire: Department,
    apks: ApkFactory,
    portal_device_factory: Any,
) -> None:
    with GovMobileClient(
        portal_appliance.url, token=platform.token, ca_file=portal_appliance.ca_file
    ) as client:
        release = client.releases.upload(apks.build(AppSpec()), tenant_id=water.tenant_id)
        assert (release.state, release.signers) == (ReleaseState.DRAFT, [apks.publisher.certificate_sha256])
        app = client.apps.resolve(release.package)
        assert client.apps.update(app.id, category="field-work").category == "field-work"
        assert client.releases.approve(release.id).approved_by == platform_actor(client)
        assert client.releases.publish(release.id, Track.PILOT).track is Track.PILOT
        device = portal_device_factory(water)
        assignment = client.assignments.create(
            app.id,
            (TargetKind.DEVICE, device.id),
            Intent.AVAILABLE,
            track=Track.PILOT,
            tenant_id=water.tenant_id,
        )
        assert [a.id for a in client.assignments.list(app_id=app.id)] == [assignment.id]
        desired = client.assignments.device_apps(device.id)
        assert [(a.package, a.intent, a.version_code) for a in desired.apps] == [
            (release.package, Intent.AVAILABLE, 1)
        ]
        rules = client.app_rules.show(water.tenant_id)
        assert client.app_rules.set(
            water.tenant_id, rules.model_copy(update={"second_approval": True})
        ).second_approval
        client.assignments.remove(assignment.id)
        with pytest.raises(NotFound):
            client.assignments.remove(assignment.id)
        assert client.releases.retire(release.id).state is ReleaseState.RETIRED

    auditor = make_login(platform, "auditor")
    token = platform.ok(
        "POST", "/api/v1/auth/login", json={"username": auditor.username, "password": auditor.password}
    )
    with GovMobileClient(
        portal_appliance.url, token=token["token"], ca_file=portal_appliance.ca_file
    ) as client:
        with pytest.raises(PermissionDenied):
            client.releases.upload(apks.build(AppSpec(version_code=2)))
        assert [a.package for a in client.apps.list()] == [release.package]


def platform_actor(client: GovMobileClient) -> str:
    return f"admin:{client.auth.me().username}"
