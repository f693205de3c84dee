"""App protection on the device: each managed app's encrypted data space, the simulated tablet's
clipboard, save-as, screenshots, PIN and offline limits driven through ``govmobile-device app``,
and selective wipe of the managed apps (personal apps stay). The portal is not behind this suite's
gateway stand-in, so events stay queued here; tests/gateway/test_app_protection.py follows them
into the audit log through the real gateway and portal."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from govmobile_device.crypto import Cipher
from govmobile_device.denials import DenialQueue
from govmobile_device.errors import StateError, UsageError
from govmobile_device.protection import AppPolicy
from govmobile_device.sandbox import AppSpaces
from govmobile_device.state import FileStore
from govmobile_device.tablet import DeviceProtection
from tests.device.conftest import Admin, Tablet, command_of, send
from tests.support.ca import Clock

INSPECT = "cn.gov.water.inspect"
MAIL = "cn.gov.water.mail"
CHAT = "com.example.chat"  # a personal app
SECRET = b"Dam 3: seepage at the east abutment, 40 l/min. Not for release."


def protection(device: Tablet) -> DeviceProtection:
    return DeviceProtection(device.store, device.profile, device.clock)


def install_managed(device: Tablet, package: str, policy: AppPolicy | None = None) -> AppSpaces:
    """What the installer does for a managed app (the portal-agent's side): open its data space,
    then hand it the policy from the desired-state document."""
    spaces = protection(device).spaces()
    assert spaces.open_space(package, now=device.clock())
    if policy is not None:
        spaces.set_policy(package, policy)
    profile = device.profile.load()
    profile.installed_apps.append(package)
    device.profile.save(profile)
    return spaces


@pytest.fixture
def tablet(enrolled: Tablet) -> Tablet:
    enrolled.ok("checkin")
    install_managed(enrolled, INSPECT)  # the protective default policy
    install_managed(enrolled, MAIL)
    enrolled.ok("app", "install-personal", CHAT)
    enrolled.ok("app", "write", INSPECT, "dam-3.txt", stdin=SECRET)
    return enrolled


def events(device: Tablet) -> list[dict[str, object]]:
    return [e.model_dump(mode="json") for e in DenialQueue.in_state(device.state).pending()]


# -- data spaces -----------------------------------------------------------------------------------


def test_each_app_has_its_own_encrypted_space(tablet: Tablet) -> None:
    assert tablet.ok("app", "read", INSPECT, "dam-3.txt").raw == SECRET
    listing = json.loads(tablet.ok("app", "list", "--json").out)
    assert [(s["package"], s["files"]) for s in listing["managed"]] == [(INSPECT, 1), (MAIL, 0)]
    assert listing["personal"] == [CHAT]
    assert listing["managed"][0]["policy"]["clipboard_to_unmanaged"] is False
    for path in (tablet.state / "container").rglob("*"):
        if path.is_file():
            assert b"seepage" not in path.read_bytes()
            assert b"dam-3" not in path.read_bytes()
    # Another app's file, moved into this app's space, does not open: the associated data names the app.
    spaces = protection(tablet).spaces()
    spaces.put(MAIL, "dam-3.txt", b"mail's own", now=tablet.clock())
    inspect_dir, mail_dir = (tablet.state / "container" / "apps" / p for p in (INSPECT, MAIL))
    shutil.copy(mail_dir / "index.sealed", inspect_dir / "index.sealed")
    with pytest.raises(StateError, match="index is damaged"):
        spaces.get(INSPECT, "dam-3.txt")


def test_removing_a_space_crypto_erases_it(tablet: Tablet, tmp_path: Path) -> None:
    spaces = protection(tablet).spaces()
    directory = tablet.state / "container" / "apps" / INSPECT
    stolen = tmp_path / "stolen"
    shutil.copytree(directory, stolen)
    assert spaces.remove_space(INSPECT) == ["dam-3.txt"]
    assert not directory.exists()
    assert spaces.has_space(MAIL)
    # The installer opens it again: a new key, and the stolen copy does not open with it.
    spaces.open_space(INSPECT, now=tablet.clock())
    spaces.put(INSPECT, "new.txt", b"new", now=tablet.clock())
    shutil.copy(stolen / "index.sealed", directory / "index.sealed")
    with pytest.raises(StateError):
        spaces.get(INSPECT, "dam-3.txt")


def test_package_names_cannot_climb_out(tablet: Tablet) -> None:
    spaces = protection(tablet).spaces()
    for bad in ("../keystore", "a/b.c", ".", "cn.gov..x", "x" * 300):
        with pytest.raises(UsageError):
            spaces.open_space(bad, now=tablet.clock())
    outcome = tablet("app", "read", "../../identity.json", "x")
    assert outcome.code == 2
    assert "not an Android package name" in outcome.err
    # The profile may list apps by any name; such an app is personal, and nothing is pasted into it.
    tablet.edit_profile(installed_apps=[*tablet.profile.load().installed_apps, "Notes App"])
    assert json.loads(tablet.ok("app", "list", "--json").out)["personal"] == [CHAT, "Notes App"]
    refused = tablet("app", "copy", "--from", INSPECT, "--to", "Notes App", "--text", "x")
    assert (refused.code, events(tablet)) == (2, [])


def test_a_space_survives_only_with_its_container_key(tmp_path: Path) -> None:
    """Without enrolling: a keystore, a container, two spaces; erasing the container takes them all."""
    store = FileStore(tmp_path / "state")
    store.prepare_keystore(Cipher.SM4_GCM)
    spaces = AppSpaces(store.container())
    now = dt.datetime.now(dt.UTC)
    spaces.open_space(INSPECT, now=now)
    spaces.put(INSPECT, "a.txt", b"a", now=now)
    assert store.container().erase() == []
    assert spaces.packages() == []
    assert not (tmp_path / "state" / "container" / "apps").exists()


# -- the simulated tablet's surfaces -----------------------------------------------------------------


def test_copy_to_a_personal_app_is_refused_and_queued(tablet: Tablet) -> None:
    refused = tablet("app", "copy", "--from", INSPECT, "--to", CHAT, "--text", "seepage 40 l/min", "--json")
    assert refused.code == 12
    verdict = json.loads(refused.out)
    assert verdict["allowed"] is False
    assert verdict["code"] == "clipboard_to_unmanaged"
    assert "personal app" in verdict["reason"]
    assert protection(tablet).tablet().personal_files(CHAT) == {}
    [event] = events(tablet)
    assert (event["package"], event["action"], event["outcome"], event["code"], event["destination"]) == (
        INSPECT,
        "copy",
        "denied",
        "clipboard_to_unmanaged",
        CHAT,
    )
    # Managed to managed is allowed, and lands in the other app's space.
    allowed = tablet.ok("app", "copy", "--from", INSPECT, "--to", MAIL, "--text", "seepage 40 l/min")
    assert allowed.out.startswith("allowed (allowed)")
    assert tablet.ok("app", "read", MAIL, "clipboard.txt").raw == b"seepage 40 l/min"
    # From the personal app into a managed one: data may always come in.
    tablet.ok("app", "copy", "--from", CHAT, "--to", INSPECT, "--text", "hello")
    assert len(events(tablet)) == 1


def test_save_as_and_screenshots_follow_the_policy(tablet: Tablet) -> None:
    refused = tablet("app", "save-as", INSPECT, "dam-3.txt", "--to", "personal")
    assert (refused.code, refused.out.split(" ")[:2]) == (12, ["denied", "(save_to_unmanaged):"])
    assert not (tablet.state / "personal" / "downloads").exists()
    tablet.ok("app", "save-as", INSPECT, "dam-3.txt", "--to", MAIL)
    assert tablet.ok("app", "read", MAIL, "dam-3.txt").raw == SECRET
    assert tablet("app", "screenshot", INSPECT).code == 12
    assert tablet.ok("app", "screenshot", CHAT).code == 0  # personal apps are not governed
    # A policy that allows them (from a newer desired-state document).
    protection(tablet).spaces().apply_protection(
        [{"package": INSPECT, "protection": {"save_to_unmanaged": True, "screenshots": True}}]
    )
    tablet.ok("app", "save-as", INSPECT, "dam-3.txt", "--to", "personal")
    assert (tablet.state / "personal" / "downloads" / "dam-3.txt").read_bytes() == SECRET
    tablet.ok("app", "screenshot", INSPECT)
    assert [(e["action"], e["code"]) for e in events(tablet)] == [
        ("save_as", "save_to_unmanaged"),
        ("screenshot", "screenshots"),
    ]


def test_wrong_pins_wipe_the_apps_data(tablet: Tablet) -> None:
    spaces = protection(tablet).spaces()
    spaces.set_policy(INSPECT, AppPolicy(pin_required=True, pin_max_attempts=3))
    locked = tablet("app", "read", INSPECT, "dam-3.txt")
    assert (locked.code, "pin_not_set" in locked.out) == (12, True)
    tablet.ok("app", "set-pin", INSPECT, "--pin", "4711")
    assert "pin_locked" in tablet("app", "read", INSPECT, "dam-3.txt").out
    tablet.ok("app", "unlock", INSPECT, "--pin", "4711")
    assert tablet.ok("app", "read", INSPECT, "dam-3.txt").raw == SECRET
    # Unlocked for a while only.
    tablet.clock.advance(dt.timedelta(minutes=31))
    assert tablet("app", "open", INSPECT).code == 12
    first = tablet("app", "unlock", INSPECT, "--pin", "0000")
    assert (first.code, "2 attempts left" in first.out) == (12, True)
    assert "1 attempts left" in tablet("app", "unlock", INSPECT, "--pin", "1111").out
    last = tablet("app", "unlock", INSPECT, "--pin", "2222", "--json")
    assert json.loads(last.out) == {
        "allowed": False,
        "code": "pin_attempts_exceeded",
        "reason": "wrong PIN 3 times in a row, the limit is 3: this app's data is wiped",
        "wiped": True,
    }
    # The data is gone (the right PIN cannot bring it back: there is none any more); the app stays.
    assert tablet("app", "unlock", INSPECT, "--pin", "4711").code == 12
    info = spaces.info(INSPECT)
    assert (info.files, info.pin.is_set, info.data_wiped_at is not None) == (0, False, True)
    assert not (tablet.state / "container" / "apps" / INSPECT / "key.sealed").exists()
    assert [(e["code"], e["outcome"]) for e in events(tablet)][-2:] == [
        ("pin_attempts_exceeded", "data_wiped"),
        ("pin_not_set", "denied"),
    ]


def test_offline_limits_block_then_wipe(tablet: Tablet, clock: Clock) -> None:
    spaces = protection(tablet).spaces()
    spaces.set_policy(
        INSPECT,
        AppPolicy(offline_block_after=dt.timedelta(hours=24), offline_wipe_after=dt.timedelta(hours=72)),
    )
    clock.advance(dt.timedelta(hours=23))
    tablet.ok("app", "open", INSPECT)
    clock.advance(dt.timedelta(hours=2))
    blocked = tablet("app", "read", INSPECT, "dam-3.txt")
    assert blocked.code == 12
    assert "offline_blocked" in blocked.out
    assert "check in" in blocked.out
    # A check-in lifts the block.
    tablet.ok("checkin")
    assert tablet.ok("app", "read", INSPECT, "dam-3.txt").raw == SECRET
    clock.advance(dt.timedelta(hours=73))
    wiped = tablet("app", "open", INSPECT)
    assert (wiped.code, "offline_wipe" in wiped.out) == (12, True)
    assert spaces.info(INSPECT).files == 0
    tablet.ok("checkin")
    assert tablet("app", "read", INSPECT, "dam-3.txt").code == 2  # opens, but the file is gone
    # The other app has no limits and kept everything.
    assert spaces.info(MAIL).data_wiped_at is None


def test_events_wait_while_the_portal_cannot_be_reached(tablet: Tablet) -> None:
    tablet("app", "screenshot", INSPECT)
    tablet.ok("checkin")  # this suite's gateway has no portal behind it: the report is refused
    assert [e["code"] for e in events(tablet)] == ["screenshots"]


# -- selective wipe -----------------------------------------------------------------------------------


def test_selective_wipe_removes_managed_apps_and_leaves_personal_ones(
    tablet: Tablet, platform: Admin
) -> None:
    tablet.ok("app", "copy", "--from", CHAT, "--to", CHAT, "--text", "family photos")  # personal data
    spaces = protection(tablet).spaces()
    identity = tablet.store.load_identity()
    command = send(platform, identity.device_id, "selective_wipe")
    tablet.ok("checkin")
    receipt = command_of(platform, command)["result"]["result"]["receipt"]
    assert receipt["destroyed"] == [f"app:{INSPECT}", f"app:{MAIL}"]
    assert spaces.packages() == []
    assert not (tablet.state / "container" / "apps").exists()
    assert tablet.profile.load().installed_apps == [CHAT]
    assert protection(tablet).tablet().personal_files(CHAT) == {"clipboard.txt": b"family photos"}
    gone = tablet("app", "read", INSPECT, "dam-3.txt")
    assert (gone.code, "not a managed app" in gone.err) == (2, True)
