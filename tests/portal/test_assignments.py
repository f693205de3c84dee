"""Resolving a device's desired apps: a table of cases, then properties over random assignments."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govmobile.portal.assignments import (
    Assignment,
    AssignmentIndex,
    DeviceContext,
    Intent,
    Resolution,
    Target,
    TargetKind,
    resolve_desired_apps,
)
from govmobile.portal.errors import InvalidAssignment, InvalidPackageId
from govmobile.portal.protection import ProtectionPolicy
from govmobile.portal.releases import Track

APP = "cn.gov.app"
DEPT = Target(TargetKind.DEPARTMENT, "dept")
OTHER_DEPT = Target(TargetKind.DEPARTMENT, "other-dept")
FIELD = Target(TargetKind.GROUP, "field-staff")
PILOTS = Target(TargetKind.GROUP, "pilots")
FINANCE = Target(TargetKind.GROUP, "finance")
ALICE = Target(TargetKind.PERSON, "alice")
BOB = Target(TargetKind.PERSON, "bob")
TABLET = Target(TargetKind.DEVICE, "tablet-1")
OTHER_TABLET = Target(TargetKind.DEVICE, "tablet-2")

#: Alice's tablet: in the department, in two groups.
DEVICE = DeviceContext("tablet-1", "dept", "alice", frozenset({"field-staff", "pilots"}))
DEFAULT_POLICY = ProtectionPolicy()
LOOSE = ProtectionPolicy(clipboard_to_unmanaged=True, save_to_unmanaged=True, screenshots=True)
PIN = ProtectionPolicy(screenshots=True, pin_required=True, pin_max_attempts=5)


@dataclass(frozen=True)
class A:
    """A row's assignment, short: target, intent, and what else the row needs."""

    target: Target
    intent: Intent
    track: Track = Track.PRODUCTION
    exclude: tuple[Target, ...] = ()
    config: dict[str, str | int | bool] = field(default_factory=dict)
    protection: ProtectionPolicy | None = None
    package: str = APP


R, V, U = Intent.REQUIRED, Intent.AVAILABLE, Intent.UNINSTALL
PILOT = Track.PILOT

# (case, assignments, expected intent or "conflict" or None for "not assigned", winners by index)
# fmt: off
CASES: list[tuple[str, list[A], str | None, tuple[int, ...]]] = [
    ("nothing assigned", [], None, ()),
    ("department required", [A(DEPT, R)], "required", (0,)),
    ("department available", [A(DEPT, V)], "available", (0,)),
    ("department uninstall", [A(DEPT, U)], "uninstall", (0,)),
    ("another department's assignment does not reach", [A(OTHER_DEPT, R)], None, ()),
    ("a group the device is not in does not reach", [A(FINANCE, R)], None, ()),
    ("another person's assignment does not reach", [A(BOB, R)], None, ()),
    ("another device's assignment does not reach", [A(OTHER_TABLET, U)], None, ()),
    ("group beats department: available over required", [A(DEPT, R), A(FIELD, V)], "available", (1,)),
    ("group beats department: uninstall over required", [A(DEPT, R), A(FIELD, U)], "uninstall", (1,)),
    ("person beats group", [A(FIELD, U), A(ALICE, R)], "required", (1,)),
    ("device beats person", [A(ALICE, R), A(TABLET, V)], "available", (1,)),
    ("device beats everything", [A(DEPT, R), A(FIELD, R), A(ALICE, R), A(TABLET, U)], "uninstall", (3,)),
    ("required beats available at one level", [A(FIELD, V), A(PILOTS, R)], "required", (1,)),
    ("uninstall beats available at one level", [A(FIELD, V), A(PILOTS, U)], "uninstall", (1,)),
    ("required and uninstall at one level: conflict", [A(FIELD, R), A(PILOTS, U)], "conflict", (0, 1)),
    ("conflict at person level", [A(ALICE, R), A(ALICE, U)], "conflict", (0, 1)),
    ("a conflict below the winning level does not matter", [A(FIELD, R), A(PILOTS, U), A(ALICE, V)], "available", (2,)),
    ("two required at one level both win", [A(FIELD, R), A(PILOTS, R)], "required", (0, 1)),
    ("excluded by group: as if absent", [A(DEPT, R, exclude=(FIELD,))], None, ()),
    ("excluded by person", [A(DEPT, R, exclude=(ALICE,))], None, ()),
    ("excluded by device", [A(FIELD, R, exclude=(TABLET,))], None, ()),
    ("exclusion of a group the device is not in", [A(DEPT, R, exclude=(FINANCE,))], "required", (0,)),
    ("excluded at group level, department still reaches", [A(DEPT, V), A(FIELD, R, exclude=(ALICE,))], "available", (0,)),
    ("excluded uninstall cannot cause a conflict", [A(FIELD, R), A(PILOTS, U, exclude=(TABLET,))], "required", (0,)),
    ("different configurations at one level: conflict", [A(FIELD, R, config={"server": "a"}), A(PILOTS, R, config={"server": "b"})], "conflict", (0, 1)),
    ("same configuration at one level", [A(FIELD, R, config={"server": "a"}), A(PILOTS, R, config={"server": "a"})], "required", (0, 1)),
    ("configurations of losers do not matter", [A(FIELD, V, config={"x": 1}), A(PILOTS, R, config={"x": 2})], "required", (1,)),
]
# fmt: on


