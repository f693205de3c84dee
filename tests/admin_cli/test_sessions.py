"""login, logout, whoami, the stored session and the environment overrides."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pyotp
import pytest

from govmobile_client import GovMobileClient
from govmobile_client.errors import Unauthenticated
from tests.admin_cli.conftest import Terminal, login_args
from tests.client.management import Appliance
from tests.support.ca import Clock
from tests.support.client import Login, make_login
from tests.support.mdm import Admin, Department
from tests.support.servers import refusing_port


def test_a_wrong_password_is_one_clear_line_and_stores_nothing(
    terminal: Terminal, appliance: Appliance, operator: Login
) -> None:
    message = terminal.refused(
        *login_args(appliance),
        "-u",
        operator.username,
        "--password-stdin",
        input="wrong password\n",
    )
    assert message == "invalid username, password or one-time code"
    assert not terminal.config_file.exists()


def test_login_keeps_the_session_privately_and_logout_ends_it(
    terminal: Terminal, appliance: Appliance, operator: Login
) -> None:
    said = terminal.login(appliance, operator)
    assert said.startswith(f"logged in to {appliance.url} as ops-lead (platform_admin); the session ends ")
    assert stat.S_IMODE(terminal.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(terminal.config_file.parent.stat().st_mode) == 0o700
    stored = json.loads(terminal.config_file.read_text())
    assert stored["server"] == appliance.url
    assert stored["ca_file"] == str(appliance.ca_file.resolve())
    token = stored["token"]
    me = terminal.json("whoami")
    assert (me["username"], me["role"], me["token_source"], me["server"]) == (
        "ops-lead",
        "platform_admin",
        "login",
        appliance.url,
    )
    assert "role:         platform_admin" in terminal.ok("whoami")
    assert terminal.ok("logout") == f"logged out of {appliance.url}\n"
    assert "token" not in json.loads(terminal.config_file.read_text())
    with (
        GovMobileClient(appliance.url, token=token, ca_file=appliance.ca_file) as client,
        pytest.raises(Unauthenticated),
    ):
        client.auth.me()  # the server refuses the old session
    assert terminal.ok("logout") == "not logged in\n"
    assert terminal.refused("device", "list").startswith(
        f"not logged in to {appliance.url}: run `govmobile-admin login`"
    )


def test_login_asks_for_what_is_missing_without_echoing_the_password(
    terminal: Terminal, appliance: Appliance, operator: Login
) -> None:
    result = terminal.run(
        *login_args(appliance),
        input=f"ops-lead\n{operator.password}\n",
    )
    assert result.exit_code == 0, result.stderr
    assert "Username" in result.stderr
    assert "Password" in result.stderr
    assert operator.password not in result.output


def test_totp_codes(terminal: Terminal, appliance: Appliance, operator: Login, clock: Clock) -> None:
    # Codes come from the MDM's injected clock, not the wall clock, so no step boundary can fall
    # between the confirming code and the next one.
    with GovMobileClient(appliance.url, ca_file=appliance.ca_file) as client:
        client.auth.login(operator.username, operator.password)
        totp = pyotp.parse_uri(client.auth.start_totp().provisioning_uri)
        client.auth.confirm_totp(totp.at(clock.now))
    base = ["login", "--server", appliance.url, "--ca-file", str(appliance.ca_file), "-u", "ops-lead"]
    assert terminal.refused(*base, "--password-stdin", input=operator.password + "\n").startswith("invalid")
    # Each code logs in once (RFC 6238 §5.2): the confirming one is spent, so use the next one.
    following = totp.at(clock.now + dt.timedelta(seconds=30))
    terminal.ok(*base, "--totp", input=f"{operator.password}\n{following}\n")
    replayed = terminal.refused(
        *base, "--password-stdin", "--totp-code", following, input=operator.password + "\n"
    )
    assert replayed.startswith("invalid")


def test_scripts_use_an_api_token_from_the_environment(admin: Terminal, appliance: Appliance) -> None:
    issued = admin.json("api-token", "create", "nightly", "--ttl-days", "1")
    script = Terminal(admin.config_file.with_name("nobody.json"))
    script.env = {
        "GOVMOBILE_ADMIN_SERVER": appliance.url,
        "GOVMOBILE_ADMIN_CA_FILE": str(appliance.ca_file),
        "GOVMOBILE_ADMIN_TOKEN": issued["token"],
    }
    assert script.json("whoami")["token_source"] == "environment"
    assert "logout ends only sessions" in script.refused("logout")
    tokens = {t["id"]: t for t in admin.json("api-token", "list")}
    assert tokens[issued["id"]]["name"] == "nightly"
    assert admin.ok("api-token", "revoke", issued["id"]).startswith(f"revoked token {issued['id']} (nightly)")
    assert script.refused("whoami") == "the bearer token is invalid, expired or revoked; log in again"


def test_the_stored_session_never_goes_to_another_server(admin: Terminal) -> None:
    elsewhere = {"GOVMOBILE_ADMIN_SERVER": "https://127.0.0.2:8443"}
    result = admin.run("device", "list", env=elsewhere)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: not logged in to https://127.0.0.2:8443: run `govmobile-admin login`, "
        "or set GOVMOBILE_ADMIN_TOKEN to an API token\n"
    )


def test_an_unreachable_server_exits_1_with_its_address(terminal: Terminal) -> None:
    with refusing_port() as port:
        url = f"https://127.0.0.1:{port}"
        message = terminal.refused(
            "login", "--server", url, "-u", "x", "--password-stdin", input="pw\n", exit_code=1
        )
        assert message.startswith(f"cannot reach {url}: ")
        terminal.env = {"GOVMOBILE_ADMIN_SERVER": url, "GOVMOBILE_ADMIN_TOKEN": "gmt_x"}
        assert terminal.refused("device", "list", exit_code=1).startswith(f"cannot reach {url}")


def test_an_untrusted_server_names_the_ca_file_option(
    terminal: Terminal, appliance: Appliance, operator: Login
) -> None:
    message = terminal.refused(
        "login",
        "--server",
        appliance.url,
        "-u",
        "ops-lead",
        "--password-stdin",
        input=operator.password + "\n",
        exit_code=1,
    )
    assert "TLS certificate is not trusted" in message
    assert "--ca-file" in message


def test_a_config_file_others_can_read_is_reported(admin: Terminal) -> None:
    admin.config_file.chmod(0o644)
    result = admin.run("whoami")
    assert result.exit_code == 0
    assert f"warning: {admin.config_file} holds a session token and others can read it" in result.stderr


def test_a_tenant_admin_sees_its_own_tenant(
    terminal: Terminal, appliance: Appliance, platform: Admin, water: Department
) -> None:
    lead = make_login(platform, "tenant_admin", water.tenant_id)
    terminal.login(appliance, lead)
    me = terminal.json("whoami")
    assert (me["role"], me["tenant_id"], me["tenant_slug"]) == ("tenant_admin", water.tenant_id, "water")
