"""Settings: one typed model, read from a TOML file and IOC_* variables, checked once at start."""

from ioc.config._settings import (
    ConfigError,
    InfluxApi,
    MqttEndpoint,
    Settings,
    UnknownDevicePolicy,
    load_settings,
)

__all__ = [
    "ConfigError",
    "InfluxApi",
    "MqttEndpoint",
    "Settings",
    "UnknownDevicePolicy",
    "load_settings",
]
