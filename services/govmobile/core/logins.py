"""Throttling of admin logins, by source address and by username, that never locks anyone out.

Guessing is slowed where it comes from, the way Keycloak's and Okta's users expect, without
handing an outsider a way to shut the real admin out (a per-account lockout would: anyone who
reaches the login can lock ``admin`` with five wrong passwords):

- **by source**: an address with ``per_source`` failed logins in the window (whatever names it
  tried) is refused until the oldest of them ages out;
- **by source and name**: an address with ``per_source_and_name`` failures for one username may
  not try that name again until they age out; other addresses still may;
- **by name**: once a username has ``name_under_attack`` failures in the window from all
  addresses together, each address gets only one failure for it. That slows a distributed
  guess to one try per address per window, and still never blocks an address that has not
  failed for that name: the real admin, from a clean address, logs in with the right password
  (and one-time code).

Refusals say nothing about whether the name exists: they depend only on failures recorded for
the name as typed, and every credential failure counts alike. A refusal is decided before the
password is checked, so it costs no hashing. An IPv6 source counts by its /64 network, which one
host can fill with addresses. An admin (``PATCH /api/v1/admins/{id}`` with ``unlock``) or an
operator on the host (``govmobile-mdm unlock-admin``) forgets a name's failures.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy import Column, ColumnElement, delete, func, text
from sqlmodel import Field, Session, SQLModel, col, select

from govmobile.core.database import UTCDateTime
from govmobile.core.errors import Throttled

UNKNOWN_SOURCE = "unknown"
#: Serialises the check and the reservation of an attempt on PostgreSQL (SQLite's write lock
#: already does), so that concurrent attempts cannot all slip under a limit together.
_ADVISORY_LOCK = 0x6C6F67696E  # "login"


class LoginFailure(SQLModel, table=True):
    """A failed (or not yet finished) admin login: when, from where, for which name as typed."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    source: str = Field(max_length=64, index=True)
    username: str = Field(max_length=63, index=True)


@dataclass(frozen=True)
class LoginThrottle:
    window: dt.timedelta = dt.timedelta(minutes=15)
    per_source: int = 20
    per_source_and_name: int = 5
    name_under_attack: int = 10


def source_key(address: str | None) -> str:
    """How an address is counted: itself for IPv4, its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def reserve_attempt(
    session: Session, *, source: str, username: str, now: dt.datetime, throttle: LoginThrottle
) -> int:
    """Refuse the attempt if a limit is reached; otherwise count it as a failure until it
    succeeds (see :func:`attempt_succeeded`), so that parallel guesses count at once.

    Returns the reservation's id.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
    since = now - throttle.window
    by_source = _times(session, since, col(LoginFailure.source) == source)
    if len(by_source) >= throttle.per_source:
        raise Throttled(
            "too many failed logins from this address; try again later",
            retry_after=_retry_after(by_source, throttle.per_source, throttle.window, now),
        )
    by_name = _count(session, since, col(LoginFailure.username) == username)
    limit = 1 if by_name >= throttle.name_under_attack else throttle.per_source_and_name
    by_pair = _times(
        session, since, col(LoginFailure.source) == source, col(LoginFailure.username) == username
    )
    if len(by_pair) >= limit:
        raise Throttled(
            "too many failed logins for this username from this address; try again later, "
            "or from another address, or ask an admin to unlock the account",
            retry_after=_retry_after(by_pair, limit, throttle.window, now),
        )
    reservation = LoginFailure(at=now, source=source, username=username)
    session.add(reservation)
    session.flush()
    assert reservation.id is not None
    return reservation.id


def attempt_succeeded(session: Session, reservation: int, *, source: str, username: str) -> None:
    """A login succeeded: its reservation, and this address's failures for the name, are forgotten."""
    session.execute(
        delete(LoginFailure).where(
            (col(LoginFailure.id) == reservation)
            | ((col(LoginFailure.source) == source) & (col(LoginFailure.username) == username))
        )
    )


def now_throttled(
    session: Session, *, source: str, username: str, now: dt.datetime, throttle: LoginThrottle
) -> str | None:
    """After a failure: which limit it has just reached, if any (for the audit log)."""
    since = now - throttle.window
    if _count(session, since, col(LoginFailure.source) == source) == throttle.per_source:
        return "source"
    by_name = _count(session, since, col(LoginFailure.username) == username)
    if by_name == throttle.name_under_attack:
        return "name"
    by_pair = _count(
        session, since, col(LoginFailure.source) == source, col(LoginFailure.username) == username
    )
    if by_pair == throttle.per_source_and_name:
        return "source_and_name"
    return None


def forget_failures(session: Session, *, username: str | None = None, source: str | None = None) -> int:
    """Lift the throttles of a name (from every address) or of an address; how many were forgotten."""
    statement = delete(LoginFailure)
    if username is not None:
        statement = statement.where(col(LoginFailure.username) == username)
    if source is not None:
        statement = statement.where(col(LoginFailure.source) == source_key(source))
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def prune(session: Session, *, before: dt.datetime) -> int:
    """Forget failures too old to count."""
    return int(session.execute(delete(LoginFailure).where(col(LoginFailure.at) < before)).rowcount)  # type: ignore[attr-defined]


def _times(session: Session, since: dt.datetime, *conditions: ColumnElement[bool]) -> list[dt.datetime]:
    statement = select(LoginFailure.at).where(col(LoginFailure.at) > since, *conditions)
    return sorted(session.exec(statement).all())


def _count(session: Session, since: dt.datetime, *conditions: ColumnElement[bool]) -> int:
    recent = select(func.count()).select_from(LoginFailure).where(col(LoginFailure.at) > since, *conditions)
    return int(session.exec(recent).one())


def _retry_after(times: list[dt.datetime], limit: int, window: dt.timedelta, now: dt.datetime) -> int:
    """Seconds until enough of these failures age out for the count to fall below the limit."""
    freed_by = times[len(times) - limit]
    return max(1, math.ceil((freed_by + window - now).total_seconds()))
