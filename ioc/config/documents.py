"""Reading YAML/JSON data files and explaining their validation errors by file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

_MAX_LISTED = 20


def read_document(path: Path, error: type[ValueError]) -> Any:
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
