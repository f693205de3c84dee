"""The agent's desired-state verifier against documents the portal signs: it accepts what the
portal's reference verifier accepts and refuses what it refuses (another device, replayed,
expired, tampered, another key), and reads every field the portal writes, the retry included.
A guard against the two drifting apart (the agent cannot import the server's verifier)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from securesystemslib.signer import CryptoSigner

from govmobile.portal import desired_state as server
from govmobile.portal.assignments import resolve_desired_apps
from govmobile.portal.errors import DocumentRefused as ServerRefused
from govmobile.portal.protection import ProtectionPolicy
from govmobile_device import desired_state as device
from tests.portal.test_desired_state import ASSIGNMENTS, DEVICE, LIVE, NOW

SIGNER = CryptoSigner.generate_ed25519()
OTHER_SIGNER = CryptoSigner.generate_ed25519()


def document(
    sequence: int = 5, *, signer: CryptoSigner = SIGNER, retries: dict[str, int] | None = None
) -> bytes:
    resolution = resolve_desired_apps(DEVICE, ASSIGNMENTS, ProtectionPolicy())
    state = server.build_desired_state(
        DEVICE.device_id, resolution, LIVE, sequence=sequence, now=NOW, retries=retries
    )
    return server.sign_desired_state(state, signer)


def key_document() -> bytes:
    return server.public_key_document(SIGNER.public_key)


def verifiers() -> tuple[server.DesiredStateVerifier, device.DesiredStateVerifier]:
    return (
        server.DesiredStateVerifier(server.key_from_document(key_document()), DEVICE.device_id),
        device.DesiredStateVerifier(device.key_from_document(key_document()), DEVICE.device_id),
    )


def test_the_agent_reads_what_the_portal_signs_field_by_field() -> None:
    reference, agent = verifiers()
    data = document(retries={"cn.gov.inspect": 2})
    theirs = reference.verify(data, last_sequence=4, now=NOW)
    ours = agent.verify(data, last_sequence=4, now=NOW)
    assert (ours.device_id, ours.sequence, ours.issued, ours.expires, ours.conflicts) == (
        theirs.device_id, theirs.sequence, theirs.issued, theirs.expires, theirs.conflicts,
    )  # fmt: skip
    assert len(ours.apps) == len(theirs.apps) > 0
    for mine, reference_app in zip(ours.apps, theirs.apps, strict=True):
        assert (mine.package, mine.intent, mine.version_code, mine.target, mine.sha256, mine.retry) == (
            reference_app.package, str(reference_app.intent), reference_app.version_code,
            reference_app.target, reference_app.sha256, reference_app.retry,
        )  # fmt: skip
        assert mine.config == dict(reference_app.config)
        expected = None if reference_app.protection is None else reference_app.protection.to_document()
        assert mine.protection == expected
    inspect = ours.app("cn.gov.inspect")
    assert inspect is not None
    assert inspect.retry == 2


def tampered(data: bytes) -> bytes:
    envelope = json.loads(data)
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["apps"] = []
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    ("data", "last_sequence", "now", "code"),
    [
        (document(5), 5, NOW, "document_replayed"),
        (document(5), 9, NOW, "document_replayed"),
        (document(5), 0, NOW + server.LIFETIME, "document_expired"),
        (tampered(document(5)), 0, NOW, "document_bad_signature"),
        (document(5, signer=OTHER_SIGNER), 0, NOW, "document_bad_signature"),
        (b"{not json", 0, NOW, "document_malformed"),
        (b"x" * (server.MAX_DOCUMENT_BYTES + 1), 0, NOW, "document_malformed"),
    ],
    ids=["same-sequence", "older", "expired", "tampered", "other-key", "garbage", "too-large"],
)
def test_the_agent_refuses_what_the_portal_reference_refuses(
    data: bytes, last_sequence: int, now: dt.datetime, code: str
) -> None:
    reference, agent = verifiers()
    with pytest.raises(ServerRefused) as theirs:
        reference.verify(data, last_sequence=last_sequence, now=now)
    with pytest.raises(device.DocumentRefused) as ours:
        agent.verify(data, last_sequence=last_sequence, now=now)
    assert ours.value.code == theirs.value.code == code


def test_a_document_for_another_device_is_refused() -> None:
    other = device.DesiredStateVerifier(device.key_from_document(key_document()), "tablet-2")
    with pytest.raises(device.DocumentRefused) as refused:
        other.verify(document(), last_sequence=0, now=NOW)
    assert refused.value.code == "document_other_device"


def web_document(url: str, sequence: int = 5) -> bytes:
    """A signed document with one web app opening ``url`` (as the portal builds it, unchecked)."""
    state = server.DesiredState(
        DEVICE.device_id,
        sequence,
        NOW,
        NOW + server.LIFETIME,
        (server.AppState("cn.gov.water.oa", server.Intent.AVAILABLE, version_code=1, url=url),),
    )
    return server.sign_desired_state(state, SIGNER)


def test_the_agent_reads_a_web_app_as_the_portal_writes_it() -> None:
    reference, agent = verifiers()
    data = web_document("/apps/oa/inbox?tab=new")
    theirs = reference.verify(data, last_sequence=0, now=NOW).apps[0]
    ours = agent.verify(data, last_sequence=0, now=NOW).apps[0]
    assert (ours.kind, ours.url, ours.target, ours.sha256) == ("web", "/apps/oa/inbox?tab=new", None, None)
    assert (theirs.kind, theirs.url) == (ours.kind, ours.url)
    # The two sides' rules for a web app's URL are one pattern.
    assert device.WEB_URL.pattern == server.WEB_URL.pattern
    # Android entries carry no kind at all: documents of devices without web apps are unchanged.
    android = json.loads(base64.b64decode(json.loads(document())["payload"]))["apps"]
    assert all("kind" not in entry and "url" not in entry for entry in android)


@pytest.mark.parametrize(
    "url",
    ["/apps/oa/../mdm/", "/apps/oa//evil.example/", "https://evil.example/", "/portal/v1/x", "/apps/OA/"],
)
def test_a_signed_web_entry_that_leaves_its_route_is_refused_by_both(url: str) -> None:
    reference, agent = verifiers()
    data = web_document(url)
    with pytest.raises(ServerRefused) as theirs:
        reference.verify(data, last_sequence=0, now=NOW)
    with pytest.raises(device.DocumentRefused) as ours:
        agent.verify(data, last_sequence=0, now=NOW)
    assert ours.value.code == theirs.value.code == "document_malformed"
