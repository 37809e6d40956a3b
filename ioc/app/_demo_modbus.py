"""The demo's RS-485 site: simulated controllers on a pty, polled by a real `ioc gateway modbus`."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import yaml

from firmware_sim import FaultKind
from firmware_sim.modbus import LineSettings, PtyLine, RtuSlave, SiteController
from ioc.app._gateway import gateway_options, gateway_services
from ioc.app._supervisor import Managed, Service
from ioc.config import Settings
from ioc.domain import Device, Inventory, Profile
from ioc.gateway import (
    GATEWAY_CLASS,
    GatewayConfig,
    ModbusGateway,
    bundled_maps_dir,
    load_gateway_config,
)

DEMO_GATEWAY_ID = "sgw-demo-1"
BAUD = 19_200


def with_serial_gateway(inventory: Inventory, device_ids: tuple[str, ...]) -> Inventory:
    """The inventory with the demo's gateway at the first site, the sites depending on it (so
    a dead gateway is one outage, not one per controller)."""
    first = inventory.devices[device_ids[0]]
    gateway = Device(
        DEMO_GATEWAY_ID,
        GATEWAY_CLASS,
        first.area_id,
        "Cổng Modbus trạm (demo)",
        first.lat,
        first.lon,
    )
    devices = [
        dataclasses.replace(d, depends_on=(*d.depends_on, DEMO_GATEWAY_ID))
        if d.id in device_ids
        else d
        for d in inventory.devices.values()
    ]
    return Inventory.build(inventory.areas.values(), [*devices, gateway])


class ModbusSite:
    """Two site controllers behind a pty, the gateway polling them; unit 2 has lost its mains."""

    def __init__(
        self,
        settings: Settings,
        profiles: dict[str, Profile],
        device_ids: tuple[str, str],
        speed: float,
        demo_dir: Path,
    ) -> None:
        self.device_ids = device_ids
        self.line = PtyLine()
        self.slave = RtuSlave(
            self.line,
            [SiteController(1, random.Random(11)), SiteController(2, random.Random(12))],
            LineSettings(baudrate=BAUD),
            speed=speed,
        )
        self.slave.set_fault(2, FaultKind.MAINS_FAILURE)
        interval_s = max(0.5, profiles["bts"].report_interval_s / speed)
        self.config_path = demo_dir / "gateway.yaml"
        self.config_path.write_text(
            yaml.safe_dump(
                {
                    "gateway_id": DEMO_GATEWAY_ID,
                    "report_interval": f"{max(1.0, 60 / speed):g}s",
                    "buffer": {"path": "gateway-buffer.db"},
                    "ports": [
                        {
                            "port": self.line.gateway_path,
                            "baudrate": BAUD,
                            "timeout": "200ms",
                            "controllers": [
                                {
                                    "unit": unit,
                                    "device_id": device_id,
                                    "map": "site-controller-48v",
                                    "interval": f"{interval_s:g}s",
                                }
                                for unit, device_id in enumerate(device_ids, start=1)
                            ],
                        }
                    ],
                },
                sort_keys=False,
            ),
            encoding="utf-8",
        )
        self.config: GatewayConfig = load_gateway_config(
            self.config_path, profiles, bundled_maps_dir()
        )
        self.gateway = ModbusGateway(self.config, gateway_options(settings, self.config))

    def describe(self) -> str:
        """One line for the demo's banner."""
        return (
            f"{self.device_ids[0]} and {self.device_ids[1]} (mains failure) are site controllers "
            f"on {self.line.gateway_path} at {BAUD} baud, polled by `ioc gateway modbus` "
            f"({self.config_path})"
        )

    def services(self) -> list[Service]:
        """Controllers first, then the gateway (which stops first: it says offline for its
        controllers while they still answer)."""
        return [
            Managed("modbus controllers", self.slave.start, self._stop_controllers),
            *gateway_services(self.gateway),
        ]

    def _stop_controllers(self) -> None:
        self.slave.stop()
        self.line.close()
