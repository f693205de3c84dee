"""Subprocesses the benchmarks start, free ports, and waiting for a service to answer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """Every process a benchmark starts, stopped at the end whatever happened (SIGTERM, then SIGKILL).

    Each child runs in its own process group so that a server's workers (uvicorn) or an
    nginx's worker processes go with it.
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, command: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._children.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # Workers left behind by a parent that died first.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for _, process in reversed(self._children):
            self.stop(process)
        self._children.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_until(
    ready: Callable[[], bool], *, what: str, timeout: float = 60, alive: Callable[[], bool] = lambda: True
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if ready():
                return
        if not alive():
            raise SystemExit(f"{what} exited before it was ready")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} was not ready after {timeout:.0f} s")
        time.sleep(0.1)


def http_ok(url: str, *, cafile: str | None = None) -> bool:
    """True when curl gets a 2xx from ``url``."""
    command = ["curl", "-fs", "-o", "/dev/null", "--max-time", "5"]
    if cafile:
        command += ["--cacert", cafile]
    return subprocess.run([*command, url], capture_output=True).returncode == 0


_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def cpu_seconds(pid: int, *, children: bool = False, tree: bool = False) -> float:
    """User + system CPU of a process (all its threads); of its direct children only (an nginx
    master's workers); or of it and all its descendants (a server and its worker processes).
    From /proc, so only processes alive now count."""
    if children:
        pids = _children(pid)
    elif tree:
        pids, queue = [], [pid]
        while queue:
            each = queue.pop()
            pids.append(each)
            queue += _children(each)
    else:
        pids = [pid]
    total = 0.0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total
