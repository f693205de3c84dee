"""The release rules: signer pinning, versions that only go up, review and tracks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from govmobile.portal.errors import (
    PackageOwnedElsewhere,
    SignerMismatch,
    TransitionRefused,
    VersionNotNewer,
)
from govmobile.portal.releases import (
    Release,
    ReleaseState,
    ReviewPolicy,
    Track,
    admit_upload,
    approve,
    check_owner,
    current_release,
    pinned_signers,
    publish,
    retire,
)

KEY_A = frozenset({"a" * 64})
KEY_B = frozenset({"b" * 64})
OPEN = ReviewPolicy()
STRICT = ReviewPolicy(second_approval=True, pilot_first=True)


def upload(version: int, signers: frozenset[str] = KEY_A, by: str = "alice") -> Release:
    return Release("cn.gov.app", version, f"{version}.0", f"{version:064x}", signers, by)


def live(version: int, track: Track = Track.PRODUCTION, signers: frozenset[str] = KEY_A) -> Release:
    """A release that went through review and is published on ``track``."""
    return publish([], approve(upload(version, signers), "bob", OPEN), track, OPEN)


def test_the_whole_way_with_a_second_approver_and_a_pilot() -> None:
    draft = admit_upload([], upload(1))
    assert draft.state is ReleaseState.DRAFT
    approved = approve(draft, "bob", STRICT)
    assert (approved.state, approved.approved_by) == (ReleaseState.APPROVED, "bob")
    piloted = publish([], approved, Track.PILOT, STRICT)
    assert (piloted.state, piloted.track, piloted.piloted, piloted.was_published) == (
        ReleaseState.PUBLISHED, Track.PILOT, True, True,
    )  # fmt: skip
    promoted = publish([piloted], piloted, Track.PRODUCTION, STRICT)
    assert (promoted.track, promoted.piloted) == (Track.PRODUCTION, True)
    retired = retire(promoted)
    assert (retired.state, retired.was_published) == (ReleaseState.RETIRED, True)


def test_the_uploader_may_not_approve_when_a_second_admin_is_required() -> None:
    with pytest.raises(TransitionRefused, match="second admin"):
        approve(upload(1, by="alice"), "alice", STRICT)
    assert approve(upload(1, by="alice"), "alice", OPEN).approved_by == "alice"


def test_production_requires_the_pilot_first_when_the_department_says_so() -> None:
    approved = approve(upload(1), "bob", STRICT)
    with pytest.raises(TransitionRefused, match="pilot track first"):
        publish([], approved, Track.PRODUCTION, STRICT)
    assert publish([], approved, Track.PRODUCTION, OPEN).track is Track.PRODUCTION


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (ReleaseState.APPROVED, "approve"),
        (ReleaseState.PUBLISHED, "approve"),
        (ReleaseState.RETIRED, "approve"),
        (ReleaseState.DRAFT, "publish"),
        (ReleaseState.RETIRED, "publish"),
        (ReleaseState.RETIRED, "retire"),
    ],
)
def test_steps_out_of_order_are_refused(state: ReleaseState, step: str) -> None:
    release = replace(
        upload(1), state=state, track=Track.PRODUCTION if state is ReleaseState.PUBLISHED else None
    )
    steps = {
        "approve": lambda: approve(release, "bob", OPEN),
        "publish": lambda: publish([], release, Track.PRODUCTION, OPEN),
        "retire": lambda: retire(release),
    }
    with pytest.raises(TransitionRefused):
        steps[step]()


def test_a_production_release_cannot_be_published_again_nor_moved_back_to_pilot() -> None:
    release = live(1)
    for track in Track:
        with pytest.raises(TransitionRefused):
            publish([release], release, track, OPEN)


def test_a_draft_or_approved_release_can_be_withdrawn() -> None:
    assert retire(upload(1)).state is ReleaseState.RETIRED
    assert retire(approve(upload(1), "bob", OPEN)).was_published is False


def test_the_first_published_release_pins_the_signer() -> None:
    history = [live(1)]
    assert pinned_signers(history) == KEY_A
    with pytest.raises(SignerMismatch, match="another key"):
        admit_upload(history, upload(2, KEY_B))
    assert admit_upload(history, upload(2, KEY_A)).state is ReleaseState.DRAFT


def test_the_pin_outlives_retirement() -> None:
    history = [retire(live(1))]
    with pytest.raises(SignerMismatch):
        admit_upload(history, upload(2, KEY_B))


def test_drafts_never_published_do_not_pin_but_publication_rechecks() -> None:
    """Two drafts signed differently may wait; once one is published the other is refused."""
    draft_a = admit_upload([], upload(2, KEY_A))
    draft_b = admit_upload([draft_a], upload(3, KEY_B))
    assert pinned_signers([draft_a, draft_b]) is None
    published_a = publish([draft_b], approve(draft_a, "bob", OPEN), Track.PRODUCTION, OPEN)
    with pytest.raises(SignerMismatch):
        publish([published_a], approve(draft_b, "bob", OPEN), Track.PRODUCTION, OPEN)


def test_a_withdrawn_draft_pins_nothing() -> None:
    history = [retire(admit_upload([], upload(1, KEY_B)))]
    assert admit_upload(history, upload(2, KEY_A)).signers == KEY_A


@pytest.mark.parametrize("version", [1, 4, 5])
def test_a_version_code_not_above_the_newest_published_is_refused(version: int) -> None:
    history = [live(3), retire(live(5))]
    with pytest.raises(VersionNotNewer, match="not above the newest published one \\(5\\)"):
        admit_upload(history, upload(version))
    assert admit_upload(history, upload(6)).version_code == 6


def test_a_version_code_taken_by_a_pending_release_is_refused() -> None:
    with pytest.raises(VersionNotNewer, match="already taken by a draft"):
        admit_upload([upload(4)], upload(4))
    assert admit_upload([retire(upload(4))], upload(4)).version_code == 4


def test_publication_rechecks_the_version_against_what_went_live_meanwhile() -> None:
    slow = approve(admit_upload([], upload(4)), "bob", OPEN)
    fast = live(5)
    with pytest.raises(VersionNotNewer):
        publish([fast], slow, Track.PRODUCTION, OPEN)


def test_promotion_needs_only_to_exceed_production() -> None:
    pilot_6 = live(6, Track.PILOT)
    pilot_7 = live(7, Track.PILOT)
    production_5 = live(5)
    promoted = publish([production_5, pilot_7], pilot_6, Track.PRODUCTION, OPEN)
    assert promoted.track is Track.PRODUCTION
    with pytest.raises(VersionNotNewer, match="production already has a newer release"):
        publish([promoted, production_5], live(4, Track.PILOT), Track.PRODUCTION, OPEN)


def test_the_current_release_per_track() -> None:
    history = [live(3), live(5, Track.PILOT), retire(live(6, Track.PILOT)), approve(upload(9), "bob", OPEN)]
    production = current_release(history, Track.PRODUCTION)
    pilot = current_release(history, Track.PILOT)
    assert (production.version_code if production else None) == 3
    assert (pilot.version_code if pilot else None) == 5
    assert current_release([upload(1)], Track.PILOT) is None


def test_a_package_id_belongs_to_one_department() -> None:
    check_owner(None, "dept-a")
    check_owner("dept-a", "dept-a")
    with pytest.raises(PackageOwnedElsewhere) as refused:
        check_owner("dept-b", "dept-a")
    assert "dept-b" not in refused.value.public_message
