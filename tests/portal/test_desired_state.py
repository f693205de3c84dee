"""The per-device desired-state document: built from a resolution, signed, and checked as a device would."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner

from govmobile.portal.assignments import (
    Assignment,
    DeviceContext,
    Intent,
    Target,
    TargetKind,
    resolve_desired_apps,
)
from govmobile.portal.desired_state import (
    KEY_TARGET,
    PAYLOAD_TYPE,
    DesiredState,
    DesiredStateVerifier,
    build_desired_state,
    key_from_document,
    public_key_document,
    sign_desired_state,
)
from govmobile.portal.errors import DocumentRefused
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import Release, ReleaseState, Track, live_releases
from govmobile.portal.repository import DirectoryStore, OnlineSigners, TufRepository
from govmobile.portal.trust_root import generate_key, make_root
from tests.support.static_files import serve_directory

NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
DEVICE = DeviceContext("tablet-1", "dept", "alice", frozenset({"field-staff", "pilots"}))
POLICY = ProtectionPolicy(pin_required=True, pin_max_attempts=5, offline_block_after=dt.timedelta(days=3))


def release(package: str, version: int, track: Track) -> Release:
    return Release(
        package, version, f"{version}.0", f"{version:064x}", frozenset({"a" * 64}), "alice",
        state=ReleaseState.PUBLISHED, track=track, was_published=True,
    )  # fmt: skip


RELEASES = {
    "cn.gov.inspect": [
        release("cn.gov.inspect", 3, Track.PRODUCTION),
        release("cn.gov.inspect", 4, Track.PILOT),
    ],
    "cn.gov.approve": [release("cn.gov.approve", 10, Track.PRODUCTION)],
    "cn.gov.chat": [release("cn.gov.chat", 2, Track.PRODUCTION)],
}
LIVE = live_releases(RELEASES)
ASSIGNMENTS = [
    Assignment("a1", "cn.gov.inspect", Target(TargetKind.GROUP, "pilots"), Intent.REQUIRED, Track.PILOT,
               config={"server": "https://inspect.gov.example"}, protection=POLICY),
    Assignment("a2", "cn.gov.approve", Target(TargetKind.DEPARTMENT, "dept"), Intent.AVAILABLE),
    Assignment("a3", "cn.gov.chat", Target(TargetKind.PERSON, "alice"), Intent.UNINSTALL),
    Assignment("a4", "cn.gov.drafts", Target(TargetKind.DEPARTMENT, "dept"), Intent.REQUIRED),  # nothing published
    Assignment("a5", "cn.gov.maps", Target(TargetKind.GROUP, "field-staff"), Intent.REQUIRED),
    Assignment("a6", "cn.gov.maps", Target(TargetKind.GROUP, "pilots"), Intent.UNINSTALL),
]  # fmt: skip


def state(sequence: int = 5, now: dt.datetime = NOW, device: DeviceContext = DEVICE) -> DesiredState:
    resolution = resolve_desired_apps(device, ASSIGNMENTS, ProtectionPolicy())
    return build_desired_state(device.device_id, resolution, LIVE, sequence=sequence, now=now)


def test_the_document_carries_each_apps_intent_release_config_and_policy() -> None:
    built = state()
    apps = {app.package: app for app in built.apps}
    assert sorted(apps) == ["cn.gov.approve", "cn.gov.chat", "cn.gov.inspect"]
    inspect = apps["cn.gov.inspect"]
    assert (inspect.intent, inspect.track, inspect.version_code, inspect.target, inspect.sha256) == (
        Intent.REQUIRED, Track.PILOT, 4, "apps/cn.gov.inspect/4.apk", f"{4:064x}",
    )  # fmt: skip
    assert inspect.config == {"server": "https://inspect.gov.example"}
    assert inspect.protection == POLICY
    assert (apps["cn.gov.approve"].intent, apps["cn.gov.approve"].version_code) == (Intent.AVAILABLE, 10)
    assert (apps["cn.gov.chat"].intent, apps["cn.gov.chat"].version_code) == (Intent.UNINSTALL, None)
    assert built.conflicts == ("cn.gov.maps",)
    assert (built.issued, built.expires) == (NOW, NOW + dt.timedelta(days=7))


def test_a_device_accepts_a_signed_document_for_itself() -> None:
    signer = generate_key()
    document = sign_desired_state(state(), signer)
    verified = DesiredStateVerifier(signer.public_key, "tablet-1").verify(document, last_sequence=4, now=NOW)
    assert verified == state()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("other device", "document_other_device"),
        ("replayed", "document_replayed"),
        ("same sequence", "document_replayed"),
        ("expired", "document_expired"),
        ("another key", "document_bad_signature"),
        ("altered", "document_bad_signature"),
        ("not json", "document_malformed"),
        ("wrong type", "document_malformed"),
        ("wrong payload type", "document_malformed"),
    ],
)
def test_a_device_refuses_documents_it_must_not_act_on(case: str, code: str) -> None:
    signer = generate_key()
    verifier = DesiredStateVerifier(signer.public_key, "tablet-1")
    last, now = 4, NOW
    document = sign_desired_state(state(), signer)
    if case == "other device":
        document = sign_desired_state(state(device=DeviceContext("tablet-2", "dept", "bob")), signer)
    elif case == "replayed":
        last = 9
    elif case == "same sequence":
        last = 5
    elif case == "expired":
        now = NOW + dt.timedelta(days=7)
    elif case == "another key":
        document = sign_desired_state(state(), generate_key())
    elif case == "altered":
        envelope = json.loads(document)
        payload = json.loads(base64.b64decode(envelope["payload"]))
        payload["apps"][0]["intent"] = "uninstall"  # turn an app off in transit
        envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
        document = json.dumps(envelope).encode()
    elif case == "not json":
        document = b"\x00not json"
    elif case == "wrong type":
        envelope = json.loads(document)
        payload = json.loads(base64.b64decode(envelope["payload"]))
        payload["type"] = "something-else"
        document = signed_envelope(json.dumps(payload).encode(), PAYLOAD_TYPE, signer)
    elif case == "wrong payload type":
        document = signed_envelope(base64.b64decode(json.loads(document)["payload"]), "text/plain", signer)
    with pytest.raises(DocumentRefused) as refused:
        verifier.verify(document, last_sequence=last, now=now)
    assert refused.value.code == code


def signed_envelope(payload: bytes, payload_type: str, signer: CryptoSigner) -> bytes:
    envelope = Envelope(payload, payload_type, {})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict()).encode()


def test_the_content_digest_changes_with_what_to_do_not_with_sequence_or_time() -> None:
    first = state(sequence=5)
    assert first.content_digest() == state(sequence=6, now=NOW + dt.timedelta(hours=1)).content_digest()
    other = build_desired_state(
        "tablet-1",
        resolve_desired_apps(DEVICE, ASSIGNMENTS[:2], ProtectionPolicy()),
        LIVE,
        sequence=5,
        now=NOW,
    )
    assert other.content_digest() != first.content_digest()


def test_the_signing_key_reaches_the_device_through_tuf(tmp_path: Path) -> None:
    """The device learns the desired-state key from the TUF repository, so trust starts at the offline root."""
    from tuf.ngclient import Updater

    now = dt.datetime.now(dt.UTC)
    online = OnlineSigners(generate_key(), generate_key(), generate_key())
    root = make_root(
        [generate_key()],
        {r: online.for_role(r).public_key for r in ("targets", "snapshot", "timestamp")},
        now=now,
    )
    store = DirectoryStore(tmp_path / "repository")
    repository = TufRepository.create(store, root, online, lambda: now)
    desired_state_key = generate_key()
    repository.add_target_bytes(KEY_TARGET, public_key_document(desired_state_key.public_key))
    with serve_directory(tmp_path / "repository") as url:
        (tmp_path / "device").mkdir()
        updater = Updater(
            str(tmp_path / "device"), f"{url}/metadata/", str(tmp_path / "device"), f"{url}/targets/",
            bootstrap=(store.metadata_dir / "1.root.json").read_bytes(),
        )  # fmt: skip
        updater.refresh()
        info = updater.get_targetinfo(KEY_TARGET)
        assert info is not None
        key = key_from_document(Path(updater.download_target(info)).read_bytes())
    document = sign_desired_state(state(sequence=1, now=now), desired_state_key)
    assert DesiredStateVerifier(key, "tablet-1").verify(document, last_sequence=0, now=now).sequence == 1


def test_the_signed_payload_is_plain_sorted_compact_json() -> None:
    """The apps are serialised once and spliced in; the result must be what json.dumps would write."""
    envelope = json.loads(sign_desired_state(state(), generate_key()))
    payload = base64.b64decode(envelope["payload"])
    parsed = json.loads(payload)
    assert payload == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert [app["package"] for app in parsed["apps"]] == ["cn.gov.approve", "cn.gov.chat", "cn.gov.inspect"]
