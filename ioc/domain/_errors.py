"""ioc's one exception family: every error ioc raises on purpose is an `IocError`.

The tree (each leaf lives in the package that raises it)::

    IocError
    ├── BadFileError              a file or setting ioc reads is wrong: fix it, then start again
    │   ├── ConfigError             settings (IOC_* variables, the TOML file)      ioc.config
    │   ├── CatalogError            device profiles, the inventory                 ioc.inventory
    │   ├── InventoryError          an inventory that contradicts itself           ioc.domain
    │   ├── RuleError               rule files                                     ioc.rules
    │   ├── NotifyConfigError       the notification file, a channel not set up    ioc.notify
    │   ├── GatewayConfigError      the gateway file                               ioc.gateway
    │   └── RegisterMapError        a Modbus register map                          ioc.gateway
    ├── DeliveryError             a sink could not take data; the subclass says what to do
    │   ├── RetryLater              away or busy: the same data may succeed later
    │   │   ├── StoreUnavailable      the telemetry store                           ioc.store
    │   │   └── StateUnavailable      the state database (a dropped connection)     ioc.state
    │   ├── Refused                 this data is refused: retrying it will not help
    │   │   └── StoreRejected         bad points, a type conflict                   ioc.store
    │   └── NeedsOperator           nothing will succeed until someone fixes it
    │       ├── StoreMisconfigured    credentials, bucket, URL                      ioc.store
    │       └── StateRefused          an integrity or programming error             ioc.state
    ├── AlertError                an operator's request cannot be done           ioc.alerts
    │   ├── UnknownAlert            no such alert
    │   ├── AlertNotOpen            the alert is resolved
    │   ├── ActionRefused           not possible as the alert stands (already acknowledged...)
    │   └── WindowRefused           a maintenance window that cannot be planned or ended
    ├── AckLinkError              a forged, expired or stale acknowledgement link ioc.notify
    ├── ServiceError              a service failed to start, or stopped by itself ioc.app
    ├── BrokerError               the private broker cannot start                ioc.broker
    └── EdgeError                 collectors at the edge                         ioc.gateway
        ├── LineError               a serial line fault (time-out, CRC, garbage...)
        └── RejectedValue           a value outside its profile's range

`StoreError` and `StateError` group each store's three kinds. Foreign exceptions (paho,
urllib3, SQLAlchemy, pyserial, OSError) are translated where they are caught, `from exc`, so a
caller needs to know only this tree.
"""


class IocError(Exception):
    """Something ioc knows how to explain; the message is meant for a person."""


class BadFileError(IocError):
    """A file or setting is wrong; the message names the file and the field."""


class EdgeError(IocError):
    """A collector at the edge met a fault on its line or in a value."""
