"""The audit log: append-only and hash-chained.

Each event carries the SHA-256 of the previous event, and events are numbered without gaps, so
changing, deleting or inserting a row breaks the chain at a place :func:`verify_chain` can name.
A one-row ``audit_head`` holds the newest number and hash: appending locks that row, which
serialises writers and lets verification notice a truncated tail. The migrations also add
database triggers that refuse UPDATE and DELETE on ``audit_event``.

Events are appended inside the caller's transaction, so an action and its audit record are
committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Text, insert, update
from sqlmodel import Field, Session, SQLModel, col, select

from govmobile.core.database import UTCDateTime, utcnow

GENESIS_HASH = "0" * 64
_VERIFY_BATCH = 1000


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    #: BIGINT, as in the migration (and so in every comparison the queries make).
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    occurred_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    #: Who did it: ``admin:<username>``, ``ra:<name>``, ``device:<id>`` or ``system``.
    actor: str = Field(max_length=200, index=True)
    tenant_id: str | None = Field(default=None, max_length=36, index=True)
    #: What happened, dotted: ``certificate.issued``, ``device.locked``.
    action: str = Field(max_length=100, index=True)
    #: What it happened to: ``certificate:<serial>``, ``device:<id>``.
    target: str = Field(default="", max_length=200)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)


class AuditEventPublic(SQLModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    tenant_id: str | None
    action: str
    target: str
    details: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventPublic:
        return cls(
            id=event.id,
            occurred_at=event.occurred_at,
            actor=event.actor,
            tenant_id=event.tenant_id,
            action=event.action,
            target=event.target,
            details=json.loads(event.details),
            hash=event.hash,
        )


def event_hash(
    *,
    event_id: int,
    occurred_at: dt.datetime,
    actor: str,
    tenant_id: str | None,
    action: str,
    target: str,
    details: str,
    prev_hash: str,
) -> str:
    """The hash that links an event to its predecessor (canonical JSON, SHA-256)."""
    canonical = json.dumps(
        {
            "id": event_id,
            "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "tenant_id": tenant_id,
            "action": action,
            "target": target,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    tenant_id: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction."""
    # Core statements, not the ORM unit of work: this runs on every audited write, and the
    # ORM's flush machinery costs more than the SQL itself.
    connection = session.connection()
    head = _HEAD.c
    # The migration seeds the head row, so this lock always has a row to hold.
    last_id, last_hash = connection.execute(
        select(head.last_event_id, head.last_hash).where(head.id == 1).with_for_update()
    ).one()
    occurred_at = now or utcnow()
    details_text = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)
    event = AuditEvent(
        id=last_id + 1,
        occurred_at=occurred_at,
        actor=actor,
        tenant_id=tenant_id,
        action=action,
        target=target,
        details=details_text,
        prev_hash=last_hash,
        hash=event_hash(
            event_id=last_id + 1,
            occurred_at=occurred_at,
            actor=actor,
            tenant_id=tenant_id,
            action=action,
            target=target,
            details=details_text,
            prev_hash=last_hash,
        ),
    )
    connection.execute(insert(_EVENTS), [event.model_dump()])
    connection.execute(update(_HEAD).where(head.id == 1).values(last_event_id=event.id, last_hash=event.hash))
    return event


@dataclass(frozen=True)
class NewEvent:
    """One event of a batch for :func:`record_many` (the arguments of :func:`record`)."""

    actor: str
    action: str
    target: str = ""
    tenant_id: str | None = None
    details: dict[str, Any] | None = None


def record_many(
    session: Session, events: list[NewEvent], *, now: dt.datetime | None = None
) -> list[AuditEvent]:
    """Append several events to the chain at once, inside the caller's transaction.

    The same chain as one :func:`record` per event, written with one lock of the head, one
    multi-row insert and one update: a device's report of a hundred events holds the head (and so
    every other audited write) for one round trip instead of three hundred."""
    if not events:
        return []
    connection = session.connection()
    head = _HEAD.c
    last_id, last_hash = connection.execute(
        select(head.last_event_id, head.last_hash).where(head.id == 1).with_for_update()
    ).one()
    occurred_at = now or utcnow()
    written: list[AuditEvent] = []
    for new in events:
        details_text = json.dumps(new.details or {}, sort_keys=True, separators=(",", ":"), default=str)
        last_id += 1
        event = AuditEvent(
            id=last_id,
            occurred_at=occurred_at,
            actor=new.actor,
            tenant_id=new.tenant_id,
            action=new.action,
            target=new.target,
            details=details_text,
            prev_hash=last_hash,
            hash=event_hash(
                event_id=last_id,
                occurred_at=occurred_at,
                actor=new.actor,
                tenant_id=new.tenant_id,
                action=new.action,
                target=new.target,
                details=details_text,
                prev_hash=last_hash,
            ),
        )
        last_hash = event.hash
        written.append(event)
    connection.execute(insert(_EVENTS), [event.model_dump() for event in written])
    connection.execute(update(_HEAD).where(head.id == 1).values(last_event_id=last_id, last_hash=last_hash))
    return written


_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of :func:`verify_chain`."""

    ok: bool
    events_checked: int
    #: The id of the first event that does not fit (or where one is missing), when not ok.
    first_broken_id: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainVerification:
    """Recompute every link from the first event; name the first one that is broken."""
    expected_id = 1
    prev_hash = GENESIS_HASH
    checked = 0
    while True:
        batch = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.id) >= expected_id)
            .order_by(col(AuditEvent.id))
            .limit(_VERIFY_BATCH)
        ).all()
        if not batch:
            break
        for event in batch:
            if event.id != expected_id:
                return ChainVerification(False, checked, expected_id, f"event {expected_id} is missing")
            if event.prev_hash != prev_hash:
                return ChainVerification(
                    False, checked, event.id, "its prev_hash does not match the event before it"
                )
            recomputed = event_hash(
                event_id=event.id,
                occurred_at=event.occurred_at,
                actor=event.actor,
                tenant_id=event.tenant_id,
                action=event.action,
                target=event.target,
                details=event.details,
                prev_hash=event.prev_hash,
            )
            if recomputed != event.hash:
                return ChainVerification(
                    False, checked, event.id, "its content does not match its hash (altered)"
                )
            prev_hash = event.hash
            expected_id += 1
            checked += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_event_id != checked or head.last_hash != prev_hash):
        return ChainVerification(
            False,
            checked,
            checked + 1,
            f"the chain ends at event {checked} but the head records event {head.last_event_id}"
            " (events were removed from the end)",
        )
    return ChainVerification(True, checked)
