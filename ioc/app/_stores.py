"""Opening the telemetry store and the state database the settings point at."""

from __future__ import annotations

from ioc.config import Settings
from ioc.domain import Inventory
from ioc.state import DeadLetterLog, connect_state
from ioc.store import InfluxStore, SqliteStore, TelemetryStore


def open_telemetry_store(
    settings: Settings, inventory: Inventory, create_database: bool = True
) -> TelemetryStore:
    """InfluxDB when IOC_INFLUX_URL is set, else the embedded SQLite file in the data dir.

    With `create_database`, a missing 1.x database is created now (and its errors raised now).
    """
    if settings.influx_url is None:
        return SqliteStore(settings.data_dir / "telemetry.db")

    def area_tags(device_id: str) -> dict[str, str] | None:
        return inventory.device_area_tags(device_id) if device_id in inventory.devices else None

    store = InfluxStore(
        url=settings.influx_url,
        database=settings.influx_db,
        api=settings.influx_api.value,
        area_tags=area_tags,
        token=settings.influx_token.get_secret_value() if settings.influx_token else None,
        org=settings.influx_org,
        username=settings.influx_username,
        password=settings.influx_password.get_secret_value() if settings.influx_password else None,
        compress=settings.influx_gzip,
    )
    if create_database and settings.influx_api.value == "v1":
        store.ensure_database()
    return store


def open_dead_letters(settings: Settings) -> DeadLetterLog:
    """The dead-letter log in the state database."""
    return DeadLetterLog(connect_state(settings.resolved_state_url), settings.dead_letter_limit)
