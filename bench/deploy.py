#!/usr/bin/env python3
"""Deployment benchmark: how long `./govmobile deploy` takes from a bare host, from a host that
has the base image already, and when nothing changed.

It replaces the all-in-one deployment on this host: an existing one is backed up first and
restored at the end (its data and secrets come back; it is redeployed from the same images).

    bench/deploy.py        (or ./govmobile bench deploy)

Scenarios, one after the other:
  bare        no images, no caches (no debootstrapped root file system, no wheelhouse): debootstrap,
              download the wheels, build, deploy. The root key and secrets are kept.
  cached base base image present and wheels cached: build the application image, deploy.
  rerun       nothing changed: every check, no change (changed=0 is asserted).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402

DEPLOYMENT = "aio"
CONTROLLER_CACHE = ROOT / ".cache" / "images"


def govmobile(*args: str) -> str:
    """Run the root command; fail the benchmark (with its output) if it fails."""
    result = subprocess.run(
        [str(ROOT / "govmobile"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-5000:])
        raise SystemExit(f"bench/deploy: ./govmobile {' '.join(args)} failed")
    return result.stdout


def timed_deploy() -> tuple[float, dict[str, int]]:
    started = time.monotonic()
    output = govmobile("deploy")
    elapsed = time.monotonic() - started
    recap = re.findall(r"^\S+\s+: ok=.*$", output, re.M)[-1]
    return elapsed, {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", recap)}


def deployed() -> bool:
    return (
        subprocess.run(["docker", "volume", "inspect", "govmobile_ca"], capture_output=True).returncode == 0
    )


def main() -> None:
    backup = None
    if deployed():
        output = govmobile("backup")
        backup = re.search(r"Backup: (\S+\.tar\.gz)", " ".join(output.split()))[1]  # type: ignore[index]

    # Bare host: nothing of the appliance, no image, no cache (the controller's secrets stay).
    govmobile("destroy", "--confirm", DEPLOYMENT, "--images")
    shutil.rmtree(CONTROLLER_CACHE, ignore_errors=True)
    bare, _ = timed_deploy()

    # The base image is there (and the wheels are cached); the application image is not.
    govmobile("destroy", "--confirm", DEPLOYMENT)
    app_images = subprocess.run(
        ["docker", "images", "--quiet", "govmobile/app"], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run(["docker", "rmi", "--force", *app_images], capture_output=True, check=True)
    cached_base, _ = timed_deploy()

    rerun, recap = timed_deploy()
    assert recap["changed"] == 0, f"a rerun changed something: {recap}"

    if backup:
        govmobile("destroy", "--confirm", DEPLOYMENT)
        govmobile("restore", backup)

    print("## Deployment")
    print()
    print(describe())
    print()
    print(
        "`./govmobile deploy` of the all-in-one (CA, MDM, gateway and the demo office app, from two images: the application, and the gateway with Debian's nginx-light) on this host, one run each, in this order."
    )
    print()
    print("| scenario | what the run does | time |")
    print("|---|---|---:|")
    print(f"| bare host | debootstrap the base, download the wheels, build, deploy | {bare:.0f} s |")
    print(f"| cached base image | build the application image on it, deploy | {cached_base:.0f} s |")
    print(f"| no change (rerun) | check everything, change nothing (changed=0) | {rerun:.0f} s |")
    print()
    print(
        "Aims: a bare host to a running appliance in under 10 minutes including the base image; "
        "a rerun in under 60 s. Docker itself was installed already; the two bases came from "
        "deb.debian.org, and pip's own download cache was warm (the wheels were not fetched from PyPI "
        "again). Each fresh deploy includes making the issuing CA, signing every service's TLS "
        "certificate and waiting for the four containers to be healthy."
    )


if __name__ == "__main__":
    main()
