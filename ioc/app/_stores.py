"""Opening the telemetry store the settings point at."""

from __future__ import annotations

from collections.abc import Callable

from ioc.config import Settings
from ioc.domain import Inventory
from ioc.store import InfluxStore, SqliteStore, TelemetryStore


def open_telemetry_store(settings: Settings, inventory: Callable[[], Inventory]) -> TelemetryStore:
    """InfluxDB when IOC_INFLUX_URL is set, else the embedded SQLite file in the data dir;
    points are tagged with their device's areas in the `inventory()` in force."""
    if settings.influx_url is None:
        return SqliteStore(settings.data_dir / "telemetry.db")

    def area_tags(device_id: str) -> dict[str, str] | None:
        in_force = inventory()
        return in_force.device_area_tags(device_id) if device_id in in_force.devices else None

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
    return store


def prepare_for_writing(store: TelemetryStore, settings: Settings) -> None:
    """Create a missing InfluxDB 1.x database now (and raise its errors now), before ingest
    writes to it; the API and reports only read, and start while the store is away."""
    if isinstance(store, InfluxStore) and settings.influx_api.value == "v1":
        store.ensure_database()
