"""A directory served over HTTP on loopback by Debian's nginx, as the portal's files will be."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` read-only with nginx on a free loopback port; yield the base URL."""
    with _nginx(
        lambda port: (
            f"""
    server {{
        listen 127.0.0.1:{port};
        root {directory};
        location / {{ limit_except GET {{ deny all; }} }}
    }}
"""
        )
    ) as url:
        yield url


@contextmanager
def in_front_of_portal(portal_url: str, repository: Path, internal_prefix: str) -> Iterator[str]:
    """nginx passing every request to the portal and serving the files it authorises from the
    repository through its ``internal`` location (``X-Accel-Redirect``), as the gateway does."""
    with _nginx(
        lambda port: (
            f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {portal_url};
            proxy_set_header Host $host;
        }}
        location ^~ {internal_prefix}/ {{
            internal;
            alias {repository}/;
        }}
    }}
"""
        )
    ) as url:
        yield url


@contextmanager
def _nginx(server: Callable[[int], str]) -> Iterator[str]:
    """nginx on a free loopback port with the given server block; yield the base URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="static-nginx-") as prefix:
        port = free_port()
        config = Path(prefix) / "nginx.conf"
        # Test directories are private to the user running the tests: the worker must be that user.
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        config.write_text(
            f"""
daemon off;
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ application/json json; application/vnd.android.package-archive apk; }}
{server(port)}
}}
"""
        )
        log = Path(prefix) / "stderr.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [nginx, "-p", prefix, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"nginx did not start: {log.read_text(errors='replace')}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not listen within 20 s") from None
                    time.sleep(0.02)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=20)
