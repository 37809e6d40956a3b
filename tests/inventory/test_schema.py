"""The inventory's format: a JSON Schema that editors use and that agrees with ioc's own check,
printed by `ioc inventory schema`."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml
from jsonschema import Draft202012Validator

from ioc.domain import Profile
from ioc.inventory import (
    CatalogError,
    bundled_inventory_path,
    inventory_schema,
    load_inventory,
)
from tests.support.cli import invoke_ioc
from tests.support.clock import VIETNAM

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "inventory.yaml"


def _document(path: Path) -> object:
    """As an editor sees it: YAML's dates are the text they are written as."""
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return json.loads(json.dumps(document, default=str))


def _said(validator: Draft202012Validator, document: object) -> list[str]:
    """Every message of the schema's refusal, those inside an `anyOf` too."""
    found = []
    for error in validator.iter_errors(document):
        found += [error.message, *(inner.message for inner in error.context or ())]
    return found


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = inventory_schema()
    Draft202012Validator.check_schema(schema)  # a schema by the standard itself
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("path", [bundled_inventory_path(), EXAMPLE], ids=["bundled", "example"])
def test_the_bundled_sample_and_the_docs_example_pass_the_schema_and_the_loader(
    path: Path, validator: Draft202012Validator, profiles: dict[str, Profile]
) -> None:
    assert _said(validator, _document(path)) == []
    assert load_inventory(path, profiles, VIETNAM).devices


MISTAKES = [
    ({"lat": 160.2}, "lat", "160.2 is greater than the maximum of 90"),
    ({"colour": "red"}, "colour", "Additional properties are not allowed"),
    ({"id": "bts 1"}, "id", "does not match"),
    ({"tags": ["Viettel"]}, "tags", "does not match"),
    ({"since": "yesterday"}, "since", "yesterday"),
]


@pytest.mark.parametrize(("change", "field", "said"), MISTAKES, ids=[m[1] for m in MISTAKES])
def test_a_wrong_device_is_refused_by_the_schema_and_by_ioc_alike(
    change: dict[str, object],
    field: str,
    said: str,
    tmp_path: Path,
    validator: Draft202012Validator,
    profiles: dict[str, Profile],
) -> None:
    document = _document(EXAMPLE)
    document["devices"][2] |= change  # type: ignore[index]  # bts-QT-00417
    messages = _said(validator, document)
    assert any(said in message for message in messages), messages
    wrong = tmp_path / "inventory.yaml"
    wrong.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match=rf"devices\[[^]]+\]\.{field}"):
        load_inventory(wrong, profiles, VIETNAM)


def test_what_the_schema_cannot_see_ioc_still_refuses(
    tmp_path: Path, validator: Draft202012Validator, profiles: dict[str, Profile]
) -> None:
    document = _document(EXAMPLE)
    document["devices"][1]["depends_on"] = ["gw-nowhere"]  # type: ignore[index]
    assert _said(validator, document) == []  # well formed
    wrong = tmp_path / "inventory.yaml"
    wrong.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="gw-nowhere"):
        load_inventory(wrong, profiles, VIETNAM)


def test_ioc_inventory_schema_prints_it_or_writes_it(tmp_path: Path) -> None:
    printed = invoke_ioc("inventory", "schema")
    assert printed.returncode == 0, printed.stderr
    assert orjson.loads(printed.stdout) == inventory_schema()
    out = tmp_path / "inventory.schema.json"
    written = invoke_ioc("inventory", "schema", "--out", str(out))
    assert written.returncode == 0 and f"wrote the inventory schema to {out}" in written.stderr
    assert orjson.loads(out.read_bytes())["$id"] == inventory_schema()["$id"]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_ioc_inventory_export_gives_back_the_inventory_in_force(
    tmp_path: Path, suffix: str, profiles: dict[str, Profile]
) -> None:
    out = tmp_path / f"exported{suffix}"
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_INVENTORY": str(EXAMPLE)}
    exported = invoke_ioc("inventory", "export", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    assert f"wrote 4 devices in 3 areas to {out}" in exported.stderr
    original, again = (
        load_inventory(EXAMPLE, profiles, VIETNAM),
        load_inventory(out, profiles, VIETNAM),
    )
    assert (again.areas, again.devices) == (original.areas, original.devices)
    printed = invoke_ioc("inventory", "export", env=env)  # YAML on stdout
    assert yaml.safe_load(printed.stdout)["devices"][2]["since"] == "2026-11-15"
