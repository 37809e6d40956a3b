"""Live per-device state: whether each device heard from is online."""

from __future__ import annotations

from ioc.domain import StatusChange, TelemetryItem


class LiveState:
    """Each device's last word, online or offline; updated by ingest, read by its status line.

    The wall's figures come from the rules and the alerts; ingest keeps only what its own
    status line shows, since this runs once per message."""

    def __init__(self) -> None:
        self._online: dict[str, bool] = {}

    def apply(self, item: TelemetryItem) -> None:
        """Fold one accepted item into the device's state: telemetry or an event proves the
        device is up, whatever its retained status said."""
        self._online[item.device_id] = item.online if type(item) is StatusChange else True

    def online(self, device_id: str) -> bool | None:
        """Whether the device is online; None if it has not been heard from."""
        return self._online.get(device_id)

    def online_count(self) -> int:
        """Devices whose last word was telemetry, an event or `online`."""
        # list() copies in one C call, so ingest adding a device meanwhile cannot upset it.
        return sum(list(self._online.values()))

    def __len__(self) -> int:
        return len(self._online)
