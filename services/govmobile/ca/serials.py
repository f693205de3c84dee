"""How certificate serial numbers are written everywhere in GovMobile."""

from __future__ import annotations

from govmobile.core.errors import InvalidInput


def serial_text(serial: int) -> str:
    """Lower-case hex without separators or leading zeros."""
    return format(serial, "x")


def normalise_serial(text: str) -> str:
    """Accept ``0A:1B``, ``0a1b`` or ``0x0a1b`` and return ``a1b``; refuse anything else."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    if not cleaned or len(cleaned) > 40 or any(c not in "0123456789abcdef" for c in cleaned):
        raise InvalidInput(
            f"{text[:60]!r} is not a certificate serial number (hex, at most 20 bytes)",
            code="invalid_serial",
        )
    return cleaned.lstrip("0") or "0"
