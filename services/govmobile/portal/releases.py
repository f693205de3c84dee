"""The release rules: who signs an app, which versions may follow, and how a release goes live.

A release goes ``draft`` → ``approved`` → ``published`` → ``retired`` (a draft or an approved
release may also be retired, i.e. withdrawn). A department may require a second admin to approve
(the uploader cannot approve their own release: a government review step), and may require a
release to run on the ``pilot`` track before it is published to ``production``.

Two rules protect devices, as Android itself and F-Droid do:

- **Signer pinning.** The first release of an app that is ever published pins its signers (the
  SHA-256 of each certificate that apksigner verified). Every later release must carry exactly the
  same signers; Android would refuse such an update anyway, and a different key means a different
  publisher. Retiring releases does not release the pin.
- **Versions only go up.** A new release's version code must exceed that of every release ever
  published (retired ones included: devices may still have them, and Android does not downgrade).
  Promoting a pilot release to production needs only to exceed what production has.

Both rules are checked at upload (early, clear refusal) and again at publication (another release
may have been published in between). These are pure functions over immutable values; the service
stores the results and audits each step.

A web app's releases follow the same lifecycle: each is an *entry* (a gateway route and a start
path, ``web_entry``), its version code the next number, its "signers" none (nothing to pin), its
SHA-256 that of the entry, so the same review, tracks and audit apply to what a web app opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from govmobile.portal.errors import (
    PackageOwnedElsewhere,
    SignerMismatch,
    TransitionRefused,
    VersionNotNewer,
)
from govmobile.portal.web_entry import WebEntry


class ReleaseState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"
    RETIRED = "retired"


class Track(StrEnum):
    """Pilot devices get the newest release of either track; production devices only production's."""

    PILOT = "pilot"
    PRODUCTION = "production"


@dataclass(frozen=True)
class ReviewPolicy:
    """A department's publishing rules (both off by default, as in a one-admin office)."""

    second_approval: bool = False
    pilot_first: bool = False


@dataclass(frozen=True)
class Release:
    """One uploaded APK of an app, and where it is in review and publication."""

    package: str
    version_code: int
    version_name: str
    sha256: str
    signers: frozenset[str]
    uploaded_by: str
    state: ReleaseState = ReleaseState.DRAFT
    approved_by: str | None = None
    #: The track it is published on (kept after retirement, for the record).
    track: Track | None = None
    #: Whether it has ever been published: a retired release that was once live still pins.
    was_published: bool = False
    #: Whether it has ever been published on the pilot track (for ``ReviewPolicy.pilot_first``).
    piloted: bool = False
    #: A web app's release: the route and path it opens (None: an APK).
    web: WebEntry | None = None


def check_owner(owner: str | None, department: str) -> None:
    """A package id belongs to the department that first registered it (or to the platform)."""
    if owner is not None and owner != department:
        # Which department owns it is not said: that is another tenant's information.
        raise PackageOwnedElsewhere(
            "this package id is registered to another department; ask the platform admin to transfer it"
        )


def pinned_signers(history: Iterable[Release]) -> frozenset[str] | None:
    """The signers pinned by the app's first published release, or None before any publication."""
    published = [r for r in history if r.was_published]
    if not published:
        return None
    return min(published, key=lambda r: r.version_code).signers


def newest_published_version(history: Iterable[Release], track: Track | None = None) -> int:
    """The highest version code ever published (on ``track`` if given, live ones only then); 0 if none."""
    if track is None:
        return max((r.version_code for r in history if r.was_published), default=0)
    return max(
        (r.version_code for r in history if r.state is ReleaseState.PUBLISHED and r.track is track), default=0
    )


