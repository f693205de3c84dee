"""Walking cursor-paged lists (devices, certificates, audit events) to their end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from govmobile_client.models import Page

ItemT = TypeVar("ItemT")
CursorT = TypeVar("CursorT")


def follow(fetch: Callable[[CursorT | None], Page[ItemT, CursorT]]) -> Iterator[ItemT]:
    """Every item of a cursor list, fetching the next page only when the caller gets there."""
    cursor: CursorT | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None or not page.items:
            return
        cursor = page.next_cursor
