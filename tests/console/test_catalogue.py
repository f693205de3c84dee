"""Chinese and English: every message the console shows has a Chinese translation (this test
fails when one has none), translations keep their placeholders, the browser's language is
honoured, and numbers and times are formatted per language in the site's time zone."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from govmobile_console.i18n import Formats, catalogue_file, negotiate, translations, translator

SOURCE = Path(__file__).parents[2] / "console" / "govmobile_console"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def messages_in_code() -> set[str]:
    found = {
        str(message)
        for _, _, message, _, _ in extract_from_dir(str(SOURCE), method_map=[("**.py", "python")])
    }
    assert len(found) > 100  # the extractor found the calls
    return found


def test_every_message_has_a_chinese_translation() -> None:
    chinese = translations("zh_CN")
    missing = sorted(messages_in_code() - set(chinese))
    assert not missing, (
        f"messages without a Chinese translation (add them to {catalogue_file('zh_CN')}): {missing}"
    )


def test_the_catalogue_holds_no_message_the_code_no_longer_shows() -> None:
    with catalogue_file("zh_CN").open("rb") as source:
        catalogue = read_po(source)
    stale = sorted(str(m.id) for m in catalogue if m.id and str(m.id) not in messages_in_code())
    assert not stale, f"remove these from the catalogue: {stale}"


def test_translations_keep_their_placeholders_and_are_not_english() -> None:
    for message, translated in translations("zh_CN").items():
        assert sorted(PLACEHOLDER.findall(message)) == sorted(PLACEHOLDER.findall(translated)), message
        assert re.search(r"[\u4e00-\u9fff]", translated), f"{message!r} is not translated: {translated!r}"


def test_an_untranslated_message_shows_in_english_rather_than_blank() -> None:
    assert translator("zh_CN")("A message nobody wrote") == "A message nobody wrote"
    assert translator("en")("Overview") == "Overview"
    assert translator("zh_CN")("Overview") == "概览"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW", "zh_CN"),
        ("fr-FR,en;q=0.5,zh;q=0.4", "en"),
        ("fr-FR,de;q=0.8", "zh_CN"),
        ("en;q=0, zh;q=0.1", "zh_CN"),
        ("en;q=abc,zh", "zh_CN"),
        ("", "zh_CN"),
        (None, "zh_CN"),
        ("*", "zh_CN"),
        (",,,;;;q=,", "zh_CN"),
        ("x" * 10_000, "zh_CN"),
    ],
)
def test_the_language_follows_the_browser(header: str | None, expected: str) -> None:
    assert negotiate(header, default="zh_CN") == expected


def test_english_when_the_site_says_so_and_the_browser_says_nothing() -> None:
    assert negotiate(None, default="en") == "en"


def test_numbers_and_times_are_formatted_per_language_in_the_site_time_zone() -> None:
    moment = dt.datetime(2027, 3, 9, 16, 30, tzinfo=dt.UTC)  # 00:30 on the 10th in Shanghai
    chinese = Formats("zh_CN", ZoneInfo("Asia/Shanghai"))
    english = Formats("en", ZoneInfo("Asia/Shanghai"))
    assert chinese.number(100000) == "100,000"
    assert english.number(1234567) == "1,234,567"
    assert chinese.moment(moment) == "2027年3月10日 00:30:00"
    assert english.moment(moment).startswith("Mar 10, 2027")
    assert chinese.date(dt.date(2027, 3, 10)) == "2027年3月10日"
    in_utc = Formats("en", ZoneInfo("UTC"))
    assert in_utc.moment(moment).startswith("Mar 9, 2027")
