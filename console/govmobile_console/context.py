"""What every page needs in a run: the settings, the admin's language and the formats for it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from govmobile_console.i18n import LANGUAGES, Formats, Translate, negotiate, translator
from govmobile_console.settings import ConsoleSettings, SettingsError

#: The language the admin chose in this browser session (else the browser's is used).
LANGUAGE_KEY = "gm.language"


@dataclass(frozen=True)
class PageContext:
    settings: ConsoleSettings
    language: str
    _: Translate
    formats: Formats


def page_context() -> PageContext:
    """This run's context; a console without usable settings says which and stops."""
    try:
        settings = ConsoleSettings.from_environment()
    except SettingsError as exc:
        st.error(f"GovMobile console: {exc}")
        st.stop()
    language = language_of_session(settings.default_language)
    return PageContext(settings, language, translator(language), Formats(language, settings.time_zone))


def language_of_session(default: str) -> str:
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    # The header lists the browser's languages in order; the locale (navigator.language) is one.
    asked = st.context.headers.get("Accept-Language") or st.context.locale
    return negotiate(asked, default=default)
