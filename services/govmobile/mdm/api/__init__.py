"""The MDM's HTTP interface: the admin API (``/api/v1``), EST enrollment and the device protocol.

Route modules do not use ``from __future__ import annotations``: FastAPI reads annotations at
run time, and the dependencies defined inside each router factory are closures.
"""
