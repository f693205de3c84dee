"""Login throttling (issue 10, item 3): failed logins slow down where they come from, refusals
never tell whether a username exists, and nobody can lock an admin out from outside."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

import httpx
import pyotp
import pytest

from govmobile.core.database import Database
from tests.support.ca import Clock
from tests.support.mdm import GATEWAY_SECRET, Admin

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"


@pytest.fixture
def alice(platform: Admin) -> str:
    return str(
        platform.ok(
            "POST",
            "/api/v1/admins",
            json={"username": "alice", "role": "platform_admin", "password": PASSWORD},
        )["id"]
    )


def login(http: httpx.Client, username: str, password: str, source: str, **extra: Any) -> httpx.Response:
    """A login as the gateway forwards it: the client's address in X-Forwarded-For, with the proof."""
    headers = {"X-Forwarded-For": source, "GovMobile-Gateway-Proof": GATEWAY_SECRET}
    return http.post(
        "/api/v1/auth/login", json={"username": username, "password": password, **extra}, headers=headers
    )


def answer(response: httpx.Response) -> tuple[int, Any, str | None]:
    return response.status_code, response.json(), response.headers.get("retry-after")


def test_an_address_that_keeps_failing_is_throttled_but_the_admin_logs_in_from_another(
    alice: str, http: httpx.Client, platform: Admin, clock: Clock
) -> None:
    for _ in range(5):
        refused = login(http, "alice", WRONG, "203.0.113.7")
        assert refused.status_code == 401
        assert refused.json()["message"] == "invalid username, password or one-time code"
    throttled = login(http, "alice", PASSWORD, "203.0.113.7")  # even the right password, from there
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "too_many_attempts"
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    assert login(http, "alice", PASSWORD, "198.51.100.20").status_code == 200  # the real admin
    clock.advance(dt.timedelta(minutes=15, seconds=1))
    assert login(http, "alice", PASSWORD, "203.0.113.7").status_code == 200
    failed = platform.ok("GET", "/api/v1/audit", params={"action": "admin.login_failed"})["items"]
    assert len(failed) == 5
    assert {e["details"]["source"] for e in failed} == {"203.0.113.7"}
    assert PASSWORD not in str(failed)
    assert WRONG not in str(failed)
    throttles = platform.ok("GET", "/api/v1/audit", params={"action": "admin.login_throttled"})["items"]
    assert [e["details"] for e in throttles] == [{"source": "203.0.113.7", "limit": "source_and_name"}]


def test_the_answers_do_not_tell_whether_a_username_exists(alice: str, http: httpx.Client) -> None:
    real = [answer(login(http, "alice", WRONG, "203.0.113.7")) for _ in range(8)]
    made_up = [answer(login(http, "alicia", WRONG, "203.0.113.8")) for _ in range(8)]
    assert real == made_up
    assert [status for status, _, _ in real] == [401] * 5 + [429] * 3


def test_a_guess_spread_over_many_addresses_is_slowed_without_locking_the_admin_out(
    alice: str, http: httpx.Client, clock: Clock
) -> None:
    botnet = [f"203.0.113.{n}" for n in range(1, 11)]
    for address in botnet:
        assert login(http, "alice", WRONG, address).status_code == 401
    # Under attack, an address that failed once for the name gets no second try in the window...
    assert login(http, "alice", WRONG, botnet[0]).status_code == 429
    assert login(http, "alice", PASSWORD, botnet[0]).status_code == 429
    # ...and a fresh one still gets one: the right password (and code) from a clean address works.
    assert login(http, "alice", PASSWORD, "198.51.100.20").status_code == 200
    assert login(http, "alice", WRONG, "203.0.113.99").status_code == 401
    assert login(http, "alice", WRONG, "203.0.113.99").status_code == 429


