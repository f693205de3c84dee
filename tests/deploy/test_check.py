"""`./govmobile check` exits non-zero, and says why, when a service is down."""

from __future__ import annotations

import time

import pytest

from tests.deploy import appliance

pytestmark = pytest.mark.deploy


@pytest.mark.timeout(600)
def test_check_fails_when_the_ca_is_down() -> None:
    appliance.docker("stop", appliance.CA_CONTAINER)
    try:
        run = appliance.govmobile("check", extra=False)
        assert run.returncode != 0
        assert f"{appliance.CA_CONTAINER} is not running (exited" in " ".join(run.output.split())
    finally:
        appliance.docker("start", appliance.CA_CONTAINER)
        deadline = time.monotonic() + 120
        while (
            appliance.inspect("container", appliance.CA_CONTAINER)["State"]["Health"]["Status"] != "healthy"
        ):
            assert time.monotonic() < deadline, "the CA did not become healthy again"
            time.sleep(2)
    assert appliance.govmobile("check", extra=False).returncode == 0
