"""The client and govmobile-admin are a distribution of their own that carries no server."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import govmobile
import govmobile_client

SERVER_SIDE = ("govmobile", "fastapi", "starlette", "uvicorn", "sqlmodel", "sqlalchemy", "alembic")


def test_the_client_and_the_cli_load_nothing_of_the_server() -> None:
    # A fresh interpreter: this test process has the services loaded already.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; import govmobile_client, govmobile_client.cli.main; "
            "print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules = json.loads(loaded.stdout)
    assert "govmobile_client.cli.main" in modules
    assert [name for name in modules if name.split(".")[0] in SERVER_SIDE] == []


def test_the_client_depends_on_small_client_libraries_only() -> None:
    needs = {requirement.split(";")[0].strip() for requirement in metadata.requires("govmobile-client") or []}
    assert needs == {"httpx", "pydantic", "click", "segno"}


def test_govmobile_admin_belongs_to_the_client_not_to_the_server() -> None:
    def scripts(distribution: str) -> set[str]:
        found = metadata.distribution(distribution).entry_points
        return {entry.name for entry in found if entry.group == "console_scripts"}

    assert scripts("govmobile-client") == {"govmobile-admin"}
    assert "govmobile-admin" not in scripts("govmobile")
    assert "segno" not in " ".join(metadata.requires("govmobile") or [])


def test_the_client_speaks_the_admin_api_of_its_own_release() -> None:
    assert govmobile_client.__version__ == govmobile.__version__
    assert metadata.version("govmobile-client") == govmobile.__version__