def admit_upload(history: Iterable[Release], candidate: Release) -> Release:
    """Check a newly uploaded release against the app's history; return it as a draft."""
    history = tuple(history)
    _check_signers(history, candidate)
    _check_newer(history, candidate)
    for other in history:
        if other.version_code == candidate.version_code and other.state is not ReleaseState.RETIRED:
            raise VersionNotNewer(
                f"version code {candidate.version_code} is already taken by a {other.state} release; "
                "retire that one or raise the version code"
            )
    return replace(candidate, state=ReleaseState.DRAFT, approved_by=None, track=None, was_published=False)


def approve(release: Release, approver: str, policy: ReviewPolicy) -> Release:
    """draft → approved; with ``second_approval`` the approver must not be the uploader."""
    if release.state is not ReleaseState.DRAFT:
        raise TransitionRefused(f"only a draft can be approved; this release is {release.state}")
    if policy.second_approval and approver == release.uploaded_by:
        raise TransitionRefused(
            "this department requires a second admin to approve a release; ask another admin to approve it"
        )
    return replace(release, state=ReleaseState.APPROVED, approved_by=approver)


def publish(history: Iterable[Release], release: Release, track: Track, policy: ReviewPolicy) -> Release:
    """approved → published on ``track``, or a pilot release promoted to production."""
    others = tuple(r for r in history if r.version_code != release.version_code)
    promoting = (
        release.state is ReleaseState.PUBLISHED and release.track is Track.PILOT and track is Track.PRODUCTION
    )
    if release.state is not ReleaseState.APPROVED and not promoting:
        raise TransitionRefused(
            f"a {release.state} release cannot be published to {track}; "
            + ("approve it first" if release.state is ReleaseState.DRAFT else "upload a new release")
        )
    if track is Track.PRODUCTION and policy.pilot_first and not release.piloted:
        raise TransitionRefused("this department requires a release to run on the pilot track first")
    _check_signers(others, release)
    if promoting:
        if release.version_code <= newest_published_version(others, Track.PRODUCTION):
            raise VersionNotNewer(
                f"production already has a newer release than version code {release.version_code}"
            )
    else:
        _check_newer(others, release)
    return replace(
        release,
        state=ReleaseState.PUBLISHED,
        track=track,
        was_published=True,
        piloted=release.piloted or track is Track.PILOT,
    )


def retire(release: Release) -> Release:
    """Take a release out of the catalogue (or withdraw it before it was published)."""
    if release.state is ReleaseState.RETIRED:
        raise TransitionRefused("this release is already retired")
    return replace(release, state=ReleaseState.RETIRED)


def current_release(history: Iterable[Release], track: Track) -> Release | None:
    """The release a device on ``track`` should have: the newest live one its track can see."""
    visible = (Track.PILOT, Track.PRODUCTION) if track is Track.PILOT else (Track.PRODUCTION,)
    live = [r for r in history if r.state is ReleaseState.PUBLISHED and r.track in visible]
    return max(live, key=lambda r: r.version_code, default=None)


def live_releases(histories: Mapping[str, Iterable[Release]]) -> dict[tuple[str, Track], Release]:
    """The current release of every app on every track, looked up by (package, track).

    Computed once per catalogue change, so that building a device's document is dictionary
    lookups rather than a scan of every app's history.
    """
    live: dict[tuple[str, Track], Release] = {}
    for package, history in histories.items():
        history = tuple(history)
        for track in Track:
            release = current_release(history, track)
            if release is not None:
                live[package, track] = release
    return live


def _check_signers(history: tuple[Release, ...], candidate: Release) -> None:
    pinned = pinned_signers(history)
    if pinned is not None and candidate.signers != pinned:
        raise SignerMismatch(
            "this update is signed by another key than the app's published releases; "
            "sign it with the app's release key (a new key means a new app)"
        )


def _check_newer(history: tuple[Release, ...], candidate: Release) -> None:
    newest = newest_published_version(history)
    if candidate.version_code <= newest:
        raise VersionNotNewer(
            f"version code {candidate.version_code} is not above the newest published one ({newest}); "
            "raise android:versionCode and build again"
        )
