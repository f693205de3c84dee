"""The nginx process: the control plane starts it, tests every new configuration, reloads it
gracefully, and restarts it if it dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from govmobile.gateway.dataplane.render import DataPlaneLayout

log = logging.getLogger("govmobile.gateway.nginx")


class ConfigurationRejected(Exception):
    """nginx -t refused a rendered configuration; the running one stays."""


class Nginx:
    def __init__(self, layout: DataPlaneLayout, *, binary: str = "/usr/sbin/nginx") -> None:
        self.layout = layout
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.reloads = 0

    def apply(self, text: str) -> bool:
        """Test and install a configuration; reload (or start) nginx. False when it was unchanged."""
        with self._lock:
            current = self.layout.config.read_text() if self.layout.config.exists() else None
            if text == current and self._alive():
                return False
            candidate = self.layout.config.with_suffix(".conf.new")
            candidate.write_text(text)
            candidate.chmod(0o600)  # it holds the gateway's shared secret
            test = subprocess.run(self._command(candidate, "-t"), capture_output=True, text=True, timeout=30)
            if test.returncode != 0:
                candidate.unlink(missing_ok=True)
                raise ConfigurationRejected(test.stderr.strip()[-2000:])
            os.replace(candidate, self.layout.config)
            if self._alive():
                self._signal(signal.SIGHUP)
                self.reloads += 1
            else:
                self._start()
            return True

    def reload(self) -> None:
        """Re-read files nginx loads at configuration time (the CRL) without changing the text."""
        with self._lock:
            if self._alive():
                self._signal(signal.SIGHUP)
                self.reloads += 1

    def reopen_logs(self) -> None:
        with self._lock:
            if self._alive():
                self._signal(signal.SIGUSR1)

    def ensure_running(self) -> bool:
        """Start nginx again if it died; True when it had to."""
        with self._lock:
            if self._alive() or not self.layout.config.exists():
                return False
            log.error(
                "nginx exited (status %s); starting it again",
                self._process.returncode if self._process else None,
            )
            self._start()
            return True

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            if not self._alive():
                return
            assert self._process is not None
            self._signal(signal.SIGQUIT)  # graceful: finish requests in flight
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._alive() and self._process else None

    def _start(self) -> None:
        self.layout.pid.unlink(missing_ok=True)  # a stale pid file would look like a started nginx
        # An nginx killed outright leaves its unix socket behind, and binding it again would fail.
        self.layout.access_socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(self._command(self.layout.config, "-g", "daemon off;"))
        deadline = time.monotonic() + 10
        while not self.layout.pid.exists() and self._process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._process.poll() is not None:
            raise ConfigurationRejected(f"nginx exited at start with status {self._process.returncode}")

    def _command(self, config: Path, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.layout.run_dir), "-e", "stderr", "-c", str(config), *extra]

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _signal(self, number: signal.Signals) -> None:
        assert self._process is not None
        self._process.send_signal(number)
