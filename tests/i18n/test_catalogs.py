"""Every text ioc marks for people is translated: the catalogs against the code and the wall,
their placeholders, and how numbers, moments and languages are told."""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

import pytest

import ioc
from ioc.domain import zone_named
from ioc.i18n import LANGUAGES, Speech, catalog, chosen_language
from ioc.i18n._extract import marked_texts
from tests.support.clock import UTC, VIETNAM

_PYTHON_MARK = re.compile(r"""\b(?:say|mark|said)\(\s*(?:"|')""")
_SCRIPT_MARK = re.compile(r"""(?<![\w.])(?:t|mark)\(\s*(?:"|')""")


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_marked_text_is_translated(language: str) -> None:
    marked = marked_texts()
    translated = catalog(language)  # type: ignore[arg-type]
    missing = [
        f"{text!r} ({places[0]})" for text, places in marked.items() if text not in translated
    ]
    assert not missing, f"untranslated in ioc/i18n/{language}.po (run make i18n): {missing}"
    stale = sorted(set(translated) - set(marked))
    assert not stale, f"ioc/i18n/{language}.po translates texts nothing marks: {stale}"
    wrong = [t for t, told in translated.items() if _fields(t) != _fields(told)]
    assert not wrong, f"a translation's {{fields}} differ from its text's: {wrong}"


def test_every_literal_the_code_says_is_extracted() -> None:
    """A text told inside an f-string's braces, or deep in a template string, is invisible to
    the extraction (and so never translated): each file's marked literals are all found."""
    marked = marked_texts()
    extracted = Counter(place.rsplit(":", 1)[0] for places in marked.values() for place in places)
    package = Path(ioc.__file__).parent
    for pattern, files in ((_PYTHON_MARK, "*.py"), (_SCRIPT_MARK, "api/wall/*.js")):
        for path in package.rglob(files) if files == "*.py" else package.glob(files):
            where = str(path.relative_to(package.parent))
            written = len(pattern.findall(path.read_text(encoding="utf-8")))
            assert extracted[where] == written, (
                f"{where}: {written} marked, {extracted[where]} found"
            )


def test_the_extraction_finds_each_kind_of_mark() -> None:
    marked = marked_texts()
    # say() in the CLI, mark() in a table, t() and mark() in the wall, data-i18n in its page
    assert marked["no alerts match"][0].startswith("ioc/cli/alerts.py:")
    assert marked["Availability %"][0].startswith("ioc/reports/_export.py:")
    assert marked["BTS on battery, 24 hours"][0].startswith("ioc/api/wall/wall.js:")
    assert marked["Disconnected"][0].startswith("ioc/api/wall/wall.js:")
    assert marked["Or a wall token"][0].startswith("ioc/api/wall/index.html:")
    assert "SELECT pg_advisory_xact_lock(:key)" not in marked  # SQLAlchemy's text() is not ours


def test_numbers_moments_and_durations_as_each_language_writes_them() -> None:
    vi, en = Speech("vi", VIETNAM), Speech("en", VIETNAM)
    assert (vi.number(2097), en.number(2097)) == ("2.097", "2,097")
    assert (vi.number(99.512), en.number(99.512), vi.number(60.0)) == ("99,512", "99.512", "60")
    november = 1_793_491_200_000  # 2026-11-01T00:00Z
    assert vi.moment(november) == "07:00 01/11/2026 (UTC+07:00)"
    assert en.moment(november) == "2026-11-01 07:00 (UTC+07:00)"
    assert Speech("en", UTC).moment(november) == "2026-11-01 00:00 (UTC)"
    assert Speech("en", zone_named("America/New_York")).offset(november) == "UTC-04:00"
    assert (vi.duration(2 * 3_600_000), en.duration(3 * 86_400_000)) == ("2 tiếng", "3 days")
    assert vi.say("{n} affected devices", n=vi.number(1200)) == "1.200 thiết bị bị ảnh hưởng"
    assert en.say("{n} affected devices", n=3) == "3 affected devices"
    assert vi.say("a text no catalog has") == "a text no catalog has"


@pytest.mark.parametrize(
    ("header", "default", "chosen"),
    [
        (None, "vi", "vi"),
        ("en-US,en;q=0.9", "vi", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.5", "en", "vi"),
        ("fr-FR,de;q=0.8", "vi", "vi"),  # nothing ioc speaks: the deployment's
        ("fr, en;q=0.2", "vi", "en"),
        ("en;q=0, vi", "en", "vi"),  # q=0: not wanted
        ("en;q=banana", "vi", "vi"),  # a broken weight is no preference
    ],
)
def test_the_language_an_http_client_asks_for(
    header: str | None, default: str, chosen: str
) -> None:
    assert chosen_language(header, default) == chosen  # type: ignore[arg-type]
