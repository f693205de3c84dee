"""The fleet simulator against the running CA and MDM, through the mutual-TLS gateway stub."""

from __future__ import annotations

import json

import pytest

from govmobile_device.simulator import percentiles
from tests.device.conftest import Admin, run_cli
from tests.support.ca import Clock
from tests.support.gateway_stub import GatewayStub


def test_a_short_run_of_twenty_devices(
    platform: Admin, mdm_url: str, gateway: GatewayStub, clock: Clock
) -> None:
    outcome = run_cli(
        [
            "simulate",
            "--server",
            gateway.url,
            "--admin-url",
            mdm_url,
            "--devices",
            "20",
            "--rate",
            "20",
            "--duration",
            "5",
            "--commands",
            "8",
            "--json",
        ],
        clock=clock,
        environ={"GOVMOBILE_ADMIN_TOKEN": platform.token},
    )
    assert outcome.code == 0, outcome.err
    report = json.loads(outcome.out)
    assert report["devices_enrolled"] == 20
    assert report["enroll_errors"] == {}
    assert report["checkin_errors"] == {}
    # Open loop at 20/s for 5 s: 100 ticks, each a check-in unless its device was still busy with
    # the last one (how many depends on the machine's speed, not on the code); every check-in
    # started is counted, plus the extra rounds that deliver command results.
    assert report["ticks"] == 100
    started = report["ticks"] - report["skipped_ticks"]
    assert started > 0, report
    assert started <= report["checkins"] <= started + 30, report
    assert report["checkin_throughput"] == pytest.approx(
        report["checkins"] / report["duration_seconds"], abs=0.02
    )
    latency = report["checkin_latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert report["commands_queued"] == 8
    # Every command was answered: during the run, or at the check-in after it of the devices that
    # got one (one each: 8 commands over 20 devices).
    assert sum(report["command_results"].values()) == 8, report["command_results"]
    assert report["settle_checkins"] >= 8  # a round for each, and one more for each result delivered
    assert report["command_results"].get("error", 0) == 0

    devices = platform.ok("GET", "/api/v1/devices", params={"tenant_id": report["tenant_id"], "limit": 100})[
        "items"
    ]
    assert len(devices) == 20
    assert {d["state"] for d in devices} <= {"active", "locked", "lost"}
    assert (
        sum(d["work_container_wiped_at"] is not None for d in devices) == 1
    )  # the selective wipe, with a verified receipt
    assert report["activate_errors"] == {}
    assert report["activate_latency_ms"]["p50"] > 0
    # Every check-in (the first ones included) went through the stub with a client certificate.
    assert gateway.paths["/api/v1/device/checkin"] == report["checkins"] + 20 + report["settle_checkins"]


def test_the_simulator_needs_admin_credentials(gateway: GatewayStub, mdm_url: str, clock: Clock) -> None:
    outcome = run_cli(
        [
            "simulate",
            "--server",
            gateway.url,
            "--admin-url",
            mdm_url,
            "--devices",
            "1",
            "--rate",
            "1",
            "--duration",
            "1",
        ],
        clock=clock,
        environ={},
    )
    assert outcome.code == 2
    assert "needs an admin API token" in outcome.err


def test_percentiles_by_nearest_rank() -> None:
    samples = [n / 1000 for n in range(1, 101)]  # 1..100 ms
    assert percentiles(samples) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([]) == {}
