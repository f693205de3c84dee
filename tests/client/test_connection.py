"""TLS trust, addresses, and how failures reach the caller."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from govmobile.ca.hierarchy import CaLayout
from govmobile_client import GovMobileClient
from govmobile_client.errors import (
    ConnectionFailed,
    InvalidRequest,
    NotConfigured,
    NotFound,
    ServerError,
    TlsUntrusted,
    Unauthenticated,
    UnexpectedAnswer,
)
from tests.client.management import Appliance
from tests.support.mdm import Admin
from tests.support.servers import refusing_port


def test_tls_is_verified_against_the_appliance_root(appliance: Appliance, platform: Admin) -> None:
    with GovMobileClient(appliance.url, token=platform.token, ca_file=appliance.ca_file) as client:
        assert client.auth.me().username == "root-admin"
    assert appliance.url.startswith("https://")


def test_a_server_the_bundle_does_not_vouch_for_is_refused(
    appliance: Appliance, platform: Admin, constrained_ca_layout: CaLayout
) -> None:
    # the system store does not know the appliance root, and another root is no better
    for ca_file in (None, constrained_ca_layout.root_certificate):
        with (
            GovMobileClient(appliance.url, token=platform.token, ca_file=ca_file) as client,
            pytest.raises(TlsUntrusted, match="TLS certificate is not trusted") as refused,
        ):
            client.auth.me()
        assert refused.value.url == appliance.url


def test_an_unusable_ca_bundle_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotConfigured, match="does not exist"):
        GovMobileClient("https://127.0.0.1:8443", ca_file=tmp_path / "missing.crt")
    junk = tmp_path / "junk.crt"
    junk.write_text("not a certificate")
    with pytest.raises(NotConfigured, match="PEM certificates"):
        GovMobileClient("https://127.0.0.1:8443", ca_file=junk)


def test_plain_http_is_accepted_only_on_loopback() -> None:
    with pytest.raises(NotConfigured, match=r"refusing plain http to mdm\.example"):
        GovMobileClient("http://mdm.example:8002")
    with pytest.raises(NotConfigured, match="not a server URL"):
        GovMobileClient("ftp://127.0.0.1")
    GovMobileClient("http://localhost:8002").close()
    GovMobileClient("http://[::1]:8002/").close()


def test_an_unreachable_server_is_named() -> None:
    with refusing_port() as port:
        url = f"https://127.0.0.1:{port}"
        with GovMobileClient(url, token="gmt_x") as client, pytest.raises(ConnectionFailed) as failed:
            client.auth.me()
    assert str(failed.value).startswith(f"cannot reach {url}: ")
    assert not isinstance(failed.value, TlsUntrusted)


def test_refusals_carry_status_code_and_message(client: GovMobileClient) -> None:
    with pytest.raises(NotFound) as missing:
        client.devices.show("no-such-device")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert missing.value.message == "no device no-such-device"
    with pytest.raises(InvalidRequest) as invalid:
        client.tenants.create("Not A Slug", "Bad")
    assert invalid.value.status == 422
    assert "slug must be" in invalid.value.message


def test_a_bad_token_and_no_token(appliance: Appliance) -> None:
    with GovMobileClient(appliance.url, token="gmt_forged", ca_file=appliance.ca_file) as client:
        with pytest.raises(Unauthenticated, match="log in again"):
            client.auth.me()
        client.connection.token = None
        with pytest.raises(NotConfigured, match="log in first"):
            client.auth.me()


def test_ids_stay_one_path_segment(client: GovMobileClient) -> None:
    # without escaping, "../tenants" would turn GET /devices/{id} into GET /tenants
    for hostile in ("../tenants", "..", "a/b", "x?y=1"):
        with pytest.raises(NotFound):
            client.devices.show(hostile)


def test_answers_that_are_not_the_api_are_named() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/me":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if request.url.path == "/api/v1/tenants":
            return httpx.Response(200, json={"unexpected": True})
        if request.url.path == "/api/v1/audit/verify":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(301, headers={"location": "https://elsewhere/"})

    transport = httpx.MockTransport(gateway)
    with GovMobileClient("https://127.0.0.1:8443", token="gmt_x", transport=transport) as client:
        with pytest.raises(ServerError, match="answered 502 Bad Gateway to GET /api/v1/auth/me") as bad:
            client.auth.me()
        assert bad.value.code == "http_502"
        with pytest.raises(UnexpectedAnswer, match="not what the API promises"):
            client.tenants.list()
        with pytest.raises(ConnectionFailed, match="did not answer within 30 seconds"):
            client.audit.verify()
        with pytest.raises(UnexpectedAnswer, match="redirected to https://elsewhere/"):
            client.devices.show("x")
