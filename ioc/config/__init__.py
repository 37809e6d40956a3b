"""Settings: one typed model, read from a TOML file and IOC_* variables, checked once at start."""

from ioc.config._settings import (
    BrokerAddress,
    ConfigError,
    InfluxApi,
    MqttEndpoint,
    Settings,
    UnknownDevicePolicy,
    load_settings,
)

__all__ = [
    "BrokerAddress",
    "ConfigError",
    "InfluxApi",
    "MqttEndpoint",
    "Settings",
    "UnknownDevicePolicy",
    "load_settings",
]
