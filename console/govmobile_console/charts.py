"""The overview's charts (Altair), from the figures the API counted: labels in, charts out.

Every label is already in the admin's language and every number already counted; a chart never
sees a device. Bars keep the order they are given (the API's codes have a natural order: states
along the lifecycle, check-ins from recent to old), not the alphabet's.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt


def bars(labels: Sequence[str], counts: Sequence[int], *, category: str, count: str) -> alt.Chart:
    """One horizontal bar per label, in the given order."""
    data = {"values": [{"label": lab, "count": n} for lab, n in zip(labels, counts, strict=True)]}
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=list(labels), title=category),
            x=alt.X("count:Q", title=count, axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("label:N", title=category), alt.Tooltip("count:Q", title=count)],
        )
    )
    return chart


def stacked_bars(
    rows: Sequence[tuple[str, str, int]], *, category: str, part: str, count: str, part_order: Sequence[str]
) -> alt.Chart:
    """One horizontal bar per category, split by part: rows of (category, part, count)."""
    data = {"values": [{"category": c, "part": p, "count": n} for c, p, n in rows]}
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("category:N", title=category),
            x=alt.X("count:Q", title=count, axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("part:N", title=part, sort=list(part_order)),
            tooltip=[
                alt.Tooltip("category:N", title=category),
                alt.Tooltip("part:N", title=part),
                alt.Tooltip("count:Q", title=count),
            ],
        )
    )
    return chart


def days(labels: Sequence[str], counts: Sequence[int], *, day: str, count: str) -> alt.Chart:
    """One column per day, oldest on the left; the day labels are formatted for the locale."""
    data = {"values": [{"day": d, "count": n} for d, n in zip(labels, counts, strict=True)]}
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("day:N", sort=list(labels), title=day, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("count:Q", title=count, axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("day:N", title=day), alt.Tooltip("count:Q", title=count)],
        )
    )
    return chart
