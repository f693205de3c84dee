"""The console's settings, from its container's environment (read when a page runs, never at
import time): where the admin API is, the CA to verify it with, the site's time zone and the
language for browsers that ask for neither Chinese nor English."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from govmobile_console.i18n import LANGUAGES

PREFIX = "GOVMOBILE_CONSOLE_"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what to give."""


@dataclass(frozen=True)
class ConsoleSettings:
    #: The management listener's admin API, e.g. ``https://gateway:8443`` in the appliance.
    api_url: str
    #: The appliance's root CA certificate, the only one trusted for the API (None: the system's).
    ca_file: Path | None
    #: Every time is shown in it; dashboards count days in it.
    time_zone: ZoneInfo
    default_language: str
    #: Seconds to wait for the admin API before showing it as unreachable.
    api_timeout: float

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> ConsoleSettings:
        values = os.environ if environment is None else environment
        api_url = values.get(f"{PREFIX}API_URL", "").strip()
        if not api_url:
            raise SettingsError(
                f"{PREFIX}API_URL is not set: give the admin API's URL, e.g. https://127.0.0.1:8443"
            )
        ca_file = values.get(f"{PREFIX}CA_FILE", "").strip()
        zone_name = values.get(f"{PREFIX}TIME_ZONE", "Asia/Shanghai").strip()
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"{PREFIX}TIME_ZONE={zone_name!r} is not a time zone; give an IANA name such as Asia/Shanghai"
            ) from exc
        language = values.get(f"{PREFIX}LANGUAGE", "zh_CN").strip()
        if language not in LANGUAGES:
            raise SettingsError(f"{PREFIX}LANGUAGE={language!r}: the console speaks {', '.join(LANGUAGES)}")
        timeout_text = values.get(f"{PREFIX}API_TIMEOUT_SECONDS", "10")
        try:
            timeout = float(timeout_text)
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 300:
            raise SettingsError(
                f"{PREFIX}API_TIMEOUT_SECONDS={timeout_text!r}: give seconds, more than 0 and at most 300"
            )
        return cls(api_url, Path(ca_file) if ca_file else None, zone, language, timeout)
