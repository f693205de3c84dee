"""Times people type: an ISO date or time (UTC unless it says otherwise), or a duration like 24h."""

from __future__ import annotations

import datetime as dt
import re

import click

_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Moment(click.ParamType[dt.datetime]):
    """A point in time; a duration counts back from now (``ago``) or forward (``ahead``)."""

    name = "TIME"

    def __init__(self, *, ahead: bool) -> None:
        self.ahead = ahead

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        duration = _DURATION.match(text.lower())
        if duration:
            span = dt.timedelta(**{_UNITS[duration.group(2)]: int(duration.group(1))})
            now = dt.datetime.now(dt.UTC)
            return now + span if self.ahead else now - span
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{text!r} is neither a time (2027-01-31T08:00Z) nor a duration (30m, 24h, 7d, 2w)",
                param,
                ctx,
            )
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
