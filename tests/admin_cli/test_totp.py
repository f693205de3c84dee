"""totp enable, and logging in with one-time codes afterwards, through the gateway's management listener."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess

import pyotp

from tests.admin_cli.conftest import Terminal, login_args
from tests.admin_cli.test_console_script import SCRIPT
from tests.client.management import Appliance
from tests.support.ca import Clock
from tests.support.client import Login

_LATER = "confirm it with `govmobile-admin totp enable --code <code>`"


def printed_secret(output: str) -> pyotp.TOTP:
    """The TOTP of the provisioning URI a command printed, as an authenticator app reads it."""
    found = re.search(r"^provisioning uri: (otpauth://\S+)$", output, re.MULTILINE)
    assert found, output
    totp = pyotp.parse_uri(found.group(1))
    assert isinstance(totp, pyotp.TOTP)
    assert (totp.issuer, totp.name) == ("GovMobile", "ops-lead")
    return totp


def test_enable_with_a_code_from_the_printed_uri_then_logins_need_one(
    terminal: Terminal, gateway_appliance: Appliance, operator: Login, clock: Clock
) -> None:
    terminal.login(gateway_appliance, operator)
    started = terminal.run("totp", "enable")  # nobody at the prompt: started, not on
    assert started.exit_code == 2
    assert "▀" in started.stdout or "▄" in started.stdout  # the QR code
    assert started.stderr.endswith(f"error: no code was typed, so one-time codes are not on yet; {_LATER}\n")
    totp = printed_secret(started.stdout)
    password = operator.password + "\n"
    terminal.ok(
        *login_args(gateway_appliance, "-u", "ops-lead", "--password-stdin"), input=password
    )  # not on yet

    assert terminal.ok("totp", "enable", "--code", totp.at(clock.now)) == (
        "one-time codes are on for ops-lead: log in with --totp (or --totp-code) from now on\n"
    )
    assert [a["totp_enabled"] for a in terminal.json("admin", "list") if a["username"] == "ops-lead"] == [
        True
    ]
    assert (
        terminal.refused(*login_args(gateway_appliance, "-u", "ops-lead", "--password-stdin"), input=password)
        == "invalid username, password or one-time code"
    )
    later = totp.at(clock.now + dt.timedelta(seconds=30))  # the next code, as a person would type it
    said = terminal.ok(
        *login_args(gateway_appliance, "-u", "ops-lead", "--password-stdin", "--totp-code", later),
        input=password,
    )
    assert said.startswith(f"logged in to {gateway_appliance.url} as ops-lead (platform_admin)")
    assert terminal.json("whoami")["username"] == "ops-lead"


def test_codes_that_confirm_nothing(
    terminal: Terminal, gateway_appliance: Appliance, operator: Login, clock: Clock
) -> None:
    terminal.login(gateway_appliance, operator)
    assert terminal.refused("totp", "enable", "--code", "123456") == (
        "no enrollment is waiting for a code: run `govmobile-admin totp enable` first, scan, then confirm"
    )
    uri = terminal.json("totp", "enable")["provisioning_uri"]  # scripts: no prompt
    totp = printed_secret(f"provisioning uri: {uri}")
    wrong = totp.at(clock.now + dt.timedelta(hours=1))
    assert terminal.refused("totp", "enable", "--code", wrong) == (
        f"the one-time code does not match; check the authenticator's clock; one-time codes are not on yet, {_LATER}"
    )
    code = totp.at(clock.now)
    terminal.ok("totp", "enable", "--code", f"{code[:3]} {code[3:]}")  # as some apps show it
    assert (
        terminal.refused(
            *login_args(gateway_appliance, "-u", "ops-lead", "--password-stdin"),
            input=operator.password + "\n",
        )
        == "invalid username, password or one-time code"
    )


def test_a_person_types_the_code_at_the_prompt(
    terminal: Terminal, gateway_appliance: Appliance, operator: Login, clock: Clock
) -> None:
    terminal.login(gateway_appliance, operator)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GOVMOBILE_ADMIN_")}
    environment["GOVMOBILE_ADMIN_CONFIG"] = str(terminal.config_file)
    with subprocess.Popen(
        [str(SCRIPT), "totp", "enable"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    ) as enabling:
        assert enabling.stdout is not None
        first = enabling.stdout.readline()  # the URI comes before the prompt waits for the code
        code = printed_secret(first).at(clock.now)
        rest, errors = enabling.communicate(code + "\n", timeout=60)
    assert enabling.returncode == 0, errors
    assert "One-time code: " in errors
    assert rest.endswith(
        "one-time codes are on for ops-lead: log in with --totp (or --totp-code) from now on\n"
    )
    assert (
        terminal.run(
            *login_args(gateway_appliance, "-u", "ops-lead", "--password-stdin"),
            input=operator.password + "\n",
        ).exit_code
        == 2
    )
