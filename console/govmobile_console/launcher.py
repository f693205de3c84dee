"""``govmobile-console``: run the console's Streamlit server with the appliance's options.

Usage statistics off (nothing leaves the appliance), XSRF protection on, no file watcher and no
developer menu; address, port and base path from the command line (the appliance serves the
console under ``/console/`` of the management listener). The rest of the configuration is the
environment's (``GOVMOBILE_CONSOLE_*``, see settings.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamlit.web import cli as streamlit_cli

SCRIPT = Path(__file__).with_name("app.py")


def streamlit_arguments(address: str, port: int, base_path: str) -> list[str]:
    return [
        "run",
        str(SCRIPT),
        f"--server.address={address}",
        f"--server.port={port}",
        f"--server.baseUrlPath={base_path.strip('/')}",
        "--server.headless=true",
        "--server.enableXsrfProtection=true",
        "--server.enableCORS=true",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
        "--client.showErrorDetails=none",
        "--global.developmentMode=false",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="govmobile-console", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument("--base-path", default="", help="URL path the console is served under, e.g. console")
    arguments = parser.parse_args(argv)
    sys.argv = ["streamlit", *streamlit_arguments(arguments.address, arguments.port, arguments.base_path)]
    streamlit_cli.main()
