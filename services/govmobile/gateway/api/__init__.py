"""The control plane's HTTP interface: authorization for nginx, routes for admins, the JWKS.

Route modules do not use ``from __future__ import annotations``: FastAPI reads annotations at
run time, and the dependencies defined inside each router factory are closures.
"""
