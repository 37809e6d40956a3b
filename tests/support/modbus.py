"""Simulated site controllers on a pty, and the gateway file that reads them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from firmware_sim.faults import FaultKind
from firmware_sim.modbus import LineSettings, PtyLine, RtuSlave, SiteController
from ioc.domain import Inventory


@contextmanager
def pty_controllers() -> Iterator[tuple[PtyLine, RtuSlave]]:
    """Two controllers at 115,200 baud; unit 2's site has lost its mains. Physics run 60x."""
    line = PtyLine()
    slave = RtuSlave(
        line,
        [SiteController(1, random.Random(1)), SiteController(2, random.Random(5))],
        LineSettings(baudrate=115_200),
        speed=60,
        step_s=0.25,
    )
    slave.set_fault(2, FaultKind.MAINS_FAILURE)
    slave.start()
    try:
        yield line, slave
    finally:
        slave.stop()
        line.close()


def gateway_file(tmp_path: Path, line: PtyLine, site_a: str, site_b: str, gateway: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""
gateway_id: {gateway}
report_interval: 1s
buffer: {{path: buffer.db}}
ports:
  - port: {line.gateway_path}
    baudrate: 115200
    timeout: 100ms
    retries: 0
    controllers:
      - {{unit: 1, device_id: {site_a}, map: site-controller-48v, interval: 200ms}}
      - {{unit: 2, device_id: {site_b}, map: site-controller-48v, interval: 200ms}}
""",
        encoding="utf-8",
    )
    return path


def bts_sites(inventory: Inventory) -> tuple[str, str]:
    sites = [d.id for d in inventory.devices.values() if d.device_class == "bts"]
    return sites[0], sites[1]
