"""Writing the identities' files: whole or not at all, private from the first byte."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` in one step (a reader sees the old file or the new one),
    keeping the owner an operator gave the file (a container's user reads it)."""
    try:
        before = path.stat()
    except FileNotFoundError:
        before = None
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        if before is not None and (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
            os.chown(temporary, before.st_uid, before.st_gid)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def hand_over(folder: Path, owner: str | None) -> None:
    """Give `folder` to `owner` ("user" or "user:group", names or numbers; None: keep its
    owner), and every file in it to the folder's owner: the broker reads its files after
    dropping root, so they must stay its own across runs."""
    if owner is not None:
        user, _, group = owner.partition(":")
        try:
            shutil.chown(folder, _id(user), _id(group) if group else None)
        except (LookupError, PermissionError) as exc:
            raise OSError(f"cannot give {folder} to {owner!r}: {exc}") from exc
    status = folder.stat()
    for path in folder.iterdir():
        mine = path.stat()
        if (mine.st_uid, mine.st_gid) != (status.st_uid, status.st_gid):
            os.chown(path, status.st_uid, status.st_gid)


def reachable(path: Path, uid: int, gid: int) -> Path | None:
    """The first folder above `path` that user `uid` (group `gid`) may not search, if any:
    Mosquitto drops root before it opens its files, and then needs every folder on the way."""
    for folder in reversed(path.parents):
        status = folder.stat()
        if status.st_uid == uid:
            allowed = status.st_mode & 0o100
        elif status.st_gid == gid:
            allowed = status.st_mode & 0o010
        else:
            allowed = status.st_mode & 0o001
        if not allowed:
            return folder
    return None


def _id(name: str) -> str | int:
    return int(name) if name.isdigit() else name