def build(rows: list[A]) -> list[Assignment]:
    return [
        Assignment(
            f"a{i}",
            row.package,
            row.target,
            row.intent,
            row.track,
            frozenset(row.exclude),
            row.config,
            row.protection,
        )
        for i, row in enumerate(rows)
    ]


@pytest.mark.parametrize(("rows", "expected", "winners"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_resolution_table(rows: list[A], expected: str | None, winners: tuple[int, ...]) -> None:
    assignments = build(rows)
    for order in (assignments, assignments[::-1]):  # the order of assignments never matters
        resolution = resolve_desired_apps(DEVICE, order, DEFAULT_POLICY)
        ids = tuple(f"a{i}" for i in winners)
        if expected is None:
            assert resolution == Resolution({}, {})
        elif expected == "conflict":
            assert APP not in resolution.apps
            assert resolution.conflicts[APP].assignment_ids == ids
        else:
            assert resolution.conflicts == {}
            assert resolution.apps[APP].intent == expected
            assert resolution.apps[APP].assignment_ids == ids


def test_a_conflict_says_where_and_why() -> None:
    conflict = resolve_desired_apps(DEVICE, build([A(FIELD, R), A(PILOTS, U)]), DEFAULT_POLICY).conflicts[APP]
    assert (conflict.level, conflict.reason) == (
        TargetKind.GROUP,
        "required and uninstall at the same level (group)",
    )


def test_pilot_beats_production_among_winners_only() -> None:
    both = resolve_desired_apps(DEVICE, build([A(FIELD, R), A(PILOTS, R, PILOT)]), DEFAULT_POLICY)
    assert both.apps[APP].track is Track.PILOT
    pilot_lost = resolve_desired_apps(DEVICE, build([A(PILOTS, R, PILOT), A(ALICE, R)]), DEFAULT_POLICY)
    assert pilot_lost.apps[APP].track is Track.PRODUCTION


def test_the_strictest_protection_applies_and_the_department_default_fills_in() -> None:
    rows = [A(FIELD, R, protection=LOOSE), A(PILOTS, R, protection=PIN)]
    app = resolve_desired_apps(DEVICE, build(rows), DEFAULT_POLICY).apps[APP]
    assert app.protection == ProtectionPolicy(screenshots=True, pin_required=True, pin_max_attempts=5)
    only_default = resolve_desired_apps(DEVICE, build([A(FIELD, V)]), LOOSE).apps[APP]
    assert only_default.protection == LOOSE
    with_default = resolve_desired_apps(DEVICE, build([A(FIELD, V, protection=LOOSE), A(PILOTS, V)]), PIN)
    assert with_default.apps[APP].protection == ProtectionPolicy(
        screenshots=True, pin_required=True, pin_max_attempts=5
    )


def test_uninstall_carries_no_track_config_or_policy() -> None:
    app = resolve_desired_apps(
        DEVICE, build([A(ALICE, U, config={"k": "v"}, protection=PIN)]), DEFAULT_POLICY
    ).apps[APP]
    assert (app.track, app.config, app.protection) == (None, {}, None)


def test_apps_resolve_independently() -> None:
    rows = [A(DEPT, R), A(FIELD, R, package="cn.gov.other"), A(PILOTS, U, package="cn.gov.other")]
    resolution = resolve_desired_apps(DEVICE, build(rows), DEFAULT_POLICY)
    assert resolution.apps[APP].intent is Intent.REQUIRED
    assert list(resolution.conflicts) == ["cn.gov.other"]


def test_a_device_without_a_person_is_reached_by_department_and_itself() -> None:
    shared = DeviceContext("kiosk", "dept")
    resolution = resolve_desired_apps(shared, build([A(DEPT, V), A(ALICE, R)]), DEFAULT_POLICY)
    assert resolution.apps[APP].intent is Intent.AVAILABLE


def test_assignments_that_break_a_rule_are_refused() -> None:
    with pytest.raises(InvalidPackageId):
        Assignment("a", "../evil", DEPT, R)
    with pytest.raises(InvalidAssignment, match="exclusion must be at least as specific"):
        Assignment("a", APP, FIELD, R, exclusions=frozenset({DEPT}))
    with pytest.raises(InvalidAssignment, match="must be text"):
        Assignment("a", APP, FIELD, R, config={"k": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(InvalidAssignment, match="at most 64"):
        Assignment("a", APP, FIELD, R, config={str(i): i for i in range(65)})


def test_the_index_finds_the_same_as_a_full_scan() -> None:
    rng = random.Random(7)
    rows = [
        A(rng.choice([DEPT, FIELD, PILOTS, FINANCE, ALICE, BOB, TABLET]), rng.choice(list(Intent)))
        for _ in range(40)
    ]
    assignments = build([A(r.target, r.intent, package=f"cn.gov.app{i % 5}") for i, r in enumerate(rows)])
    index = AssignmentIndex(assignments)
    for device in (DEVICE, DeviceContext("tablet-9", "dept", "bob", frozenset({"finance"}))):
        assert index.resolve(device, DEFAULT_POLICY) == resolve_desired_apps(
            device, assignments, DEFAULT_POLICY
        )
    index.remove("a0")
    assert index.resolve(DEVICE, DEFAULT_POLICY) == resolve_desired_apps(
        DEVICE, assignments[1:], DEFAULT_POLICY
    )


# --- Properties over random assignments ------------------------------------------------------------

TARGETS = [DEPT, OTHER_DEPT, FIELD, PILOTS, FINANCE, ALICE, BOB, TABLET, OTHER_TABLET]
rows_strategy = st.lists(
    st.builds(
        A,
        target=st.sampled_from(TARGETS),
        intent=st.sampled_from(list(Intent)),
        track=st.sampled_from(list(Track)),
        package=st.sampled_from(["cn.gov.a", "cn.gov.b", "cn.gov.c"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.randoms(use_true_random=False))
def test_order_never_matters(rows: list[A], rng: random.Random) -> None:
    assignments = build(rows)
    shuffled = assignments[:]
    rng.shuffle(shuffled)
    assert resolve_desired_apps(DEVICE, assignments, DEFAULT_POLICY) == resolve_desired_apps(
        DEVICE, shuffled, DEFAULT_POLICY
    )


@settings(max_examples=300, deadline=None)
@given(rows_strategy)
def test_every_outcome_comes_from_the_most_specific_level_that_reaches(rows: list[A]) -> None:
    assignments = build(rows)
    resolution = resolve_desired_apps(DEVICE, assignments, DEFAULT_POLICY)
    targets = DEVICE.targets()
    by_id = {a.id: a for a in assignments}
    for package in {a.package for a in assignments}:
        reaching = [a for a in assignments if a.package == package and a.target in targets]
        if not reaching:
            assert package not in resolution.apps
            assert package not in resolution.conflicts
            continue
        top = max(a.target.kind for a in reaching)
        top_intents = {a.intent for a in reaching if a.target.kind == top}
        assert (package in resolution.conflicts) == ({R, U} <= top_intents)
        if package in resolution.apps:
            app = resolution.apps[package]
            assert all(
                by_id[i].target.kind == top and by_id[i].intent == app.intent for i in app.assignment_ids
            )
            expected = R if R in top_intents else U if U in top_intents else V
            assert app.intent == expected


@settings(max_examples=200, deadline=None)
@given(rows_strategy, st.sampled_from([FIELD, ALICE, TABLET, FINANCE]))
def test_an_exclusion_that_matches_is_the_same_as_no_assignment(rows: list[A], excluded: Target) -> None:
    assignments = build(rows)
    if not assignments:
        return
    first = assignments[0]
    if excluded.kind < first.target.kind:
        return
    with_exclusion = [
        Assignment(first.id, first.package, first.target, first.intent, first.track, frozenset({excluded})),
        *assignments[1:],
    ]
    matched = excluded in DEVICE.targets()
    expected_rows = assignments[1:] if matched else [with_exclusion[0], *assignments[1:]]
    assert resolve_desired_apps(DEVICE, with_exclusion, DEFAULT_POLICY) == resolve_desired_apps(
        DEVICE, expected_rows, DEFAULT_POLICY
    )


@settings(max_examples=200, deadline=None)
@given(rows_strategy, st.sampled_from([DEPT, FIELD, PILOTS]), st.sampled_from(list(Intent)))
def test_a_less_specific_assignment_never_overrides_a_more_specific_one(
    rows: list[A], broad: Target, intent: Intent
) -> None:
    assignments = build(rows)
    before = resolve_desired_apps(DEVICE, assignments, DEFAULT_POLICY)
    added = [*assignments, Assignment("broad", "cn.gov.a", broad, intent)]
    after = resolve_desired_apps(DEVICE, added, DEFAULT_POLICY)
    reached_above = any(
        a.package == "cn.gov.a" and a.target in DEVICE.targets() and a.target.kind > broad.kind
        for a in assignments
    )
    if reached_above:
        assert after.apps.get("cn.gov.a") == before.apps.get("cn.gov.a")
        assert after.conflicts.get("cn.gov.a") == before.conflicts.get("cn.gov.a")


def test_protection_policies_refuse_nonsense() -> None:
    with pytest.raises(InvalidAssignment, match="needs pin_required"):
        ProtectionPolicy(pin_max_attempts=3)
    with pytest.raises(InvalidAssignment, match="may not come before"):
        ProtectionPolicy(offline_block_after=dt.timedelta(days=3), offline_wipe_after=dt.timedelta(days=1))
    with pytest.raises(InvalidAssignment, match="needs offline_block_after"):
        ProtectionPolicy(offline_wipe_after=dt.timedelta(days=1))
    with pytest.raises(InvalidAssignment, match="between one minute"):
        ProtectionPolicy(offline_block_after=dt.timedelta(seconds=5))


def test_a_protection_policy_round_trips_through_its_document_and_refuses_strangers() -> None:
    policy = ProtectionPolicy(
        screenshots=True,
        pin_required=True,
        pin_max_attempts=5,
        offline_block_after=dt.timedelta(days=3),
        offline_wipe_after=dt.timedelta(days=30),
    )
    assert ProtectionPolicy.from_document(policy.to_document()) == policy
    assert policy.to_document()["offline_wipe_after_seconds"] == 30 * 86400
    for bad in ({"screenshots": "yes"}, {"pin_max_attempts": True}, {"root_access": True}, [1]):
        with pytest.raises(InvalidAssignment):
            ProtectionPolicy.from_document(bad)


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        ProtectionPolicy,
        clipboard_to_unmanaged=st.booleans(),
        save_to_unmanaged=st.booleans(),
        screenshots=st.booleans(),
    ),
    st.builds(
        ProtectionPolicy,
        clipboard_to_unmanaged=st.booleans(),
        screenshots=st.booleans(),
        pin_required=st.just(True),
        pin_max_attempts=st.one_of(st.none(), st.integers(1, 100)),
        offline_block_after=st.just(dt.timedelta(days=2)),
    ),
)
def test_the_strictest_of_two_policies_is_never_weaker_than_either(
    a: ProtectionPolicy, b: ProtectionPolicy
) -> None:
    merged = a.strictest(b)
    assert merged == b.strictest(a)
    for policy in (a, b):
        assert merged.clipboard_to_unmanaged <= policy.clipboard_to_unmanaged
        assert merged.save_to_unmanaged <= policy.save_to_unmanaged
        assert merged.screenshots <= policy.screenshots
        assert merged.pin_required >= policy.pin_required
        if policy.pin_max_attempts is not None:
            assert merged.pin_max_attempts is not None
            assert merged.pin_max_attempts <= policy.pin_max_attempts
        if policy.offline_block_after is not None:
            assert merged.offline_block_after is not None
            assert merged.offline_block_after <= policy.offline_block_after
