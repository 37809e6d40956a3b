"""Pure domain types shared by every stage; this package imports nothing else from ioc."""

from ioc.domain._delivery import DeliveryError, NeedsOperator, Refused, RetryLater
from ioc.domain._devices import (
    DEVICE_ID_PATTERN,
    Area,
    Device,
    Inventory,
    InventoryError,
    is_valid_device_id,
)
from ioc.domain._profiles import MetricSpec, MetricType, Profile
from ioc.domain._telemetry import (
    DeviceEvent,
    MetricValue,
    Reading,
    Rejection,
    RejectReason,
    StatusChange,
)

__all__ = [
    "DEVICE_ID_PATTERN",
    "Area",
    "DeliveryError",
    "Device",
    "DeviceEvent",
    "Inventory",
    "InventoryError",
    "MetricSpec",
    "MetricType",
    "MetricValue",
    "NeedsOperator",
    "Profile",
    "Reading",
    "Refused",
    "RejectReason",
    "Rejection",
    "RetryLater",
    "StatusChange",
    "is_valid_device_id",
]
