"""Chinese and English: the message catalogues, the choice of language, and per-locale formats.

Every text the console shows is an English message id passed through ``_`` (so that Babel's
extractor finds it); the Chinese catalogue (``locales/zh_CN/LC_MESSAGES/console.po``) translates
it, with the words of the users' own documents (shared/design/GLOSSARY.md). English needs no
catalogue: the message ids are the English text. A test fails when a message has no Chinese
translation, or when a translation drops or invents a ``{placeholder}``.

Numbers, dates and times are formatted by Babel for the language shown, and times are shown in
the site's time zone (a setting), never the server's.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

#: The languages the console speaks, Chinese first: the language of the people who use it.
LANGUAGES = ("zh_CN", "en")
#: Each language in its own words, for the switcher.
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
CATALOGUE_DIRECTORY = Path(__file__).parent / "locales"
DOMAIN = "console"

Translate = Callable[[str], str]


def catalogue_file(language: str) -> Path:
    return CATALOGUE_DIRECTORY / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> dict[str, str]:
    """Message id → translation for ``language`` (empty for English, whose ids are the text).

    Read once per process from the .po file: Babel's reader, so no compile step is needed and
    the file in the repository is the one that runs. Fuzzy or empty entries are left out, so an
    untranslated message shows in English rather than blank."""
    if language == "en":
        return {}
    with catalogue_file(language).open("rb") as source:
        catalogue = read_po(source, locale=language, domain=DOMAIN)
    return {
        str(message.id): str(message.string)
        for message in catalogue
        if message.id
        and isinstance(message.id, str)
        and isinstance(message.string, str)
        and message.string
        and not message.fuzzy
    }


def translator(language: str) -> Translate:
    table = translations(language)

    def translate(message: str) -> str:
        return table.get(message, message)

    return translate


def negotiate(accept_language: str | None, *, default: str) -> str:
    """The console's language for a browser's ``Accept-Language`` header (RFC 9110 §12.5.4):
    the most preferred one it speaks, ``default`` when it speaks none of them."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:50]):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        language = _spoken(tag)
        if language is not None:
            return language
    return default


def _spoken(tag: str) -> str | None:
    """The language the console speaks for one language tag (any Chinese is Chinese here)."""
    primary = tag.replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return "zh_CN"
    if primary == "en":
        return "en"
    return None


@dataclass(frozen=True)
class Formats:
    """Numbers, dates and times for one language, in the site's time zone."""

    language: str
    time_zone: ZoneInfo

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def date(self, value: dt.date) -> str:
        return format_date(value, format="medium", locale=self.locale)

    def moment(self, value: dt.datetime) -> str:
        """A time as the site's clocks show it (the API's times are UTC)."""
        return format_datetime(value, format="medium", tzinfo=self.time_zone, locale=self.locale)


@functools.cache
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")
