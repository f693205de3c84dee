"""The header above every page: who is signed in, the language, and signing out."""

from __future__ import annotations

import streamlit as st

from govmobile_console import session
from govmobile_console.context import LANGUAGE_KEY, PageContext
from govmobile_console.i18n import LANGUAGE_NAMES, LANGUAGES
from govmobile_console.labels import label, role


def header(context: PageContext, signed_in: session.SignedIn | None) -> None:
    """Who is signed in, the language and signing out: on every page, above it."""
    _ = context._
    who, language, leave = st.columns([6, 2, 1], vertical_alignment="bottom")
    if signed_in is not None:
        # As text: a username is the admin's own input, never markdown.
        who.text(f"{signed_in.me.username} · {label(role(_), signed_in.me.role)}")
    choice = language.selectbox(
        _("Language"),
        LANGUAGES,
        index=LANGUAGES.index(context.language),
        format_func=LANGUAGE_NAMES.__getitem__,
        key="gm.language_choice",
    )
    if choice != context.language:
        st.session_state[LANGUAGE_KEY] = choice
        st.rerun()
    if signed_in is not None and leave.button(_("Sign out"), key="gm.sign_out"):
        session.sign_out()
        st.rerun()
