"""The overview dashboard: the fleet in figures and charts, one API request per figure.

The figures are counted by the services (``/api/v1/overview/...``, the CA's and the portal's
counts), never here: the page fetches a few numbers, whatever the size of the fleet. A platform
admin picks a department or all of them; a department admin sees their own, and a department
named in the URL or the session state that is not theirs gets the API's refusal, no figures.
A service that cannot be reached costs its own section only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from govmobile_client import GovMobileClient
from govmobile_client.errors import ApiError, ClientError, ConnectionFailed, ServerError, Unauthenticated
from govmobile_client.models import (
    CommandCount,
    CommandOverview,
    DeviceState,
    ExpiringCertificates,
    InstallationState,
    LastSeen,
    ReasonKind,
)
from govmobile_console import charts, drafts, labels, session
from govmobile_console.context import PageContext, page_context
from govmobile_console.header import header

ResultT = TypeVar("ResultT")

#: ``?department=<id>`` opens the overview on one department (a platform admin's link).
DEPARTMENT_PARAMETER = "department"
ALL_DEPARTMENTS = ""
DAY_CHOICES = (7, 30, 90)


def overview_page() -> None:
    context = page_context()
    _ = context._
    signed_in = session.current()
    if signed_in is None:  # the navigation shows this page only when signed in
        session.end()
    header(context, signed_in)
    st.title(_("Overview"))
    tenant_id = department_scope(context, signed_in)
    try:
        devices = session.api(signed_in, lambda c: c.overview.devices(tenant_id=tenant_id or None), _)
    except ApiError as exc:
        # The one refusal that matters here: a department that is not the admin's (or none).
        st.error(session.refusal(exc, _))
        return
    fmt = context.formats
    commands = section(signed_in, context, lambda c: c.overview.commands(tenant_id=tenant_id or None))
    certificates = section(
        signed_in, context, lambda c: c.overview.expiring_certificates(tenant_id=tenant_id or None)
    )
    pending = sum(row.count for row in commands.pending) if commands else None
    expiring_week = sum(p.within_7_days for p in certificates.profiles) if certificates else None
    expiring_month = sum(p.within_30_days for p in certificates.profiles) if certificates else None
    columns = st.columns(6)
    metrics = [
        (_("Devices"), devices.total),
        (_("In service"), devices.in_service),
        (_("Non-compliant"), devices.noncompliant),
        (_("Commands pending"), pending),
        (_("Certificates expiring in 7 days"), expiring_week),
        (_("Certificates expiring in 30 days"), expiring_month),
    ]
    for column, (title, value) in zip(columns, metrics, strict=True):
        column.metric(title, "—" if value is None else fmt.number(value))

    count = _("Devices")
    left, right = st.columns(2)
    with left:
        st.subheader(_("Devices by state"))
        states = labels.device_state(_)
        st.altair_chart(
            charts.bars(
                [labels.label(states, s) for s in DeviceState],
                [devices.by_state.get(s, 0) for s in DeviceState],
                category=_("State"),
                count=count,
            ),
            width="stretch",
        )
    with right:
        st.subheader(_("Compliance of devices in service"))
        kinds = labels.compliance(_)
        st.altair_chart(
            charts.bars(
                [kinds["compliant"], kinds["noncompliant"], kinds["unknown"]],
                [devices.compliant, devices.noncompliant, devices.unknown],
                category=_("Compliance"),
                count=count,
            ),
            width="stretch",
        )
    left, right = st.columns(2)
    with left:
        st.subheader(_("Non-compliance reasons"))
        if devices.noncompliant:
            reasons = labels.reason_kind(_)
            st.altair_chart(
                charts.bars(
                    [*(labels.label(reasons, k) for k in ReasonKind), reasons["other"]],
                    [*(devices.reasons.get(k, 0) for k in ReasonKind), devices.other_reasons],
                    category=_("Reason"),
                    count=count,
                ),
                width="stretch",
            )
        else:
            st.caption(_("No device in service is non-compliant."))
    with right:
        st.subheader(_("Last check-in"))
        buckets = labels.last_seen(_)
        st.altair_chart(
            charts.bars(
                [labels.label(buckets, b) for b in LastSeen],
                [devices.last_seen.get(b, 0) for b in LastSeen],
                category=_("Last check-in"),
                count=count,
            ),
            width="stretch",
        )

    enrollments_section(signed_in, context, tenant_id)
    commands_section(context, commands)
    left, right = st.columns(2)
    with left:
        certificates_section(context, certificates)
    with right:
        installations_section(signed_in, context, tenant_id)


def department_scope(context: PageContext, signed_in: session.SignedIn) -> str:
    """The department whose figures to show: a platform admin's choice (or the link's), a
    department admin's own. What the URL or the session state says is passed to the API as it
    is, so the API's scoping, not this page, decides what comes back."""
    _ = context._
    asked = st.query_params.get(DEPARTMENT_PARAMETER)
    if not signed_in.sees_every_department:
        if signed_in.department is not None:
            st.caption(_("Department"))
            st.text(signed_in.department.name)
        return asked or drafts.kept("overview.department") or ""
    departments = session.api(signed_in, lambda c: c.tenants.list(), _)
    names = {d.id: d.name for d in departments}
    key = drafts.restore("overview.department")
    if asked is not None and key not in st.session_state:
        st.session_state[key] = asked
    options = [ALL_DEPARTMENTS, *names]
    current = st.session_state.get(key)
    if current not in options:
        options.append(str(current))  # an id from a link: shown, and refused by the API if unknown
    st.selectbox(
        _("Department"),
        options,
        key=key,
        format_func=lambda value: (
            _("All departments") if value == ALL_DEPARTMENTS else names.get(value, value)
        ),
    )
    drafts.keep("overview.department")
    return str(st.session_state.get(key) or "")


