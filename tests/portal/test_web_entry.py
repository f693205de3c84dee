"""A web app's entry and its route's admission, as tables (pure functions, no server)."""

from __future__ import annotations

import pytest

from govmobile.portal.errors import InvalidStartPath, RouteRefused
from govmobile.portal.web_entry import RouteAdmission, person_refusal, require_route, route_refusal, web_entry

OA = RouteAdmission("oa", True, None, frozenset({"water"}), frozenset({"field-staff"}), True)
OPEN = RouteAdmission("oa", True, None, frozenset({"water"}), frozenset(), True)


@pytest.mark.parametrize(
    ("start_path", "url"),
    [
        (None, "/apps/oa/"),
        ("", "/apps/oa/"),
        ("/", "/apps/oa/"),
        ("inbox", "/apps/oa/inbox"),
        ("/inbox/new?tab=1&x=a:b", "/apps/oa/inbox/new?tab=1&x=a:b"),
        ("reports/2026%20Q4/", "/apps/oa/reports/2026%20Q4/"),
        ("a..b/c.d", "/apps/oa/a..b/c.d"),
        ("search?q=../x", "/apps/oa/search?q=../x"),  # a query is not a path: it climbs nowhere
    ],
)
def test_a_start_path_under_the_route_is_kept(start_path: str | None, url: str) -> None:
    assert web_entry("oa", start_path).url == url


@pytest.mark.parametrize(
    "start_path",
    [
        "..", "../", "../mdm", "a/../../mdm", "a/..", ".", "./a", "a/./b",
        "%2e%2e", "%2E%2E/mdm", ".%2e/mdm", "%2e%2e%2fmdm", "a%2f..%2f..%2fmdm", "%252e%252e/mdm",
        "%25252e%25252e/mdm", "//evil.example", "/%2fevil.example", "a//b", "https://evil.example",
        "http:evil", "javascript:alert(1)", "HTTPS%3A//evil", "\\evil", "a\\b", "%5cevil", "a%5c..",
        "a#b", "a b", "a\tb", "a%00b", "a%0d%0ab", "%zz", "%2", "é",
    ],
)  # fmt: skip
def test_a_start_path_that_leaves_the_route_is_refused(start_path: str) -> None:
    with pytest.raises(InvalidStartPath):
        web_entry("oa", start_path)


@pytest.mark.parametrize("route", ["", "OA", "../oa", "oa/x", "-oa", "oa-", "a" * 33, "o a"])
def test_a_route_name_that_is_not_one_is_refused(route: str) -> None:
    with pytest.raises(InvalidStartPath) as refused:
        web_entry(route, "")
    assert refused.value.code == "invalid_route_name"


@pytest.mark.parametrize(
    ("route", "department", "code"),
    [
        (None, "water", "route_not_found"),
        (RouteAdmission("oa", False, None, frozenset({"water"}), frozenset(), True), "water", "route_disabled"),
        (RouteAdmission("oa", True, "oa.example.gov", frozenset({"water"}), frozenset(), True), "water", "route_by_host"),
        (OA, "fire", "route_not_found"),  # as if it did not exist: no oracle of other departments' routes
        (OA, "water", None),
        (OA, None, None),  # a platform app: any department the route admits
    ],
)  # fmt: skip
def test_which_department_a_route_lets_publish(
    route: RouteAdmission | None, department: str | None, code: str | None
) -> None:
    refusal = route_refusal(route, "oa", department)
    assert (refusal.code if refusal else None) == code
    if code is None:
        require_route(route, "oa", department)
    else:
        with pytest.raises(RouteRefused) as refused:
            require_route(route, "oa", department)
        assert refused.value.code == code


@pytest.mark.parametrize(
    ("route", "department", "groups", "code"),
    [
        (OA, "water", {"field-staff"}, None),
        (OA, "water", {"field-staff", "office"}, None),
        (OA, "water", {"office"}, "group_not_admitted"),
        (OA, "water", set(), "group_not_admitted"),
        (OA, "fire", {"field-staff"}, "route_not_found"),
        (OPEN, "water", set(), None),
        (None, "water", {"field-staff"}, "route_not_found"),
    ],
)
def test_which_person_a_route_admits(
    route: RouteAdmission | None, department: str, groups: set[str], code: str | None
) -> None:
    refusal = person_refusal(route, "oa", department, frozenset(groups))
    assert (refusal.code if refusal else None) == code
