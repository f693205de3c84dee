#!/usr/bin/env python3
"""Fleet benchmark: 1,000 simulated devices enroll and check in, as the appliance will run them.

Processes, as deployed (SQLite, durable commits, one shared database):

- ``govmobile-ca serve`` (its default 2 workers) and ``govmobile-mdm serve`` (its default 1
  worker), configured by environment, after ``govmobile-db upgrade`` and
  ``govmobile-mdm bootstrap-admin``;
- in front of the MDM, the mutual-TLS gateway stand-in (tests/support/gateway_stub.py, run as a
  process): it terminates TLS, verifies each device's certificate against the CA and its CRL,
  and forwards with the Client-Cert and gateway-proof headers. It is Python and asyncio, not
  the nginx data plane the real gateway will be, so it costs CPU the appliance will not spend;
- ``govmobile-device simulate`` in its own process: one P-256 key, certificate and mutual-TLS
  connection per device.

The simulator runs twice on the same fleet size: at a steady rate the appliance should sustain
(latency as devices see it), and far above capacity (open loop, up to 256 requests in flight)
to find the throughput ceiling. Every run also queues commands, which devices answer.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.machine import describe

DEVICES = 1000
#: A heartbeat the appliance sustains with room to spare: each device checks in every 20 s here
#: (the default policy asks every 15 minutes, so this is a fleet of about 45,000 such devices).
STEADY_RATE = 50.0
#: Far above capacity: what the appliance manages at most.
CEILING_RATE = 1000.0
DURATION = 40.0
COMMANDS = 50
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            error = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"{name} did not start: {error[-2000:]}")
        time.sleep(0.2)


class Appliance:
    """CA, MDM and the gateway stand-in, started as processes in ``work``."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: list[subprocess.Popen[bytes]] = []
        self.admin_password = secrets.token_urlsafe(18)
        self.ca_port, self.mdm_port = free_port(), free_port()
        self.ca_url = f"http://127.0.0.1:{self.ca_port}"
        self.mdm_url = f"http://127.0.0.1:{self.mdm_port}"
        self.gateway_url = ""

    def secret_file(self, name: str) -> Path:
        path = self.work / name
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
        return path

    @staticmethod
    def serve(program: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / program), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def start(self) -> None:
        work = self.work
        database = f"sqlite:///{work / 'govmobile.sqlite3'}"
        subprocess.run(
            [str(BIN / "govmobile-ca"), "init", "--ca-dir", str(work / "ca")], check=True, capture_output=True
        )
        subprocess.run(
            [str(BIN / "govmobile-db"), "upgrade"],
            check=True,
            capture_output=True,
            env={**os.environ, "GOVMOBILE_DB_DATABASE_URL": database},
        )
        mdm_ra, deploy_ra = self.secret_file("mdm-ra"), self.secret_file("deploy-ra")
        gateway_secret = self.secret_file("gateway-proof")
        ca_env = {
            **os.environ,
            "GOVMOBILE_CA_CA_DIR": str(work / "ca"),
            "GOVMOBILE_CA_DATABASE_URL": database,
            "GOVMOBILE_CA_RA_SECRETS": json.dumps(
                {"mdm": mdm_ra.read_text(), "deploy": deploy_ra.read_text()}
            ),
            "GOVMOBILE_CA_LISTEN_PORT": str(self.ca_port),
            "GOVMOBILE_CA_LOG_LEVEL": "warning",
        }
        self.processes.append(self.serve("govmobile-ca", ca_env))
        wait_healthy(self.ca_url, self.processes[-1], "the CA")
        password_file = work / "admin-password"
        password_file.write_text(self.admin_password)
        mdm_env = {
            **os.environ,
            "GOVMOBILE_MDM_DATABASE_URL": database,
            "GOVMOBILE_MDM_CA_URL": self.ca_url,
            "GOVMOBILE_MDM_CA_RA_SECRET": mdm_ra.read_text(),
            "GOVMOBILE_MDM_GATEWAY_SECRET": gateway_secret.read_text(),
            "GOVMOBILE_MDM_LISTEN_PORT": str(self.mdm_port),
            "GOVMOBILE_MDM_LOG_LEVEL": "warning",
        }
        subprocess.run(
            [str(BIN / "govmobile-mdm"), "bootstrap-admin", "--password-file", str(password_file)],
            check=True,
            capture_output=True,
            env=mdm_env,
        )
        self.processes.append(self.serve("govmobile-mdm", mdm_env))
        wait_healthy(self.mdm_url, self.processes[-1], "the MDM")
        stub = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.gateway_stub",
                "--upstream",
                self.mdm_url,
                "--ca-url",
                self.ca_url,
                "--ra",
                "deploy",
                "--ra-secret-file",
                str(deploy_ra),
                "--gateway-secret-file",
                str(gateway_secret),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.processes.append(stub)
        assert stub.stdout is not None
        line = stub.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            raise SystemExit(
                f"the gateway stand-in did not start: {line} {stub.stderr.read().decode() if stub.stderr else ''}"
            )
        self.gateway_url = line.removeprefix("listening on ")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def simulate(self, rate: float) -> dict[str, Any]:
        command = [
            str(BIN / "govmobile-device"),
            "simulate",
            "--server",
            self.gateway_url,
            "--admin-url",
            self.mdm_url,
            "--admin-user",
            "admin",
            "--devices",
            str(DEVICES),
            "--rate",
            str(rate),
            "--duration",
            str(DURATION),
            "--commands",
            str(COMMANDS),
            "--json",
        ]
        result = subprocess.run(
            command,
            env={**os.environ, "GOVMOBILE_ADMIN_PASSWORD": self.admin_password},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        try:
            report: dict[str, Any] = json.loads(result.stdout)
        except ValueError:
            report = {}
        if result.returncode != 0 or not report:
            raise SystemExit(f"the simulator failed ({result.returncode}): {result.stderr[-3000:]}")
        return report


def row(label: str, report: dict[str, Any]) -> str:
    latency = report["checkin_latency_ms"]
    errors = sum(report["checkin_errors"].values())
    return (
        f"| {label} | {report['target_rate']:g}/s | {report['checkin_throughput']:.0f}/s | "
        f"{latency['p50']:.1f} ms | {latency['p95']:.1f} ms | {latency['p99']:.1f} ms | {errors} |"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        appliance = Appliance(Path(tmp))
        try:
            appliance.start()
            # The machine is shared: say how busy it was, since other work competes for its cores.
            load = [os.getloadavg()[0]]
            steady = appliance.simulate(STEADY_RATE)
            load.append(os.getloadavg()[0])
            ceiling = appliance.simulate(CEILING_RATE)
            load.append(os.getloadavg()[0])
        finally:
            appliance.stop()

    print("## Device fleet (simulator)")
    print()
    print(describe())
    print()
    print(
        f"`govmobile-device simulate` with {DEVICES:,} devices, each with its own P-256 key, certificate and mutual-TLS "
        "connection, through the **mutual-TLS gateway stand-in** (tests/support/gateway_stub.py: Python asyncio, "
        "verifying each client certificate against the CA and its CRL, then adding the Client-Cert and gateway-proof "
        "headers; not header injection). Behind it `govmobile-mdm serve` (1 worker) and `govmobile-ca serve` "
        "(2 workers) on one SQLite database with durable commits; all four processes share the machine."
    )
    print()
    print("| run | enrolled | enrollment | p50 | p99 | first check-ins | p50 | p99 | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, report in (("steady", steady), ("ceiling", ceiling)):
        enroll, first = report["enroll_latency_ms"], report["activate_latency_ms"]
        errors = sum(report["enroll_errors"].values()) + sum(report["activate_errors"].values())
        print(
            f"| {label} | {report['devices_enrolled']} | {report['enroll_rate']:.0f}/s | {enroll['p50']:.0f} ms | "
            f"{enroll['p99']:.0f} ms | {report['activate_rate']:.0f}/s | {first['p50']:.0f} ms | "
            f"{first['p99']:.0f} ms | {errors} |"
        )
    print()
    print(
        "Enrollment is EST simpleenroll (the MDM checks the token, the CA signs, the MDM binds), 32 at a time; "
        "the first check-in (a new TLS session, the first posture, the device becoming active) follows, "
        "also 32 at a time."
    )
    print()
    print(
        f"Check-ins for {DURATION:.0f} s each, open loop at the target rate (a device still busy, or 256 requests "
        f"in flight, skips its turn); {COMMANDS} commands queued through the admin API during each run "
        "(message, locate, lock, unlock, refresh policy, lost mode on/off, selective wipe) and answered by the devices."
    )
    print()
    print("| run | target | check-ins/s | p50 | p95 | p99 | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(row("steady", steady))
    print(row("ceiling", ceiling))
    print()
    answered = sum(steady["command_results"].values()), sum(ceiling["command_results"].values())
    print(
        f"Commands answered: {answered[0]} of {steady['commands_queued']} (steady), {answered[1]} of "
        f"{ceiling['commands_queued']} (ceiling; devices whose turns were skipped could not answer); ticks "
        f"skipped at the ceiling: {ceiling['skipped_ticks']:,}. One-minute load average before, between and after "
        f"the runs: {', '.join(f'{x:.1f}' for x in load)} (the four processes above, and anything else on this "
        "shared machine)."
    )


if __name__ == "__main__":
    main()
