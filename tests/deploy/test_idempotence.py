"""A second deploy on an unchanged host changes nothing and restarts no container."""

from __future__ import annotations

import pytest

from tests.deploy import appliance

pytestmark = pytest.mark.deploy


@pytest.mark.timeout(900)
def test_a_second_deploy_changes_nothing_and_restarts_nothing() -> None:
    before = appliance.deployment_containers()
    assert appliance.CA_CONTAINER in before, "deploy first (./govmobile deploy)"
    run = appliance.govmobile("deploy")
    assert run.returncode == 0, run.output[-4000:]
    recap = run.recap()
    assert recap["failed"] == 0
    assert recap["changed"] == 0, f"changed on an unchanged host: {run.changed_tasks()}"
    # Same containers, none of them started again (their start times would move).
    assert appliance.deployment_containers() == before
