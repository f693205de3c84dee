"""A deploy killed at any point converges when run again (here: at the points where it signs a
certificate and where it restarts the CA)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy import appliance

pytestmark = pytest.mark.deploy

SERVER_CERTIFICATE = Path("/etc/govmobile/ca/tls/server.crt")


def deploy_until(marker: str, delay: float) -> None:
    """Start a deploy and kill it (and everything it started) `delay` seconds after `marker`."""
    seen = []
    with subprocess.Popen(
        [str(appliance.ROOT / "govmobile"), "deploy", *appliance.EXTRA_ARGS],
        cwd=appliance.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                time.sleep(delay)
                os.killpg(process.pid, signal.SIGKILL)
                break
        process.wait(timeout=60)
    assert any(marker in line for line in seen), "".join(seen[-40:])


@pytest.mark.timeout(1200)
def test_an_interrupted_deploy_converges() -> None:
    for marker, delay in (
        ("TASK [Sign the request on the CA's host]", 1.5),  # a signing job runs
        ("RUNNING HANDLER [ca : Converge the container of ca]", 0.5),  # the CA is being recreated
    ):
        # A missing certificate makes the deploy sign a new one and recreate the CA.
        SERVER_CERTIFICATE.unlink()
        deploy_until(marker, delay)
        run = appliance.govmobile("deploy")
        assert run.returncode == 0, run.output[-4000:]
        container = appliance.inspect("container", appliance.CA_CONTAINER)
        assert container["State"]["Health"]["Status"] == "healthy"
        assert appliance.curl_ca("/healthz").returncode == 0
        # No job container of the killed run is left behind.
        jobs = appliance.docker(
            "ps", "-a", "--filter", "label=govmobile.job", "--format", "{{.Names}}"
        ).split()
        assert jobs == []
    # And it has settled: one more run changes nothing.
    again = appliance.govmobile("deploy")
    assert again.returncode == 0, again.output[-4000:]
    assert again.recap()["changed"] == 0, again.changed_tasks()
