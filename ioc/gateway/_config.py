"""The gateway's configuration file: its own id, its serial ports and the controllers on them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc.config.documents import Duration, read_model
from ioc.domain import DEVICE_ID_PATTERN, BadFileError, Inventory, Profile
from ioc.edge import BufferSection
from ioc.gateway._regmap import RegisterMap, RegisterMapError, load_register_map

GATEWAY_CLASS = "serialgw"
STANDARD_BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


class GatewayConfigError(BadFileError):
    """The gateway file or a map it names is wrong; each line names the file and the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ControllerModel(_Strict):
    unit: int = Field(ge=1, le=247)
    device_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    map: str = Field(min_length=1)
    interval: Duration = 10.0
    offline_after: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="after")
    def _sane_interval(self) -> _ControllerModel:
        if not 0.1 <= self.interval <= 3600:
            raise ValueError("interval must be between 100ms and 1h")
        return self


class _PortModel(_Strict):
    port: str = Field(min_length=1)
    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout: Duration = 0.5
    retries: int = Field(default=1, ge=0, le=5)
    max_backoff: Duration = 60.0
    controllers: list[_ControllerModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> _PortModel:
        if self.baudrate not in STANDARD_BAUD_RATES:
            rates = ", ".join(map(str, STANDARD_BAUD_RATES))
            raise ValueError(f"baudrate {self.baudrate} is not a standard rate ({rates})")
        if not 0.01 <= self.timeout <= 10:
            raise ValueError("timeout must be between 10ms and 10s")
        units = [controller.unit for controller in self.controllers]
        if len(set(units)) != len(units):
            raise ValueError(f"unit ids repeat on this port: {sorted(units)}")
        return self


class _GatewayModel(_Strict):
    gateway_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    report_interval: Duration = 60.0
    maps_dir: Path | None = None
    buffer: BufferSection = BufferSection()
    ports: list[_PortModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> _GatewayModel:
        ports = [port.port for port in self.ports]
        if len(set(ports)) != len(ports):
            raise ValueError(f"a port is listed twice: {ports}")
        ids = [c.device_id for port in self.ports for c in port.controllers] + [self.gateway_id]
        repeated = sorted({device_id for device_id in ids if ids.count(device_id) > 1})
        if repeated:
            raise ValueError(f"device ids must be unique (gateway and controllers): {repeated}")
        return self


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """One controller on a port: its unit id, the device it speaks for and its registers."""

    unit: int
    device_id: str
    register_map: RegisterMap
    interval_s: float
    offline_after: int

    @property
    def device_class(self) -> str:
        """The class the controller's readings are published under."""
        return self.register_map.device_class


@dataclass(frozen=True, slots=True)
class PortConfig:
    """One serial port (a device path or a pyserial URL) and its line settings."""

    url: str
    baudrate: int
    bytesize: int
    parity: str
    stopbits: int
    timeout_s: float
    retries: int
    max_backoff_s: float
    controllers: tuple[ControllerConfig, ...]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """A whole gateway file, checked and with its maps loaded."""

    gateway_id: str
    report_interval_s: float
    buffer_path: Path | None
    buffer_max_readings: int
    ports: tuple[PortConfig, ...]

    @property
    def controllers(self) -> tuple[ControllerConfig, ...]:
        """Every controller on every port."""
        return tuple(c for port in self.ports for c in port.controllers)


def load_gateway_config(
    path: Path, profiles: dict[str, Profile], default_maps_dir: Path
) -> GatewayConfig:
    """Read the gateway file and the register maps it names; raise GatewayConfigError."""
    model = read_model(path, _GatewayModel, GatewayConfigError)
    if GATEWAY_CLASS not in profiles:
        raise GatewayConfigError(f"the profiles define no class {GATEWAY_CLASS!r} for the gateway")
    maps_dir = model.maps_dir or default_maps_dir
    if not maps_dir.is_absolute() and model.maps_dir is not None:
        maps_dir = path.parent / maps_dir
    maps: dict[str, RegisterMap] = {}
    ports = []
    for port_index, port in enumerate(model.ports):
        controllers = []
        for index, controller in enumerate(port.controllers):
            where = f"{path}: ports[{port_index}].controllers[{index}].map"
            if controller.map not in maps:
                maps[controller.map] = _load_map(where, maps_dir, controller.map, profiles)
            controllers.append(
                ControllerConfig(
                    controller.unit,
                    controller.device_id,
                    maps[controller.map],
                    controller.interval,
                    controller.offline_after,
                )
            )
        ports.append(
            PortConfig(
                port.port,
                port.baudrate,
                port.bytesize,
                port.parity,
                port.stopbits,
                port.timeout,
                port.retries,
                max(port.max_backoff, max(c.interval_s for c in controllers)),
                tuple(controllers),
            )
        )
    buffer_path = model.buffer.path
    if buffer_path is not None and not buffer_path.is_absolute():
        buffer_path = path.parent / buffer_path
    return GatewayConfig(
        model.gateway_id,
        model.report_interval,
        buffer_path,
        model.buffer.max_readings,
        tuple(ports),
    )


def _load_map(where: str, maps_dir: Path, name: str, profiles: dict[str, Profile]) -> RegisterMap:
    map_path = maps_dir / f"{name}.yaml"
    if not map_path.is_file():
        known = ", ".join(sorted(p.stem for p in maps_dir.glob("*.yaml"))) or "none"
        raise GatewayConfigError(f"{where}: no register map {name!r} in {maps_dir} ({known})")
    try:
        register_map = load_register_map(map_path, profiles)
    except RegisterMapError as exc:
        raise GatewayConfigError(str(exc)) from exc
    if register_map.name != name:
        raise GatewayConfigError(f"{map_path}: name {register_map.name!r} differs from the file")
    return register_map


def check_against_inventory(config: GatewayConfig, inventory: Inventory) -> list[str]:
    """Cross-check with the inventory: a class conflict is an error (raised); the returned
    lines warn of devices the inventory does not list (ingest stores them as unregistered)."""
    warnings = []
    listed = [(config.gateway_id, GATEWAY_CLASS)] + [
        (c.device_id, c.device_class) for c in config.controllers
    ]
    for device_id, device_class in listed:
        device = inventory.devices.get(device_id)
        if device is None:
            warnings.append(f"{device_id} is not in the inventory (stored as unregistered)")
        elif device.device_class != device_class:
            raise GatewayConfigError(
                f"{device_id}: the inventory lists it as {device.device_class}, "
                f"the gateway would publish it as {device_class}"
            )
    return warnings
