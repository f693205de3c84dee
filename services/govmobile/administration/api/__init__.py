"""Administration's admin API (``/api/v1``): routers that a service mounts with its authenticator.

Route modules do not use ``from __future__ import annotations``: FastAPI reads annotations at
run time, and the dependencies defined inside each router factory are closures.
"""
