"""The CA's HTTP interface. Routes translate requests to ``Authority`` calls and nothing more.

Route modules do not use ``from __future__ import annotations``: FastAPI reads annotations at
run time, and the dependencies defined inside each router factory are closures that it could
not resolve from strings.
"""
