"""How ioc speaks to one reader: a language and a time zone.

A text is written in English where it is used, told with `speech.say` (or marked with `mark`
where it is defined apart from where it is told), a literal outside any f-string's braces, and
translated through the language's
catalog, `ioc/i18n/<language>.po`, read with Babel. `tests/i18n` extracts every marked text
from the code and the wall and fails on one a catalog does not translate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal

# Babel is imported where it is used: a command that prints no text pays nothing for it.

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")
SOURCE_LANGUAGE: Language = "en"  # the texts as written in the code
_CATALOGS = Path(__file__).parent
# How each language writes a moment: Vietnamese day first, English as ISO 8601 reads.
_MOMENT = {"vi": "HH:mm dd/MM/yyyy", "en": "yyyy-MM-dd HH:mm"}


def mark(text: str) -> str:
    """A text to translate where it is told, not here (a table of labels): the catalogs'
    extraction finds it by this name."""
    return text


@functools.cache
def catalog(language: Language) -> dict[str, str]:
    """The language's translations, English text to its own (empty for English)."""
    from babel.messages.pofile import read_po

    if language == SOURCE_LANGUAGE:
        return {}
    with (_CATALOGS / f"{language}.po").open("rb") as file:
        read = read_po(file, locale=language)
    return {
        str(message.id): str(message.string)
        for message in read
        if message.id and message.string and not message.fuzzy
    }


def chosen_language(accept_language: str | None, default: Language) -> Language:
    """The language an HTTP client asks for (`Accept-Language: en-US,en;q=0.9`) among ioc's,
    else `default`."""
    from babel.core import negotiate_locale

    if not accept_language:
        return default
    asked = []
    for part in accept_language.split(","):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        if tag and quality > 0:
            asked.append((quality, tag.strip().replace("-", "_")))
    preferred = [tag for _quality, tag in sorted(asked, key=lambda pair: -pair[0])]
    found = negotiate_locale(preferred, list(LANGUAGES))
    return next((language for language in LANGUAGES if language == found), default)


@dataclass(frozen=True, slots=True)
class Speech:
    """Texts, numbers, moments and durations told to one reader."""

    language: Language
    zone: tzinfo

    def say(self, english: str, **values: object) -> str:
        """`english` in the reader's language, its {fields} filled with `values`."""
        told = catalog(self.language).get(english, english)
        return told.format(**values) if values else told

    def tell(self, message: object) -> str:
        """A message (or an error's) in the reader's language when it was `said(...)` from a
        marked template; as it was written otherwise."""
        if isinstance(message, BaseException):
            return self.tell(message.args[0]) if len(message.args) == 1 else str(message)
        template, values = getattr(message, "template", None), getattr(message, "values", {})
        if not isinstance(template, str):
            return str(message)
        return self.say(template, **values)

    def number(self, value: float, digits: int = 3) -> str:
        """2.097 in Vietnamese, 2,097 in English; at most `digits` decimals."""
        from babel.numbers import format_decimal

        shape = "#,##0" + ("." + "#" * digits if digits else "")
        return str(format_decimal(value, format=shape, locale=self.language))

    def moment(self, ms: int) -> str:
        """A moment in the reader's zone, with its offset: 08:00 01/11/2026 (UTC+07:00) in
        Vietnamese, 2026-11-01 08:00 (UTC+07:00) in English."""
        from babel.dates import format_datetime

        moment = datetime.fromtimestamp(ms / 1000, self.zone)
        told = format_datetime(moment, _MOMENT[self.language], locale=self.language)
        return f"{told} ({self.offset(ms)})"

    def offset(self, ms: int) -> str:
        """The zone's offset from UTC at that moment: UTC+07:00."""
        offset = datetime.fromtimestamp(ms / 1000, self.zone).isoformat()[-6:]
        return "UTC" if offset == "+00:00" else f"UTC{offset}"

    def duration(self, ms: int) -> str:
        """How long, as the language says it roughly: 2 tiếng, 3 days."""
        from babel.dates import format_timedelta

        return str(format_timedelta(timedelta(milliseconds=ms), locale=self.language))
