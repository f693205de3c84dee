"""The portal's offline root on the controller: made once, kept, renewed past half its lifetime,
and followed by the portal's repository (and so by devices) when a deploy renews it."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from govmobile.portal.repository import LIFETIMES
from govmobile.portal.root_keeping import RootChange, RootKeepingError, keep_root, root_versions
from govmobile.portal.trust import PortalKeys, RepositoryKeeper
from govmobile.portal.trust_root import ROOT_LIFETIME

PASSPHRASE = b"correct horse battery staple"
START = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def _root(directory: Path, name: str = "root.json") -> Metadata[Root]:
    return Metadata[Root].from_bytes((directory / name).read_bytes())


def test_the_first_run_makes_the_root_and_the_online_keys(tmp_path: Path) -> None:
    state = keep_root(tmp_path, PASSPHRASE, now=START)

    assert (state.change, state.version) == (RootChange.MADE, 1)
    assert state.expires == START + ROOT_LIFETIME
    root = _root(tmp_path)
    root.verify_delegate("root", root)
    assert (tmp_path / "roots" / "1.root.json").read_bytes() == (tmp_path / "root.json").read_bytes()
    # The root key is encrypted; every private key is readable by its owner only.
    assert (tmp_path / "root-key.pem").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    for key in [tmp_path / "root-key.pem", *(tmp_path / "online").iterdir()]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    # The online keys are the ones the portal loads, and the root names them.
    keys = PortalKeys.load(tmp_path / "online")
    assert root.signed.roles["timestamp"].keyids == [keys.online.timestamp.public_key.keyid]
    assert keys.desired_state.public_key.keyid not in root.signed.keys


def test_later_runs_keep_it_without_the_passphrase_until_half_its_lifetime(tmp_path: Path) -> None:
    keep_root(tmp_path, PASSPHRASE, now=START)
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}

    state = keep_root(tmp_path, None, now=START + ROOT_LIFETIME / 2 - dt.timedelta(minutes=1))

    assert (state.change, state.version) == (RootChange.KEPT, 1)
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before


def test_past_half_its_lifetime_it_is_renewed_by_the_same_key(tmp_path: Path) -> None:
    keep_root(tmp_path, PASSPHRASE, now=START)
    later = START + ROOT_LIFETIME / 2

    state = keep_root(tmp_path, PASSPHRASE, now=later)

    assert (state.change, state.version, state.expires) == (RootChange.RENEWED, 2, later + ROOT_LIFETIME)
    first, second = _root(tmp_path, "roots/1.root.json"), _root(tmp_path)
    first.verify_delegate("root", second)  # what a device holding version 1 checks
    assert second.signed.keys == first.signed.keys  # same keys: a renewal, not a rotation
    assert [path.name for path in root_versions(tmp_path / "roots")] == ["1.root.json", "2.root.json"]


def test_renewing_needs_the_right_passphrase(tmp_path: Path) -> None:
    keep_root(tmp_path, PASSPHRASE, now=START)
    later = START + ROOT_LIFETIME

    with pytest.raises(RootKeepingError, match="passphrase is needed to renew"):
        keep_root(tmp_path, None, now=later)
    with pytest.raises(RootKeepingError, match="root key cannot be opened"):
        keep_root(tmp_path, b"wrong", now=later)
    assert _root(tmp_path).signed.version == 1


def test_a_root_without_its_key_is_kept_but_never_replaced_by_a_new_one(tmp_path: Path) -> None:
    # A controller restored from a backup without the root key: the root is kept until it is due
    # for renewal, and then the operator is told to bring the key back. A new root would be one
    # that no enrolled device trusts.
    keep_root(tmp_path, PASSPHRASE, now=START)
    (tmp_path / "root-key.pem").unlink()

    assert keep_root(tmp_path, None, now=START).change == RootChange.KEPT
    with pytest.raises(RootKeepingError, match="restore it"):
        keep_root(tmp_path, PASSPHRASE, now=START + ROOT_LIFETIME / 2)
    assert _root(tmp_path).signed.version == 1
    assert not (tmp_path / "root-key.pem").exists()


def test_the_repository_follows_a_root_the_controller_renewed(tmp_path: Path) -> None:
    controller, portal = tmp_path / "controller", tmp_path / "portal"
    keep_root(controller, PASSPHRASE, now=START)
    now = START

    def keeper() -> RepositoryKeeper:
        return RepositoryKeeper(
            portal,
            PortalKeys.load(controller / "online"),
            lambda: now,
            root_file=controller / "roots" / "root.json",
        )

    # The deploy hands the portal the root chain (roots/) and the newest as root.json.
    (controller / "roots" / "root.json").write_bytes((controller / "root.json").read_bytes())
    keeper().refresh()
    assert _root(portal / "metadata").signed.version == 1

    now = START + ROOT_LIFETIME / 2
    keep_root(controller, PASSPHRASE, now=now)
    keep_root(controller, PASSPHRASE, now=now + ROOT_LIFETIME / 2)  # a second renewal, deployed together
    keeper().refresh()

    assert _root(portal / "metadata").signed.version == 3
    for version in (2, 3):
        assert (portal / "metadata" / f"{version}.root.json").read_bytes() == (
            controller / "roots" / f"{version}.root.json"
        ).read_bytes()
    # The online roles were re-signed under the new root, so a device can follow it at once.
    timestamp = Metadata.from_bytes((portal / "metadata" / "timestamp.json").read_bytes())
    assert timestamp.signed.expires == now + LIFETIMES["timestamp"]


def test_a_forged_next_root_is_refused(tmp_path: Path) -> None:
    controller, elsewhere, portal = tmp_path / "controller", tmp_path / "elsewhere", tmp_path / "portal"
    keep_root(controller, PASSPHRASE, now=START)
    keep_root(elsewhere, PASSPHRASE, now=START)
    keep_root(elsewhere, PASSPHRASE, now=START + ROOT_LIFETIME)  # version 2, signed by another root key
    keeper = RepositoryKeeper(
        portal, PortalKeys.load(controller / "online"), lambda: START, root_file=controller / "root.json"
    )
    keeper.refresh()
    (controller / "2.root.json").write_bytes((elsewhere / "root.json").read_bytes())

    with pytest.raises(Exception, match="cannot be taken"):
        keeper.refresh()
    assert _root(portal / "metadata").signed.version == 1


def test_the_command_says_what_it_did_and_refuses_clearly(tmp_path: Path) -> None:
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_bytes(PASSPHRASE + b"\n")
    command = [sys.executable, "-m", "govmobile.portal", "keep-root", "--dir", str(tmp_path / "portal")]

    made = subprocess.run(
        [*command, "--passphrase-file", str(passphrase_file)], capture_output=True, text=True
    )
    kept = subprocess.run(command, capture_output=True, text=True)
    (tmp_path / "portal" / "root.json").write_text("{not json")
    refused = subprocess.run(command, capture_output=True, text=True)

    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("made root version 1"), made.stdout
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("kept root version 1"), kept.stdout
    assert refused.returncode == 2
    assert "root metadata cannot be read" in refused.stderr
    assert not refused.stdout
    assert "Traceback" not in refused.stderr
