"""The installed ``govmobile-admin`` console script, run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.admin_cli.conftest import login_args
from tests.client.management import Appliance
from tests.support.client import Login
from tests.support.devices import ScriptedDevice
from tests.support.mdm import Department
from tests.support.servers import refusing_port

SCRIPT = Path(sys.executable).parent / "govmobile-admin"


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: run `.venv/bin/pip install --no-deps -e client`"
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVMOBILE_ADMIN_")}
    base["GOVMOBILE_ADMIN_CONFIG"] = str(tmp_path / "admin.json")

    def run(
        *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**base, **(env or {})},
            timeout=60,
        )

    return run


def test_the_console_script_end_to_end(
    run: Callable[..., subprocess.CompletedProcess[str]],
    appliance: Appliance,
    operator: Login,
    water: Department,
    device_factory: Callable[..., ScriptedDevice],
) -> None:
    wrong = run(
        *login_args(appliance),
        "-u",
        "ops-lead",
        "--password-stdin",
        stdin="nope\n",
    )
    assert (wrong.returncode, wrong.stderr) == (2, "error: invalid username, password or one-time code\n")
    login = run(
        "login", "--server", appliance.url, "--ca-file", str(appliance.ca_file), "-u", "ops-lead", "--password-stdin",
        stdin=operator.password + "\n",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    issued = run("token", "create", "--tenant", "water", "--person", "water-inspector")
    assert issued.returncode == 0, issued.stderr
    assert "▀" in issued.stdout or "▄" in issued.stdout  # the QR code
    token = next(line.split()[1] for line in issued.stdout.splitlines() if line.startswith("token:"))
    tablet = device_factory()
    assert tablet.enroll(token).status_code == 200
    listed = run("device", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [d["id"] for d in json.loads(listed.stdout)["items"]] == [tablet.device_id]
    missing = run("device", "show", "no-such-device")
    assert (missing.returncode, missing.stderr) == (2, "error: no device no-such-device\n")


def test_an_unreachable_server_from_the_console_script(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    with refusing_port() as port:
        result = run(
            "device",
            "list",
            env={"GOVMOBILE_ADMIN_SERVER": f"https://127.0.0.1:{port}", "GOVMOBILE_ADMIN_TOKEN": "gmt_x"},
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach https://127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
