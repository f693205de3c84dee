"""``office-app``: serve the demo office app. Configured by OFFICE_* environment variables."""

from __future__ import annotations

import os

import uvicorn

from office_app.app import create_app
from office_app.identity import AssertionVerifier


def main() -> None:
    verifier = AssertionVerifier(
        os.environ["OFFICE_JWKS_URL"],
        audience=os.environ.get("OFFICE_AUDIENCE", "oa"),
        issuer=os.environ["OFFICE_ISSUER"],
        ca_file=os.environ.get("OFFICE_CA_FILE"),
    )
    uvicorn.run(
        create_app(verifier),
        host=os.environ.get("OFFICE_HOST", "0.0.0.0"),  # noqa: S104 - a container listening on its network
        port=int(os.environ.get("OFFICE_PORT", "8080")),
        log_level=os.environ.get("OFFICE_LOG_LEVEL", "info"),
        server_header=False,
    )
