"""Drive ``govmobile-admin`` against the real CA and MDM behind the management listener."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from govmobile_client.cli.main import cli
from tests.client.management import Appliance
from tests.support.client import Login


def login_args(appliance: Appliance, *extra: str) -> tuple[str, ...]:
    """``govmobile-admin login`` for ``appliance``, then ``extra`` (the credentials)."""
    return ("login", "--server", appliance.url, "--ca-file", str(appliance.ca_file), *extra)


#: Variables a developer's shell might carry into the tests; each test decides its own.
_CLEARED = ("GOVMOBILE_ADMIN_SERVER", "GOVMOBILE_ADMIN_TOKEN", "GOVMOBILE_ADMIN_CA_FILE", "XDG_CONFIG_HOME")


@dataclass
class Terminal:
    """One person at a terminal: a config file of their own, and the commands they type."""

    config_file: Path
    env: dict[str, str | None] = field(default_factory=dict)

    def run(
        self, *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> Result:
        environment = dict.fromkeys(_CLEARED)
        environment.update({"GOVMOBILE_ADMIN_CONFIG": str(self.config_file), **self.env, **(env or {})})
        return CliRunner().invoke(cli, list(args), input=input, env=environment, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def refused(self, *args: str, input: str | None = None, exit_code: int = 2) -> str:
        """The one error line of a command that must fail."""
        result = self.run(*args, input=input)
        assert result.exit_code == exit_code, (
            f"{args}: exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
        )
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: "), result.stderr
        return lines[-1].removeprefix("error: ")

    def login(self, appliance: Appliance, login: Login) -> str:
        return self.ok(
            *login_args(appliance),
            "--username",
            login.username,
            "--password-stdin",
            input=login.password + "\n",
        )


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    """An admin's terminal, not logged in yet."""
    return Terminal(tmp_path / "home" / ".config" / "govmobile" / "admin.json")


@pytest.fixture
def admin(terminal: Terminal, appliance: Appliance, operator: Login) -> Terminal:
    """A platform admin's terminal after `govmobile-admin login`."""
    terminal.login(appliance, operator)
    return terminal


def table_rows(output: str) -> list[dict[str, str]]:
    """A printed table back as dicts (columns split on runs of two or more spaces)."""
    lines = [line for line in output.splitlines() if line.strip()]
    headers = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(headers, re.split(r"\s{2,}", line.strip()), strict=False)) for line in lines[1:]]
