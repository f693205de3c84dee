"""The deployed appliance as the tests see it: the root command, Docker, and the CA over real TLS.

Everything goes through real processes and sockets: ./govmobile, the docker CLI, curl and openssl.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = os.environ.get("GOVMOBILE_DEPLOYMENT", "aio")
SECRETS = ROOT / "secrets" / DEPLOYMENT
ROOT_CERTIFICATE = SECRETS / "pki" / "root.crt"
CA_CONTAINER = "govmobile-ca"
MDM_CONTAINER = "govmobile-mdm"
GATEWAY_CONTAINER = "govmobile-gateway"
PORTAL_CONTAINER = "govmobile-portal"
OFFICE_CONTAINER = "govmobile-office-app"
CA_NAME = "ca.govmobile.internal"
CA_PORT = 8001
SERVICE_UID = 10001
# Extra ansible-playbook options for every deploy the tests run (for example
# '-e {"images_source_dirs": [...]}' while other people edit the working tree).
EXTRA_ARGS = shlex.split(os.environ.get("GOVMOBILE_DEPLOY_ARGS", ""))


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str

    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counters of the (single) host, e.g. {"ok": 120, "changed": 0, ...}."""
        lines = [line for line in self.output.splitlines() if re.match(r"^\S+\s+: ok=", line)]
        assert lines, f"no PLAY RECAP in the output:\n{self.output[-3000:]}"
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", lines[-1])}

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported changed, for failure messages."""
        names, current = [], ""
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                current = line
            elif line.startswith("changed:"):
                names.append(current)
        return names


def govmobile(
    *args: str, timeout: float = 1800, extra: bool = True, env: dict[str, str] | None = None
) -> Run:
    """Run the root command like an operator would, and capture what it printed."""
    argv = [str(ROOT / "govmobile"), *args, *(EXTRA_ARGS if extra else [])]
    result = subprocess.run(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", **(env or {})},
        check=False,
    )
    return Run(result.returncode, result.stdout)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def inspect(kind: str, name: str) -> dict:
    """`docker <kind> inspect NAME` as a dict, or {} when there is no such object."""
    result = subprocess.run(["docker", kind, "inspect", name], capture_output=True, text=True, check=False)
    return json.loads(result.stdout)[0] if result.returncode == 0 else {}


def deployment_containers() -> dict[str, str]:
    """Name -> start time of every container of the deployment (its label), running or not."""
    names = docker(
        "ps", "-a", "--filter", f"label=govmobile.deployment={DEPLOYMENT}", "--format", "{{.Names}}"
    ).split()
    return {name: inspect("container", name)["State"]["StartedAt"] for name in names}


def ca_address() -> str:
    container = inspect("container", CA_CONTAINER)
    assert container, f"no {CA_CONTAINER} container: deploy first (./govmobile deploy)"
    addresses = [n["IPAddress"] for n in container["NetworkSettings"]["Networks"].values() if n["IPAddress"]]
    assert addresses, f"{CA_CONTAINER} has no address"
    return addresses[0]


def curl_ca(path: str, *options: str) -> subprocess.CompletedProcess[bytes]:
    """curl the CA by its internal name, verifying its certificate against the controller's root."""
    return subprocess.run(
        [
            "curl", "--silent", "--show-error", "--fail", "--max-time", "20",
            "--cacert", str(ROOT_CERTIFICATE),
            "--resolve", f"{CA_NAME}:{CA_PORT}:{ca_address()}",
            *options,
            f"https://{CA_NAME}:{CA_PORT}{path}",
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip


def ra_secret(name: str = "deploy") -> str:
    return (SECRETS / "ca" / f"ra-{name}").read_text().strip()
