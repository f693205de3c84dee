"""The console is a distribution of its own that carries no server: the typed client, Streamlit,
Altair, Babel and segno, nothing more."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import govmobile
import govmobile_console.version

#: The server package and GovMobile's server frameworks. (Streamlit's own web server brings
#: starlette and tornado; they serve the console's pages, not GovMobile's API.)
SERVER_SIDE = ("govmobile", "fastapi", "uvicorn", "sqlmodel", "sqlalchemy", "alembic", "psycopg")


def test_the_console_loads_nothing_of_the_server() -> None:
    modules_to_load = ", ".join(
        f"govmobile_console.{name}"
        for name in ("navigation", "launcher", "views.overview", "views.account", "views.sign_in")
    )
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, sys, {modules_to_load}; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    modules = json.loads(loaded.stdout)
    assert "govmobile_console.views.overview" in modules
    assert "govmobile_client" in modules
    assert [name for name in modules if name.split(".")[0] in SERVER_SIDE] == []


def test_the_console_depends_on_the_client_and_its_own_libraries_only() -> None:
    needs = {
        requirement.split(";")[0].strip() for requirement in metadata.requires("govmobile-console") or []
    }
    assert needs == {"govmobile-client", "streamlit", "altair", "babel", "segno"}
    entry_points = metadata.distribution("govmobile-console").entry_points
    assert {e.name for e in entry_points if e.group == "console_scripts"} == {"govmobile-console"}


def test_the_console_speaks_the_admin_api_of_its_own_release() -> None:
    assert govmobile_console.version.__version__ == govmobile.__version__
    assert metadata.version("govmobile-console") == govmobile.__version__


def test_the_launcher_turns_usage_statistics_off_and_xsrf_protection_on() -> None:
    from govmobile_console.launcher import streamlit_arguments

    arguments = streamlit_arguments("127.0.0.1", 8501, "/console/")
    assert "--browser.gatherUsageStats=false" in arguments
    assert "--server.enableXsrfProtection=true" in arguments
    assert "--server.baseUrlPath=console" in arguments
    assert "--client.showErrorDetails=none" in arguments