def test_with_a_one_time_code_a_clean_address_gets_in_during_an_attack(
    alice: str, http: httpx.Client, clock: Clock
) -> None:
    session = login(http, "alice", PASSWORD, "198.51.100.20").json()["token"]
    admin = Admin(http, session)
    totp = pyotp.parse_uri(admin.ok("POST", "/api/v1/auth/totp")["provisioning_uri"])
    admin.ok("POST", "/api/v1/auth/totp/confirm", json={"code": totp.at(clock.now)})
    clock.advance(dt.timedelta(seconds=30))
    for n in range(1, 21):
        login(http, "alice", PASSWORD, f"203.0.113.{n}", totp_code="000000")
    code = totp.at(clock.now)
    assert login(http, "alice", PASSWORD, "198.51.100.21", totp_code=code).status_code == 200


def test_one_address_guessing_many_names_is_throttled_for_every_name(alice: str, http: httpx.Client) -> None:
    for n in range(20):
        assert login(http, f"user{n}", WRONG, "203.0.113.7").status_code == 401
    assert login(http, "alice", PASSWORD, "203.0.113.7").status_code == 429
    assert login(http, "alice", PASSWORD, "203.0.113.8").status_code == 200


def test_an_ipv6_host_counts_as_its_whole_network(alice: str, http: httpx.Client) -> None:
    for n in range(5):
        assert login(http, "alice", WRONG, f"2001:db8:1:2::{n + 1:x}").status_code == 401
    assert login(http, "alice", PASSWORD, "2001:db8:1:2:ffff::1").status_code == 429
    assert login(http, "alice", PASSWORD, "2001:db8:1:3::1").status_code == 200


def test_forwarded_for_is_believed_only_with_the_gateways_proof(alice: str, http: httpx.Client) -> None:
    for n in range(5):
        spoofed = http.post(
            "/api/v1/auth/login",
            json={"username": "alice", "password": WRONG},
            headers={"X-Forwarded-For": f"203.0.113.{n}", "GovMobile-Gateway-Proof": "a guess"},
        )
        assert spoofed.status_code == 401
    # All five counted against the address the MDM saw (the test client's): it is throttled.
    direct = http.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert direct.status_code == 429


def test_an_admin_unlocks_an_account_for_every_address(
    alice: str, http: httpx.Client, platform: Admin
) -> None:
    for _ in range(5):
        login(http, "alice", WRONG, "203.0.113.7")
    assert login(http, "alice", PASSWORD, "203.0.113.7").status_code == 429
    platform.ok("PATCH", f"/api/v1/admins/{alice}", json={"unlock": True})
    assert login(http, "alice", PASSWORD, "203.0.113.7").status_code == 200


def test_an_operator_on_the_host_unlocks_a_platform_admin_and_it_is_audited(
    alice: str, http: httpx.Client, platform: Admin, database_url: str, database: Database
) -> None:
    for _ in range(5):
        login(http, "alice", WRONG, "10.0.0.5")
    for n in range(20):
        login(http, f"user{n}", WRONG, "10.0.0.6")  # the office's NAT, throttled for every name
    env = {
        **os.environ,
        "GOVMOBILE_MDM_DATABASE_URL": database_url,
        "GOVMOBILE_MDM_CA_RA_SECRET": "x" * 24,
        "GOVMOBILE_MDM_GATEWAY_SECRET": GATEWAY_SECRET,
    }
    command = [sys.executable, "-m", "govmobile.mdm", "unlock-admin", "alice", "--source", "10.0.0.6"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "25 failed login(s) forgotten" in result.stdout
    assert login(http, "alice", PASSWORD, "10.0.0.5").status_code == 200
    assert login(http, "alice", PASSWORD, "10.0.0.6").status_code == 200
    unlocked = platform.ok("GET", "/api/v1/audit", params={"action": "admin.login_unlocked"})["items"]
    assert [(e["actor"], e["details"]["forgotten"]) for e in unlocked] == [("operator", 25)]


def test_a_lost_attempt_still_counts_and_parallel_guesses_cannot_slip_under_the_limit(
    alice: str, http: httpx.Client, mdm_url: str
) -> None:
    import threading

    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def guess() -> None:
        with httpx.Client(base_url=mdm_url, timeout=60) as own:
            barrier.wait()
            statuses.append(login(own, "alice", WRONG, "203.0.113.7").status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 7
