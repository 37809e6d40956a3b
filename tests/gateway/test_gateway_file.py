"""The gateway file's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.domain import Inventory, Profile
from ioc.gateway import (
    GatewayConfigError,
    bundled_maps_dir,
    check_against_inventory,
    load_gateway_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
gateway_id: sgw-QT-0001
ports:
  - port: /dev/ttyUSB0
    controllers:
      - {unit: 1, device_id: bts-QT-00001, map: site-controller-48v}
      - {unit: 2, device_id: bts-QT-99999, map: site-controller-48v, interval: 30s}
"""


def test_a_good_file_loads_with_defaults(tmp_path: Path, profiles: dict[str, Profile]) -> None:
    config = load_gateway_config(write(tmp_path, GOOD), profiles, bundled_maps_dir())
    port = config.ports[0]
    assert (port.baudrate, port.parity, port.timeout_s, port.retries) == (9600, "N", 0.5, 1)
    assert [c.interval_s for c in port.controllers] == [10.0, 30.0]
    assert port.max_backoff_s == 60.0
    assert config.report_interval_s == 60.0
    assert config.controllers[0].device_class == "bts"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("unit: 2,", "unit: 1,"), "ports[0]: unit ids repeat on this port: [1, 1]"),
        (
            ("device_id: bts-QT-99999", "device_id: bts-QT-00001"),
            "(top level): device ids must be unique (gateway and controllers): ['bts-QT-00001']",
        ),
        (("unit: 2,", "unit: 300,"), "ports[0].controllers[1].unit: Input should be less than"),
        (
            ("port: /dev/ttyUSB0", "port: /dev/ttyUSB0\n    baudrate: 9601"),
            "ports[0]: baudrate 9601 is not a standard rate",
        ),
        (
            ("interval: 30s", "interval: soon"),
            "ports[0].controllers[1].interval: 'soon' is not a duration",
        ),
        (
            ("map: site-controller-48v}", "map: no-such-map}"),
            "ports[0].controllers[0].map: no register map 'no-such-map'",
        ),
        (
            ("gateway_id:", "gateway_ident:"),
            "gateway_id: Field required\n{path}: gateway_ident: Extra inputs are not permitted",
        ),
    ],
)
def test_mistakes_are_named_with_file_and_entry(
    change: tuple[str, str], message: str, tmp_path: Path, profiles: dict[str, Profile]
) -> None:
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(GatewayConfigError) as caught:
        load_gateway_config(path, profiles, bundled_maps_dir())
    assert str(caught.value).startswith(f"{path}: " + message.format(path=path))


def test_the_inventory_must_agree_on_classes(
    tmp_path: Path, profiles: dict[str, Profile], inventory: Inventory
) -> None:
    gateway = next(d for d in inventory.devices.values() if d.device_class == "netgw")
    bts = next(d for d in inventory.devices.values() if d.device_class == "bts")
    text = GOOD.replace("bts-QT-00001", bts.id)
    config = load_gateway_config(write(tmp_path, text), profiles, bundled_maps_dir())
    warnings = check_against_inventory(config, inventory)
    assert warnings == [
        "sgw-QT-0001 is not in the inventory (stored as unregistered)",
        "bts-QT-99999 is not in the inventory (stored as unregistered)",
    ]
    wrong = load_gateway_config(
        write(tmp_path, text.replace(bts.id, gateway.id)), profiles, bundled_maps_dir()
    )
    with pytest.raises(GatewayConfigError, match=f"{gateway.id}: the inventory lists it as netgw"):
        check_against_inventory(wrong, inventory)
