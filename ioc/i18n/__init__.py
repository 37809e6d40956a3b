"""Speaking to people in their language: texts from the catalogs (`vi.po`; English is the
source), numbers, times and durations as each language writes them (Babel)."""

from ioc.i18n._speech import (
    LANGUAGES,
    Language,
    Speech,
    catalog,
    chosen_language,
    mark,
)
from ioc.i18n._words import (
    SCOPE_WORDS,
    SEVERITY_WORDS,
    SOURCE_WORDS,
    STATE_WORDS,
    TRANSITION_WORDS,
)

__all__ = [
    "LANGUAGES",
    "SCOPE_WORDS",
    "SEVERITY_WORDS",
    "SOURCE_WORDS",
    "STATE_WORDS",
    "TRANSITION_WORDS",
    "Language",
    "Speech",
    "catalog",
    "chosen_language",
    "mark",
]
