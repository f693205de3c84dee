"""Fixtures for the tests of the deployed appliance (scripts/deploy-tests deploys it first)."""

from __future__ import annotations

import pytest
import testinfra

from tests.deploy import appliance


@pytest.fixture(scope="session")
def host() -> testinfra.host.Host:
    """This machine, where the all-in-one inventory deploys (ansible_connection: local)."""
    return testinfra.get_host("local://")


@pytest.fixture(scope="session")
def ca_container() -> dict:
    """`docker inspect` of the CA's container; fails the test when the appliance is not deployed."""
    container = appliance.inspect("container", appliance.CA_CONTAINER)
    if not container:
        pytest.fail(f"{appliance.CA_CONTAINER} does not exist: deploy first (./govmobile deploy)")
    return container
