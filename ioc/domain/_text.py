"""Names as people type them: Vietnamese without its marks matches Vietnamese with them."""

from __future__ import annotations

import unicodedata


def plain(text: str) -> str:
    """A name as compared: no tones or other marks, đ as d, one case, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())
