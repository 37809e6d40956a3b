"""The catalogs the wall speaks with: public, as the sign-in form needs them before a token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ioc.i18n import Language, catalog

router = APIRouter(tags=["texts"])


@router.get("/texts/{language}")
def texts(language: Language, response: Response) -> dict[str, str]:
    """The language's translations of ioc's texts, English text to its own (`{}` for English,
    the language they are written in)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return catalog(language)
