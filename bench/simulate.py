#!/usr/bin/env python3
"""Fleet benchmark: 1,000 simulated devices enroll and check in, as the appliance will run them.

Processes, as deployed (SQLite, durable commits, one shared database):

- ``govmobile-ca serve`` (its default 2 workers) and ``govmobile-mdm serve`` (its default 1
  worker), configured by environment, after ``govmobile-db upgrade`` and
  ``govmobile-mdm bootstrap-admin``;
- in front of them the gateway, ``govmobile-gateway run`` with the nginx it renders and runs: the
  devices enroll at its public listener (EST) and check in through it with mutual TLS, and the
  simulator makes its tokens and queues its commands through its management listener
  (bench/support/appliance.py starts all of this);
- ``govmobile-device simulate`` in its own process: one P-256 key, certificate and mutual-TLS
  connection per device.

The simulator runs twice on the same fleet size: at a steady rate the appliance should sustain
(latency as devices see it), and far above capacity (open loop, up to 256 requests in flight)
to find the throughput ceiling. Every run also queues commands, which devices answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.support.appliance import Appliance, start_appliance
from bench.support.procs import BIN, Processes

DEVICES = 1000
#: A heartbeat the appliance sustains with room to spare: each device checks in every 20 s here
#: (the default policy asks every 15 minutes, so this is a fleet of about 45,000 such devices).
STEADY_RATE = 50.0
#: Far above capacity: what the appliance manages at most.
CEILING_RATE = 1000.0
DURATION = 40.0
COMMANDS = 50


def simulate(appliance: Appliance, rate: float) -> dict[str, Any]:
    command = [
        str(BIN / "govmobile-device"),
        "simulate",
        "--server",
        appliance.public_url,
        "--admin-url",
        appliance.management_url,
        "--admin-ca-file",
        str(appliance.root),
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
    password = (appliance.work / "admin-password").read_text().strip()
    result = subprocess.run(
        command,
        env={**os.environ, "GOVMOBILE_ADMIN_PASSWORD": password},
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
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        with Processes(work / "logs") as procs:
            try:
                appliance, _ = start_appliance(work, procs)
                # The machine is shared: say how busy it was, since other work competes for its cores.
                load = [os.getloadavg()[0]]
                steady = simulate(appliance, STEADY_RATE)
                load.append(os.getloadavg()[0])
                ceiling = simulate(appliance, CEILING_RATE)
                load.append(os.getloadavg()[0])
            except BaseException:
                for name in ("gateway", "mdm", "ca"):
                    tail = procs.log_tail(name, 15)
                    if tail:
                        print(f"--- {name} log ---\n{tail}", file=sys.stderr)
                raise

    print("## Device fleet (simulator)")
    print()
    print(describe())
    print()
    print(
        f"`govmobile-device simulate` with {DEVICES:,} devices, each with its own P-256 key, certificate and mutual-TLS "
        "connection, through the **gateway** (`govmobile-gateway run` and the nginx it renders: mutual TLS, "
        "the CRL, the Client-Cert and gateway-proof headers to the MDM), enrolling over EST at its public listener "
        "with tokens made through its management listener. Behind it `govmobile-mdm serve` (1 worker) and "
        "`govmobile-ca serve` (2 workers) on one SQLite database with durable commits, configured as deployed "
        "(bench/support/appliance.py); the simulator, nginx and the three services share the machine."
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
    for label, report in (("steady", steady), ("ceiling", ceiling)):
        if report["checkin_errors"]:
            kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report["checkin_errors"].items()))
            print(f"Check-in errors ({label}), by kind: {kinds}.")
            print()
    answered = sum(steady["command_results"].values()), sum(ceiling["command_results"].values())
    print(
        f"Commands answered: {answered[0]} of {steady['commands_queued']} (steady), {answered[1]} of "
        f"{ceiling['commands_queued']} (ceiling); after each run, each device a command went to checks in once "
        f"more ({steady['settle_checkins']} and {ceiling['settle_checkins']} check-ins, not in the figures above), "
        f"so a device whose turns were skipped still answers. Ticks "
        f"skipped at the ceiling: {ceiling['skipped_ticks']:,}. One-minute load average before, between and after "
        f"the runs: {', '.join(f'{x:.1f}' for x in load)} (the processes above, and anything else on this "
        "shared machine)."
    )


if __name__ == "__main__":
    main()
