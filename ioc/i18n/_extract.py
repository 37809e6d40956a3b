"""Every text the code marks for translation, found the way Babel's extraction finds it: in
Python, the first argument of `say(...)`, `mark(...)` and `said(...)` (an error's message); in
the wall's scripts, of `t(...)` and `mark(...)`; in its page, each `data-i18n` and
`data-i18n-placeholder` attribute. The catalogs' completeness test reads them, and `make i18n`
brings `vi.po` in step (new texts added untranslated, gone ones dropped)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

_PACKAGE = Path(__file__).parents[1]
_WALL = _PACKAGE / "api" / "wall"
_DATA_I18N = re.compile(r'data-i18n(?:-placeholder)?="([^"]+)"')


def marked_texts() -> dict[str, list[str]]:
    """Each marked text with where it is marked (path:line), in the order found."""
    found: dict[str, list[str]] = {}
    for text, where in _everywhere():
        found.setdefault(text, []).append(where)
    return found


def _everywhere() -> Iterator[tuple[str, str]]:
    from babel.messages.extract import extract

    for path in sorted(_PACKAGE.rglob("*.py")):
        with path.open("rb") as file:
            for line, text, _comments, _context in extract(
                "python", file, keywords={"say": None, "mark": None, "said": None}
            ):
                yield str(text), f"{path.relative_to(_PACKAGE.parent)}:{line}"
    for script in sorted(_WALL.glob("*.js")):
        with script.open("rb") as file:
            for line, text, _comments, _context in extract(
                "javascript", file, keywords={"t": None, "mark": None},
                options={"parse_template_string": True},
            ):  # fmt: skip
                yield str(text), f"{script.relative_to(_PACKAGE.parent)}:{line}"
    page = _WALL / "index.html"
    lines = page.read_text(encoding="utf-8").splitlines()
    for number, content in enumerate(lines, start=1):
        for attribute in _DATA_I18N.findall(content):
            yield html.unescape(attribute), f"{page.relative_to(_PACKAGE.parent)}:{number}"


def update_catalog(language: str) -> Path:
    """Bring `ioc/i18n/<language>.po` in step with the code: every marked text in it (new ones
    untranslated, to be filled in), texts no longer marked dropped, each with where it is."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = Path(__file__).parent / f"{language}.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale=language)
    # The catalog's own dates: running it on unchanged code changes nothing.
    template = Catalog(project="ioc", creation_date=catalog.creation_date)
    for text, places in marked_texts().items():
        template.add(text, locations=[_location(place) for place in places])
    catalog.update(template, no_fuzzy_matching=True)
    catalog.msgid_bugs_address = "ioc@example.vn"
    with path.open("wb") as file:  # files, not lines: a line moved is no change to translate
        write_po(file, catalog, width=100, ignore_obsolete=True, include_lineno=False)
    return path


def _location(place: str) -> tuple[str, int]:
    path, _, line = place.rpartition(":")
    return path, int(line)
