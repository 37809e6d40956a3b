"""The `buffer:` section every collector's file has: where its disk buffer lives, how big."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class BufferSection(BaseModel):
    """A collector file's buffer settings (a relative path is taken from the file's folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = None
    max_readings: int = Field(default=200_000, ge=100, le=10_000_000)
