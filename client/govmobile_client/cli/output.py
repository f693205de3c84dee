"""How results are shown: aligned tables and fields for people, JSON for scripts, QR codes.

No table library: a few lines of padding are enough, and the appliance installs offline from
a wheelhouse, so every dependency counts.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import click
import segno
from pydantic import BaseModel

NONE = "-"


def emit_json(data: Any) -> None:
    """Print models, lists of models or plain data as indented JSON."""
    click.echo(json.dumps(_jsonable(data), indent=2, ensure_ascii=False))


def _jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return {key: _jsonable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(item) for item in data]
    return data


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str) -> None:
    """An aligned table; ``empty`` is printed instead when there are no rows."""
    cells = [[cell(value) for value in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """``label: value`` lines, labels aligned."""
    listed = [(label, cell(value)) for label, value in pairs]
    width = max((len(label) for label, _ in listed), default=0)
    for label, value in listed:
        click.echo(f"{(label + ':').ljust(width + 1)} {value}")


def cell(value: Any) -> str:
    """One value as table text: times in UTC to the minute, None as a dash, lists joined."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return when(value)
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value) or NONE
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) or NONE
    return str(value)


def when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%MZ")


def qr_code(payload: str) -> str:
    """The payload as a QR code of Unicode half blocks, readable off a terminal by a phone camera."""
    out = io.StringIO()
    segno.make(payload, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()
