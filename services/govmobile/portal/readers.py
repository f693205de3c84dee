"""What the portal reads from tables other services own (it never writes them).

Services never import each other; each may read what it needs from the one schema. These table
clauses name only the columns the portal reads: the MDM's devices, to know which device a
certificate belongs to and whose it is; the gateway's routes, whose admission decides who may open
a web app (``web_entry``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, MetaData, String, Table, Text

#: The MDM's devices.
devices = Table(
    "device",
    MetaData(),
    Column("id", String),
    Column("tenant_id", String),
    Column("person_id", String),
    Column("state", String),
    Column("cert_sha256", String),
    Column("previous_cert_sha256", String),
)

#: Device states in which a device gets nothing (its certificates are revoked with them anyway).
ENDED_STATES = frozenset({"wiped", "retired"})

#: The gateway's routes: a web app opens one, and the route alone says who may (its only writer
#: is the gateway).
routes = Table(
    "route",
    MetaData(),
    Column("name", String),
    Column("host", String),
    Column("enabled", Boolean),
    Column("allowed_tenants", Text),
    Column("allowed_groups", Text),
    Column("require_compliance", Boolean),
)
