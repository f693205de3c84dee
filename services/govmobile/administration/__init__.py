"""Administration: who administers the appliance, over what, and the record of it.

Admin accounts, their sessions, API tokens and one-time codes; the departments (tenants), people
and groups they manage; and the audit log of every change. The tables are the shared core's
(``govmobile.core``: ARCHITECTURE.md gives them to core); this package holds the use cases and
their admin routes, so that every service serving the admin API mounts the same ones. It
imports only the shared core and the web layer, never a service: where a service must hear of a
change (a person disabled takes devices' access away), it passes a callback in (``directory``).

Layers, inside out:

- ``changes``: check, write, audit, once for every use case.
- ``sessions``, ``accounts``, ``directory``, ``audit_log``: the use cases.
- ``api``: their HTTP routes, mounted by the service that serves the admin API (the MDM today).
"""
