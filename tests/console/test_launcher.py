"""``govmobile-console`` serves the console: a real Streamlit server on loopback, under a base
path, answering its health check (what the container's health check will ask)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.servers import free_port

LAUNCHER = Path(sys.executable).with_name("govmobile-console")


def test_the_launcher_serves_the_console_under_its_base_path(tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "GOVMOBILE_CONSOLE_API_URL": "https://127.0.0.1:8443", "HOME": str(tmp_path)}
    log = (tmp_path / "console.log").open("wb")
    server = subprocess.Popen(
        [str(LAUNCHER), "--port", str(port), "--base-path", "console"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}/console"
        deadline = time.monotonic() + 90
        while True:  # ready when the health check answers
            assert server.poll() is None, (tmp_path / "console.log").read_text()
            try:
                health = httpx.get(f"{base}/_stcore/health", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the console did not start within 90 s"
            time.sleep(0.1)
        assert health.text == "ok"
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200
        assert "<noscript>" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).status_code != 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
