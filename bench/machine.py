"""One line that says when and on what a benchmark ran."""

from __future__ import annotations

import datetime as dt
import os
import platform


def describe() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gib = 0.0
    try:
        with open("/proc/meminfo") as info:
            memory_gib = int(info.readline().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Measured {now} on {platform.node()}: {os.cpu_count()} cores ({cpu}), {memory_gib:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}."
    )


if __name__ == "__main__":
    print(describe())
