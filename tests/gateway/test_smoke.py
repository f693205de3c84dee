from __future__ import annotations

from typing import Any

from tests.support.devices import ScriptedDevice
from tests.support.gateway import Gateway
from tests.support.upstreams import RecordingUpstream


def test_open_the_office_app(
    gateway: Gateway,
    mobile: ScriptedDevice,
    oa_route: dict[str, Any],
    upstream: tuple[RecordingUpstream, str],
) -> None:
    with mobile.tls_client() as client:
        response = client.get("/apps/oa/documents/42")
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "/documents/42"
    seen = upstream[0].headers_seen()[-1]
    assert "govmobile-assertion" in seen
    assert seen["x-remote-user"] == "water-inspector"
