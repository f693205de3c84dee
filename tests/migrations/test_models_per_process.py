"""Each service runs in a process of its own and loads only its own models: every foreign key a
loaded model declares must name a table loaded in that process, or SQLAlchemy fails the first
flush (a 500 that tests running every service in one process never see; found on a deployed
portal, whose device-state table named the MDM's device table)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVICES = ["govmobile.ca.app", "govmobile.mdm.app", "govmobile.gateway.app", "govmobile.portal.app"]

CHECK = """
import importlib, sys
from sqlmodel import SQLModel
importlib.import_module(sys.argv[1])
unresolved = []
for table in SQLModel.metadata.tables.values():
    for key in table.foreign_keys:
        if key.target_fullname.rsplit(".", 1)[0] not in SQLModel.metadata.tables:
            unresolved.append(f"{table.name}.{key.parent.name} -> {key.target_fullname}")
SQLModel.metadata.sorted_tables  # what a flush orders its writes by
print("\\n".join(unresolved))
"""


@pytest.mark.parametrize("service", SERVICES)
def test_every_foreign_key_of_a_services_models_names_a_table_it_loads(service: str) -> None:
    done = subprocess.run([sys.executable, "-c", CHECK, service], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", (
        f"{service} loads models whose foreign keys name tables it does not load:\n{done.stdout}"
    )
