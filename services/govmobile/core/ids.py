"""Identifiers: random, opaque, URL-safe."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A new random identifier (UUID4, canonical text form)."""
    return str(uuid.uuid4())
