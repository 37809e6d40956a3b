"""Reading YAML/JSON data files and explaining their validation errors by file and field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

from ioc.domain import BadFileError

_MAX_LISTED = 20
ModelT = TypeVar("ModelT", bound=BaseModel)


def read_document(path: Path, error: type[BadFileError]) -> Any:
    """Parse a .json or YAML file; raise `error` naming the file on any failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError) as exc:
        raise error(f"{path}: not valid {path.suffix.lstrip('.')}: {exc}") from exc


def read_model(path: Path, model: type[ModelT], error: type[BadFileError]) -> ModelT:
    """Parse a file into a pydantic model; raise `error` with one line per mistake."""
    document = read_document(path, error)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise error(explain_validation(path, exc, document)) from exc


def explain_validation(path: Path, exc: ValidationError, document: Any) -> str:
    """One line per mistake: `file: where.in.the[doc]: what is wrong`."""
    lines = []
    for error in exc.errors()[:_MAX_LISTED]:
        location = describe_location(error["loc"], document)
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {location}: {message}")
    if exc.error_count() > _MAX_LISTED:
        lines.append(f"{path}: ... and {exc.error_count() - _MAX_LISTED} more mistakes")
    return "\n".join(lines)


def describe_location(loc: tuple[int | str, ...], document: Any) -> str:
    """Render a pydantic location, naming list items by their id where they have one."""
    parts: list[str] = []
    node = document
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            item_id = item.get("id") if isinstance(item, dict) else None
            parts.append(f"[{item_id!r}]" if item_id is not None else f"[{key}]")
            node = item
        elif isinstance(node, dict) and key in node:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key)
        elif isinstance(node, dict):
            # A tagged-union branch name (pydantic adds the `kind` value): not part of the file.
            if isinstance(key, str) and node.get("kind") == key:
                continue
            parts.append(f".{key}" if parts else str(key))
            node = None
        else:
            parts.append(f".{key}" if parts else str(key))
            node = None
    return "".join(parts) or "(top level)"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds from 90, "90s", "5m", "2h", "1d" or "250ms"."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '5m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration (try 90s, 5m, 2h)")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
