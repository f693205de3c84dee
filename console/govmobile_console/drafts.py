"""What the admin was typing, kept across a sign-in.

Streamlit forgets a widget's value in every run that does not draw the widget, and a session that
ends draws the sign-in page instead of the form. So each form field the admin fills in is copied
into the session's drafts after every run, and put back into the widget when it is drawn again:
signing in again brings back the form as it was left. Passwords and one-time codes are never
drafts.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_DRAFTS = "gm.drafts"


def _drafts() -> dict[str, Any]:
    drafts = st.session_state.get(_DRAFTS)
    if not isinstance(drafts, dict):
        drafts = {}
        st.session_state[_DRAFTS] = drafts
    return drafts


def widget_key(name: str) -> str:
    return f"draft.{name}"


def restore(name: str) -> str:
    """The widget key for draft ``name``, with the kept value put back when the widget is new
    in this run. Call before drawing the widget, which must then take no ``value``/``index``."""
    key = widget_key(name)
    drafts = _drafts()
    if key not in st.session_state and name in drafts:
        st.session_state[key] = drafts[name]
    return key


def keep(name: str) -> None:
    """Copy the widget's current value into the drafts (an ``on_change`` callback, and after drawing)."""
    key = widget_key(name)
    if key in st.session_state:
        _drafts()[name] = st.session_state[key]


def kept(name: str) -> Any:
    return _drafts().get(name)


def forget(name: str) -> None:
    """The form was sent: its draft is done with."""
    _drafts().pop(name, None)
    st.session_state.pop(widget_key(name), None)
