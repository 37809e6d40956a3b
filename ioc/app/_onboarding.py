"""An import's devices made probe targets: the probe file gets a target for each imported
device that has an address (or its target updated), its comments and everything else kept, and
is checked as `ioc probe` checks it at start before it replaces the old one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ioc.domain import BadFileError, Inventory, Profile
from ioc.inventory import ProbeTarget
from ioc.probe import bundled_probe_profiles_dir, load_probe_config

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TargetChanges:
    """The targets an import adds to a probe file, and those whose address or profile change."""

    added: list[str]
    changed: list[str]

    @property
    def empty(self) -> bool:
        """Whether the probe file stays as it is."""
        return not (self.added or self.changed)


def _read(path: Path) -> tuple[YAML, Any]:
    yaml = YAML()  # round trip: comments, order and flow style kept
    try:
        with path.open(encoding="utf-8") as file:
            return yaml, yaml.load(file)
    except OSError as exc:
        raise BadFileError(f"{path}: cannot read the probe file: {exc}") from exc


def _targets(document: Any) -> dict[str, Any]:
    return {str(t["device"]): t for t in document.get("targets") or []}


def probe_file_parts(path: Path) -> tuple[dict[str, str], Path | None]:
    """A probe file's targets (address -> device) and the profiles folder it names, if any
    (BadFileError when it cannot be read)."""
    _yaml, document = _read(path)
    watched = {str(t["address"]): device for device, t in _targets(document).items()}
    folder = document.get("profiles_dir")
    return watched, (path.parent / str(folder)).resolve() if folder else None


def target_changes(path: Path, targets: Mapping[str, ProbeTarget]) -> TargetChanges:
    """What writing `targets` into the probe file would change."""
    _yaml, document = _read(path)
    current = _targets(document)
    added = sorted(device for device in targets if device not in current)
    changed = sorted(
        device
        for device, target in targets.items()
        if device in current
        and (
            str(current[device]["address"]) != target.address
            or (target.profile is not None and current[device].get("profile") != target.profile)
        )
    )
    return TargetChanges(added, changed)


def stage_targets(
    path: Path,
    targets: Mapping[str, ProbeTarget],
    inventory: Inventory,
    profiles: dict[str, Profile],
) -> StagedFile:
    """Add or update the targets in a copy of the file, check it against `inventory` as the
    probe would (ProbeConfigError naming the file), and keep it beside the file."""
    yaml, document = _read(path)
    listed = document.get("targets")
    if listed is None:
        listed = document["targets"] = CommentedSeq()
    current = _targets(document)
    for device, target in sorted(targets.items()):
        entry = current.get(device)
        if entry is None:
            entry = CommentedMap(device=device, address=target.address)
            entry.fa.set_flow_style()
            listed.append(entry)
        entry["address"] = target.address
        if target.profile is not None:
            entry["profile"] = target.profile
        if target.snmp is not None:
            if document.get("snmp") is None:  # the file's access for every target
                document["snmp"] = CommentedMap(target.snmp)
            elif dict(document["snmp"]) != target.snmp:
                entry["snmp"] = CommentedMap(target.snmp)
    checked = path.with_name(f".{path.name}.new")
    with checked.open("w", encoding="utf-8") as file:
        yaml.dump(document, file)
    try:
        load_probe_config(checked, profiles, inventory, bundled_probe_profiles_dir())
    except BadFileError as exc:
        checked.unlink()
        raise type(exc)(str(exc).replace(str(checked), str(path))) from exc

    return StagedFile(checked, path)


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A checked copy of a file, written beside it: put in its place, or thrown away."""

    checked: Path
    path: Path

    def commit(self) -> None:
        """Replace the file with the checked copy."""
        self.checked.replace(self.path)

    def discard(self) -> None:
        """Throw the copy away (the file stays as it was)."""
        self.checked.unlink(missing_ok=True)


def recorded_then_written(staged: StagedFile | None, record: Callable[[], T]) -> T:
    """`record()` (the inventory's change), then the staged file put in place; when recording
    fails, the copy is thrown away and the file stays as it was."""
    try:
        done = record()
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if staged is not None:
        staged.commit()
    return done
