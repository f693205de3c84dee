"""Login throttling through the real management listener: the MDM counts failures by the address
nginx saw, which a client cannot forge, so an attacker throttles only itself."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.gateway import Gateway
from tests.support.mdm import Admin

PASSWORD = "correct horse battery staple"


@contextmanager
def client_from(gateway: Gateway, address: str) -> Iterator[httpx.Client]:
    """A client whose connections leave from this loopback address (all of 127/8 is local)."""
    context = ssl.create_default_context(cafile=str(gateway.tls.root))
    port = gateway.management_url.rsplit(":", 1)[1]
    transport = httpx.HTTPTransport(verify=context, local_address=address)
    with httpx.Client(base_url=f"https://127.0.0.1:{port}", transport=transport, timeout=30) as client:
        yield client


def login(client: httpx.Client, password: str, **headers: str) -> httpx.Response:
    return client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": password}, headers=headers
    )


def test_an_attacker_throttles_itself_and_not_the_admin_whatever_it_forwards(
    gateway: Gateway, management: Admin
) -> None:
    management.ok(
        "POST", "/api/v1/admins", json={"username": "alice", "role": "platform_admin", "password": PASSWORD}
    )
    with client_from(gateway, "127.0.0.2") as attacker:
        for n in range(5):
            forged = {
                "X-Forwarded-For": f"198.51.100.{n}",
                "GovMobile-Gateway-Proof": "guess",
                "Forwarded": "for=1.2.3.4",
            }
            assert login(attacker, "wrong password, again", **forged).status_code == 401
        refused = login(attacker, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
    with client_from(gateway, "127.0.0.3") as admin:
        assert login(admin, PASSWORD).status_code == 200
    failed = management.ok("GET", "/api/v1/audit", params={"action": "admin.login_failed"})["items"]
    assert {e["details"]["source"] for e in failed} == {"127.0.0.2"}
    logged_in = management.ok("GET", "/api/v1/audit", params={"action": "admin.login"})["items"]
    assert logged_in[0]["details"]["source"] == "127.0.0.3"