def section(
    signed_in: session.SignedIn, context: PageContext, call: Callable[[GovMobileClient], ResultT]
) -> ResultT | None:
    """One figure: None, with a warning in place, when its service cannot answer now."""
    _ = context._
    try:
        return call(signed_in.client)
    except Unauthenticated:
        session.end()
    except (ConnectionFailed, ServerError) as exc:
        st.warning(_("This figure is not available right now: its service does not answer."))
        with st.expander(_("Details")):
            st.text(str(exc))
    except ApiError as exc:
        st.warning(session.refusal(exc, _))
    except ClientError as exc:
        st.warning(str(exc))
    return None


def enrollments_section(signed_in: session.SignedIn, context: PageContext, tenant_id: str) -> None:
    _ = context._
    st.subheader(_("Enrollments"))
    key = drafts.restore("overview.days")
    if st.session_state.get(key) not in DAY_CHOICES:
        st.session_state[key] = 30
    days = st.radio(
        _("Period"),
        DAY_CHOICES,
        key=key,
        horizontal=True,
        format_func=lambda n: _("Last {days} days").format(days=n),
    )
    drafts.keep("overview.days")
    zone = context.settings.time_zone.key
    figures = section(
        signed_in,
        context,
        lambda c: c.overview.enrollments(tenant_id=tenant_id or None, days=days, time_zone=zone),
    )
    if figures is None:
        return
    st.altair_chart(
        charts.days(
            [context.formats.date(d.day) for d in figures.days],
            [d.count for d in figures.days],
            day=_("Day"),
            count=_("Devices enrolled"),
        ),
        width="stretch",
    )


def commands_section(context: PageContext, commands: CommandOverview | None) -> None:
    _ = context._
    st.subheader(_("Commands"))
    if commands is None:
        return
    left, right = st.columns(2)
    with left:
        st.caption(_("Pending"))
        _command_chart(context, commands.pending, _("No command is waiting for its device."))
    with right:
        st.caption(_("Failed since {moment}").format(moment=context.formats.moment(commands.failed_since)))
        _command_chart(context, commands.failed, _("No command failed."))


def _command_chart(context: PageContext, rows: list[CommandCount], empty: str) -> None:
    _ = context._
    if not rows:
        st.caption(empty)
        return
    types, states = labels.command_type(_), labels.command_state(_)
    st.altair_chart(
        charts.stacked_bars(
            [(labels.label(types, r.type), labels.label(states, r.state), r.count) for r in rows],
            category=_("Command"),
            part=_("State"),
            count=_("Commands"),
            part_order=list(states.values()),
        ),
        width="stretch",
    )


def certificates_section(context: PageContext, certificates: ExpiringCertificates | None) -> None:
    _ = context._
    st.subheader(_("Certificates expiring soon"))
    if certificates is None:
        return
    if not certificates.profiles:
        st.caption(_("No certificate expires in the next 30 days."))
        return
    profiles = labels.certificate_profile(_)
    st.dataframe(
        {
            _("Certificates"): [labels.label(profiles, p.profile) for p in certificates.profiles],
            _("Within 7 days"): [p.within_7_days for p in certificates.profiles],
            _("Within 30 days"): [p.within_30_days for p in certificates.profiles],
        },
        hide_index=True,
    )


def installations_section(signed_in: session.SignedIn, context: PageContext, tenant_id: str) -> None:
    _ = context._
    st.subheader(_("App installs"))
    figures = section(signed_in, context, lambda c: c.overview.installations(tenant_id=tenant_id or None))
    if figures is None:
        return
    if not figures.counts:
        st.caption(_("No device has reported a managed app yet."))
        return
    states = labels.installation_state(_)
    st.altair_chart(
        charts.stacked_bars(
            [(row.package, labels.label(states, row.state), row.count) for row in figures.counts],
            category=_("App"),
            part=_("Status"),
            count=_("Devices"),
            part_order=[labels.label(states, s) for s in InstallationState],
        ),
        width="stretch",
    )
