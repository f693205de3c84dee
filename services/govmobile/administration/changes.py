"""Check, write, audit: the sequence every change an admin makes goes through.

The caller's right is checked before anything is read; the change and its audit event are then
written in one transaction, so that no event is kept for a change that rolled back and no
change commits without its event. ``AuditedChanges`` is that sequence, written once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from govmobile.core import audit
from govmobile.core.accounts import Principal
from govmobile.core.database import Database, utcnow

#: What a caller must be allowed to do a change: ``Principal.require_write`` (the default),
#: ``Principal.require_platform_admin``, or ``anyone`` for changes to one's own account.
Check = Callable[[Principal], None]


def anyone(principal: Principal) -> None:
    """Every signed-in admin may do this (to their own account)."""


@dataclass(frozen=True)
class Change:
    """One change being made: its transaction, its moment and who makes it."""

    session: Session
    now: dt.datetime
    actor: str

    def record(
        self, action: str, target: str, *, tenant_id: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        """Add the change's audit event to its transaction."""
        audit.record(
            self.session,
            actor=self.actor,
            action=action,
            target=target,
            tenant_id=tenant_id,
            details=details,
            now=self.now,
        )


class AuditedChanges:
    """Opens changes: ``with changes.by(principal) as change: ...; change.record(...)``."""

    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    @contextmanager
    def by(self, principal: Principal, check: Check = Principal.require_write) -> Iterator[Change]:
        """A change by a signed-in admin, once ``check`` lets them make it."""
        check(principal)
        with self.by_actor(principal.actor) as change:
            yield change

    @contextmanager
    def by_actor(self, actor: str) -> Iterator[Change]:
        """A change by someone without a session: the deployment, an operator on the host."""
        now = self.clock()
        with self.database.transaction() as session:
            yield Change(session, now, actor)
