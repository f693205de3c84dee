"""Times as GovMobile takes them in: ISO 8601 text, never a bare number.

pydantic would read ``0`` or ``"1700000000"`` as seconds since 1970; a client that sends one
has made a mistake, and an answer that silently means 1970 hides it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?")


def _iso_8601(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give the time in ISO 8601 with a time zone, e.g. 2027-01-31T00:00:00Z")
    return value


def _utc_convertible(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("the time is out of range once converted to UTC") from None
    return value


#: A time given in ISO 8601 that can be converted to UTC (year 1 at +14:00 cannot).
IsoTime = Annotated[dt.datetime, BeforeValidator(_iso_8601), AfterValidator(_utc_convertible)]
