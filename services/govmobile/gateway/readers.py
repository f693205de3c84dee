"""What the gateway reads from tables other services own (it never writes them).

Services never import each other; every service may read what it needs from the one schema.
These lightweight table clauses name only the columns the gateway reads.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

_metadata = MetaData()

#: The MDM's devices.
devices = Table(
    "device",
    _metadata,
    Column("id", String),
    Column("tenant_id", String),
    Column("person_id", String),
    Column("state", String),
    Column("compliant", Boolean),
    Column("compliance_reasons", Text),
    Column("cert_sha256", String),
    Column("previous_cert_sha256", String),
    Column("cert_serial", String),
    Column("previous_cert_serial", String),
    Column("revision", Integer),
)

#: The MDM's command queue (only what says a lock or wipe is on its way).
commands = Table(
    "command",
    _metadata,
    Column("device_id", String),
    Column("type", String),
    Column("state", String),
)

#: The MDM's feed of access taken away (locks, wipes, non-compliance, people disabled...).
access_changes = Table(
    "access_change",
    _metadata,
    Column("seq", Integer),
    Column("device_id", String),
    Column("person_id", String),
)

#: The MDM's per-tenant policies.
policies = Table(
    "policy",
    _metadata,
    Column("tenant_id", String),
    Column("block_intranet_when_noncompliant", Boolean),
)

#: The CA's certificates.
certificates = Table(
    "certificate",
    _metadata,
    Column("sha256", String),
    Column("revoked_at", DateTime),
    Column("not_after", DateTime),
)

#: The CA's current CRL.
crl_state = Table(
    "crl_state",
    _metadata,
    Column("id", Integer),
    Column("number", Integer),
    Column("der", LargeBinary),
)

#: The desired-state generation (migration 0011): raised by the database whenever anything a
#: device's desired-state document is resolved from changes.
desired_state_generation = Table(
    "desired_state_generation",
    _metadata,
    Column("id", Integer),
    Column("value", BigInteger),
)
