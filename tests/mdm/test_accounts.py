"""Admin accounts: login, TOTP, API tokens, bootstrap (throttling: test_logins.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pyotp

from govmobile.core.accounts import Role
from govmobile.core.database import Database
from tests.support.admins import make_admin
from tests.support.ca import Clock
from tests.support.mdm import GATEWAY_SECRET, Admin

PASSWORD = "correct horse battery staple"


def _create(platform: Admin, username: str = "alice") -> None:
    platform.ok(
        "POST", "/api/v1/admins", json={"username": username, "role": "platform_admin", "password": PASSWORD}
    )


def test_login_me_logout(platform: Admin, http: httpx.Client) -> None:
    _create(platform)
    issued = http.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()
    alice = Admin(http, issued["token"])
    assert alice.ok("GET", "/api/v1/auth/me")["role"] == "platform_admin"
    alice.ok("POST", "/api/v1/auth/logout")
    assert alice("GET", "/api/v1/auth/me").status_code == 401


def test_totp_is_required_once_enabled(platform: Admin, http: httpx.Client, clock: Clock) -> None:
    _create(platform)
    alice = Admin(
        http,
        http.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()["token"],
    )
    uri = alice.ok("POST", "/api/v1/auth/totp")["provisioning_uri"]
    totp = pyotp.parse_uri(uri)
    assert alice("POST", "/api/v1/auth/totp/confirm", json={"code": "000000"}).status_code == 400
    alice.ok("POST", "/api/v1/auth/totp/confirm", json={"code": totp.at(clock.now)})
    assert (
        http.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    )
    # The code that confirmed enrollment cannot log in: each code works once (RFC 6238 §5.2).
    login = {"username": "alice", "password": PASSWORD, "totp_code": totp.at(clock.now)}
    assert http.post("/api/v1/auth/login", json=login).status_code == 401
    clock.advance(dt.timedelta(seconds=30))
    login["totp_code"] = totp.at(clock.now)
    assert http.post("/api/v1/auth/login", json=login).status_code == 200
    assert http.post("/api/v1/auth/login", json=login).status_code == 401  # replayed


def test_api_tokens_are_revocable(platform: Admin, http: httpx.Client) -> None:
    issued = platform.ok("POST", "/api/v1/tokens", json={"name": "nightly export", "ttl_days": 30})
    robot = Admin(http, issued["token"])
    assert robot.ok("GET", "/api/v1/auth/me")["username"] == "root-admin"
    listed = platform.ok("GET", "/api/v1/tokens")
    assert issued["token"] not in str(listed)
    platform.ok("DELETE", f"/api/v1/tokens/{issued['id']}")
    assert robot("GET", "/api/v1/auth/me").status_code == 401


def test_short_passwords_and_bad_usernames_are_refused(platform: Admin) -> None:
    short = platform(
        "POST", "/api/v1/admins", json={"username": "bob", "role": "platform_admin", "password": "short"}
    )
    assert short.status_code == 422
    assert "password" in short.json()["message"]
    bad = platform(
        "POST", "/api/v1/admins", json={"username": "Bob Smith!", "role": "auditor", "password": PASSWORD}
    )
    assert bad.status_code == 422


def test_bootstrap_admin_from_a_secret_file(database_url: str, database: Database, tmp_path: Path) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("bootstrap-password-0123456789\n")
    env = {
        **os.environ,
        "GOVMOBILE_MDM_DATABASE_URL": database_url,
        "GOVMOBILE_MDM_CA_RA_SECRET": "x" * 24,
        "GOVMOBILE_MDM_GATEWAY_SECRET": GATEWAY_SECRET,
        "GOVMOBILE_MDM_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(secret),
    }
    command = [sys.executable, "-m", "govmobile.mdm", "bootstrap-admin", "--username", "first-admin"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert "already exists" in again.stdout
    assert "bootstrap-password" not in first.stdout + first.stderr + again.stdout + again.stderr


def test_mdm_refuses_to_start_without_its_secrets(database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVMOBILE_")}
    env.update({"GOVMOBILE_MDM_DATABASE_URL": database_url, "GOVMOBILE_MDM_GATEWAY_SECRET": "changeme"})
    result = subprocess.run(
        [sys.executable, "-m", "govmobile.mdm", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "GOVMOBILE_MDM_CA_RA_SECRET" in result.stderr
    assert "GOVMOBILE_MDM_GATEWAY_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_disabled_accounts_cannot_use_their_tokens(
    platform: Admin, database: Database, http: httpx.Client
) -> None:
    token = make_admin(database, Role.AUDITOR, username="watcher")
    watcher = Admin(http, token)
    assert watcher("GET", "/api/v1/auth/me").status_code == 200
    account = next(a for a in platform.ok("GET", "/api/v1/admins") if a["username"] == "watcher")
    platform.ok("PATCH", f"/api/v1/admins/{account['id']}", json={"disabled": True})
    assert watcher("GET", "/api/v1/auth/me").status_code == 401
