"""Live per-device state: last seen, last values, online or offline."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ioc.domain import MetricValue, Reading, StatusChange, TelemetryItem


@dataclass(slots=True)
class DeviceState:
    """What ingest last heard from one device."""

    device_id: str
    device_class: str
    registered: bool
    last_seen_ms: int = 0
    last_ts_ms: int = 0
    online: bool | None = None
    values: dict[str, MetricValue] = field(default_factory=dict)


class LiveState:
    """The latest state of every device heard from; updated by ingest, read by later stages."""

    def __init__(self) -> None:
        self._devices: dict[str, DeviceState] = {}
        self._lock = threading.Lock()

    def apply(self, item: TelemetryItem, received_ms: int) -> None:
        """Fold one accepted item into the device's state."""
        state = self._devices.get(item.device_id)
        if state is None:
            state = DeviceState(item.device_id, item.device_class, item.registered)
            with self._lock:
                self._devices[item.device_id] = state
        state.last_seen_ms = received_ms
        if type(item) is StatusChange:
            state.online = item.online
            return
        # Telemetry or an event proves the device is up, whatever its retained status said.
        state.online = True
        if type(item) is Reading and item.ts_ms >= state.last_ts_ms:
            state.last_ts_ms = item.ts_ms
            state.values.update(item.metrics)

    def get(self, device_id: str) -> DeviceState | None:
        """One device's state, if it has been heard from."""
        return self._devices.get(device_id)

    def online_count(self) -> int:
        """Devices whose last word was telemetry, an event or `online`."""
        with self._lock:
            states = list(self._devices.values())
        return sum(1 for state in states if state.online)

    def __len__(self) -> int:
        return len(self._devices)
