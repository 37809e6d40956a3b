"""The telemetry store: InfluxDB (2.x/3.x through /api/v2/write, 1.x through /write) or SQLite.

Exceptions::

    StoreError
    ├── StoreUnavailable    the server is away or overloaded: retry later
    ├── StoreRejected       the server refused this data: retrying will not help
    └── StoreMisconfigured  wrong token, missing bucket, bad URL: an operator must act
"""

from ioc.domain import Aggregate, LatestValues, SeriesPoint
from ioc.store._errors import StoreError, StoreMisconfigured, StoreRejected, StoreUnavailable
from ioc.store._influx import InfluxStore
from ioc.store._lineprotocol import LineEncoder, escape_measurement, escape_tag
from ioc.store._model import TelemetryStore
from ioc.store._sqlite import SqliteStore

__all__ = [
    "Aggregate",
    "InfluxStore",
    "LatestValues",
    "LineEncoder",
    "SeriesPoint",
    "SqliteStore",
    "StoreError",
    "StoreMisconfigured",
    "StoreRejected",
    "StoreUnavailable",
    "TelemetryStore",
    "escape_measurement",
    "escape_tag",
]
