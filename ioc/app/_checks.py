"""`ioc check-config`: every file and setting checked as the services would at start."""

from __future__ import annotations

from ioc.app._catalog import load_catalog
from ioc.app._ruleset import rule_locations
from ioc.app._runtime import Runtime
from ioc.config import Settings


def check_configuration(settings: Settings) -> str:
    """Load and cross-check profiles, inventory, rules, notifications and the directory file;
    say what was found.

    Raises the first BadFileError (each lists every mistake of its file).
    """
    catalog = load_catalog(settings)
    runtime = Runtime(settings, catalog)
    loaded, notifications = runtime.read_files()
    directory = runtime.directory()
    accounts = "local only (IOC_DIRECTORY_FILE unset)"
    if directory is not None:
        roles = directory.config.roles
        given = ", ".join(f"{role.value}: {len(groups)}" for role, groups in roles.items())
        accounts = f"local, and the directory at {directory.config.url} (groups giving {given})"
    notify = (
        f"{len(notifications.people)} people, {len(notifications.spec.routes)} routes "
        f"from {notifications.path}"
        if notifications is not None
        else "off (IOC_NOTIFY_CONFIG unset)"
    )
    store = (
        f"InfluxDB {settings.influx_api.value} at {settings.influx_url}, "
        f"database/bucket {settings.influx_db}"
        if settings.influx_url
        else f"embedded SQLite at {settings.data_dir / 'telemetry.db'}"
    )
    return (
        f"ok: {len(catalog.profiles)} device classes ({', '.join(sorted(catalog.profiles))}), "
        f"{len(catalog.inventory.devices):,} devices in {len(catalog.inventory.areas):,} areas\n"
        f"broker: {settings.mqtt.host}:{settings.mqtt.port} (MQTT {settings.mqtt_protocol}), "
        f"topics {settings.topic_prefix}/+/+/+\n"
        f"telemetry store: {store}\n"
        f"state database: {settings.resolved_state_url}\n"
        f"rules: {len(loaded)} from {', '.join(map(str, rule_locations(settings)))}\n"
        f"notifications: {notify}\n"
        f"accounts: {accounts}"
    )
