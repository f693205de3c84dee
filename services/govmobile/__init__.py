"""GovMobile: a private cloud appliance for mobile e-government.

Packages, from the inside out:

- ``govmobile.core``: settings, database, errors, tenancy, accounts and the audit log.
  Imports no service and no web framework.
- ``govmobile.web``: what every HTTP service shares (error responses, admin authentication,
  health and metrics). The only place where domain errors become status codes' helpers live.
- ``govmobile.ca``, ``govmobile.mdm``, ``govmobile.gateway``: the services. They never import
  each other; they talk over HTTP.

The typed client and ``govmobile-admin`` are a distribution of their own (``client/``,
``govmobile_client``), so that nothing that talks to the appliance carries the server.
"""

__version__ = "0.1.0"
