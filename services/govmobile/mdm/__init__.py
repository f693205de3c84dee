"""Mobile device management: enrollment, device lifecycle, check-in, compliance and commands.

Layers, inside out:

- ``models``: the MDM's tables (it is their only writer).
- ``compliance``, ``est``, ``receipts``: pure protocol and policy code.
- ``enrollment``, ``lifecycle`` (devices), ``queue`` (commands), ``checkin`` (with
  ``checkin_record`` and ``acknowledgements``), ``policies``, ``jobs``: the domain, working on a
  database session and the narrow ``CertificateSigner`` interface (``signer``).
- ``wakeups``: long-poll wake-ups across processes.
- ``api``: HTTP routes; ``app`` wires it all from settings and mounts administration's admin
  routers (``govmobile.administration``); ``cli`` is ``govmobile-mdm``.
"""
