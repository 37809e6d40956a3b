"""A simulated RS-485 line: two site controllers (units 1 and 2) behind a pseudo-terminal."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from firmware_sim.modbus import LineSettings, PtyLine, RtuSlave, SiteController
from ioc.domain import Profile
from ioc.gateway import ControllerConfig, PortConfig, RegisterMap, bundled_maps_dir
from ioc.gateway import load_register_map as _load_map

BAUD = 115_200


@pytest.fixture(scope="session")
def site_map(profiles: dict[str, Profile]) -> RegisterMap:
    """The shipped 48 V site controller map."""
    return _load_map(bundled_maps_dir() / "site-controller-48v.yaml", profiles)


@pytest.fixture
def line() -> Iterator[PtyLine]:
    """The cable: a pty the gateway opens by path."""
    pty = PtyLine()
    yield pty
    pty.close()


@pytest.fixture
def slave(line: PtyLine) -> Iterator[RtuSlave]:
    """Controllers 1 and 2 answering at 115,200 baud; the physics stand still (one step an
    hour) so what the gateway reads can be compared with what the controller measured."""
    controllers = [SiteController(1, random.Random(1)), SiteController(2, random.Random(2))]
    server = RtuSlave(line, controllers, LineSettings(baudrate=BAUD), step_s=3600)
    server.start()
    yield server
    server.stop()


def port_config(
    url: str,
    site_map: RegisterMap,
    units: dict[int, str],
    *,
    interval_s: float = 0.2,
    offline_after: int = 2,
    baudrate: int = BAUD,
    timeout_s: float = 0.3,  # a simulated controller is a thread: give a loaded machine time
    max_backoff_s: float = 1.6,
) -> PortConfig:
    """A port polling the given unit -> device id pairs with the site map."""
    controllers = tuple(
        ControllerConfig(unit, device_id, site_map, interval_s, offline_after)
        for unit, device_id in units.items()
    )
    return PortConfig(url, baudrate, 8, "N", 1, timeout_s, 0, max_backoff_s, controllers)
