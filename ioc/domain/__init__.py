"""Pure domain types shared by every stage; this package imports nothing else from ioc."""

from ioc.domain._access import Role
from ioc.domain._alerts import (
    Alert,
    AlertState,
    AlertTransition,
    MaintenanceWindow,
    RuleInfo,
    RuleSignal,
    Severity,
    SignalKind,
    TransitionKind,
    WindowScope,
)
from ioc.domain._delivery import DeliveryError, NeedsOperator, Refused, RetryLater
from ioc.domain._devices import (
    DEVICE_ID_PATTERN,
    Area,
    Device,
    Inventory,
    InventoryError,
    is_valid_device_id,
)
from ioc.domain._notifications import (
    AckClaim,
    Notification,
    NotificationKind,
    NotificationStatus,
    PlannedNotification,
)
from ioc.domain._profiles import MetricSpec, MetricType, Profile
from ioc.domain._telemetry import (
    Aggregate,
    DeviceEvent,
    LatestValues,
    MetricValue,
    Reading,
    Rejection,
    RejectReason,
    SeriesPoint,
    StatusChange,
)

__all__ = [
    "DEVICE_ID_PATTERN",
    "AckClaim",
    "Aggregate",
    "Alert",
    "AlertState",
    "AlertTransition",
    "Area",
    "DeliveryError",
    "Device",
    "DeviceEvent",
    "Inventory",
    "InventoryError",
    "LatestValues",
    "MaintenanceWindow",
    "MetricSpec",
    "MetricType",
    "MetricValue",
    "NeedsOperator",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "PlannedNotification",
    "Profile",
    "Reading",
    "Refused",
    "RejectReason",
    "Rejection",
    "RetryLater",
    "Role",
    "RuleInfo",
    "RuleSignal",
    "SeriesPoint",
    "Severity",
    "SignalKind",
    "StatusChange",
    "TransitionKind",
    "WindowScope",
    "is_valid_device_id",
]
