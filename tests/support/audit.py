"""What an attacker with full database rights could do to the audit log."""

from __future__ import annotations

from sqlalchemy import text

from govmobile.core.database import Database


def drop_protection(database: Database) -> None:
    """Drop the triggers that keep the audit log append-only (the attacker's first step)."""
    with database.transaction() as session:
        connection = session.connection()
        if database.is_sqlite:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update_delete ON audit_event"))


def break_audit_chain(database: Database) -> int:
    """Alter the first audit event behind the chain's back; its id."""
    drop_protection(database)
    with database.transaction() as session:
        connection = session.connection()
        target = int(connection.execute(text("SELECT min(id) FROM audit_event")).scalar_one())
        connection.execute(
            text("UPDATE audit_event SET actor = 'admin:mallory' WHERE id = :id"), {"id": target}
        )
    return target
