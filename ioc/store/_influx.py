"""InfluxDB: writes through influxdb-client (/api/v2/write) or /write (1.x); reads with InfluxQL."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import urllib3

from ioc.domain import Aggregate, LatestValues, MetricSummary, SeriesPoint, TelemetryItem
from ioc.store._errors import StoreRejected, StoreUnavailable, classify_http
from ioc.store._lineprotocol import LineEncoder

if TYPE_CHECKING:
    from ioc.store._v2 import V2Writer

_TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)
_AGGREGATES = {
    Aggregate.MEAN: "mean",
    Aggregate.MIN: "min",
    Aggregate.MAX: "max",
    Aggregate.LAST: "last",
}


def _quote_identifier(name: str) -> str:
    """Quote an InfluxQL identifier; identifiers cannot be bound parameters."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxStore:
    """The telemetry store on an InfluxDB server."""

    def __init__(
        self,
        url: str,
        database: str,
        api: str,
        area_tags: Callable[[str], dict[str, str] | None],
        token: str | None = None,
        org: str | None = None,
        username: str | None = None,
        password: str | None = None,
        compress: bool = False,
    ) -> None:
        """`compress`: gzip each write (level 1: most of the saving for little CPU)."""
        self._url = url.rstrip("/")
        self._compress = compress
        self._db = database
        self._api = api
        self._encoder = LineEncoder(area_tags)
        self._http = urllib3.PoolManager(num_pools=2, maxsize=4, retries=False, timeout=_TIMEOUT)
        self._headers: dict[str, str] = {}
        self._auth_params: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        if username:
            self._auth_params = {"u": username, "p": password or ""}
        self._v2: V2Writer | None = None
        self._database_ready = False
        if api == "v2":
            # influxdb-client is loaded only for the v2 API (a third of ingest's start-up).
            from ioc.store._v2 import V2Writer

            self._v2 = V2Writer(self._url, token or "", org or "-", database, compress)

    # -- writes --------------------------------------------------------------------------

    def write(self, items: Sequence[TelemetryItem]) -> None:
        """Write a batch as line protocol with millisecond timestamps."""
        if not items:
            return
        body = self._encoder.encode(items)
        if self._v2 is not None:
            self._v2.write(body)
        else:
            self._write_v1(body)

    def _write_v1(self, body: bytes) -> None:
        if not self._database_ready:
            self.ensure_database()
        fields = {"db": self._db, "precision": "ms", **self._auth_params}
        headers = None
        if self._compress:
            body = gzip.compress(body, compresslevel=1)
            headers = {"Content-Encoding": "gzip"}
        response = self._request("POST", "/write", fields, body, headers)
        if response.status == 404 and "database not found" in response.data.decode(
            errors="replace"
        ):
            self._database_ready = False
            raise StoreUnavailable(f"database {self._db!r} disappeared; it will be created again")
        if response.status >= 300:
            raise classify_http(response.status, response.data.decode(errors="replace"), "write")

    def ensure_database(self) -> None:
        """Create the database if missing (1.x only; a 2.x bucket must be made by its owner)."""
        if self._api == "v1":
            self._query(f"CREATE DATABASE {_quote_identifier(self._db)}", {}, method="POST")
        self._database_ready = True

    def _request(
        self,
        method: str,
        path: str,
        fields: dict[str, str],
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = self._url + path + "?" + urlencode(fields)
        try:
            return self._http.request(
                method, url, body=body, headers=self._headers | (headers or {})
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"InfluxDB at {self._url} is unreachable: {exc}") from exc

    # -- reads ---------------------------------------------------------------------------

    def _query(
        self, query: str, params: dict[str, Any], method: str = "GET"
    ) -> list[dict[str, Any]]:
        fields = {"db": self._db, "q": query, "epoch": "ms", **self._auth_params}
        if params:
            fields["params"] = json.dumps(params)
        response = self._request(method, "/query", fields)
        text = response.data.decode(errors="replace")
        if response.status >= 300:
            raise classify_http(response.status, text, "query")
        results = json.loads(text).get("results", [])
        series: list[dict[str, Any]] = []
        for result in results:
            if "error" in result:
                message = result["error"]
                if "database not found" in message:
                    return []
                raise StoreRejected(f"InfluxDB query failed: {message}")
            series.extend(result.get("series", []))
        return series

    def latest(
        self, device_class: str, device_ids: Sequence[str] | None = None
    ) -> list[LatestValues]:
        """The newest row of each device of a class."""
        where, params = "", {}
        if device_ids is not None:
            if not device_ids:
                return []
            names = [f"d{i}" for i in range(len(device_ids))]
            where = " WHERE " + " OR ".join(f'"device_id" = ${name}' for name in names)
            params = dict(zip(names, device_ids, strict=True))
        query = (
            f"SELECT *::field FROM {_quote_identifier(device_class)}{where} "
            'GROUP BY "device_id" ORDER BY time DESC LIMIT 1'
        )
        latest = []
        for series in self._query(query, params):
            columns: list[str] = series["columns"]
            row = series["values"][0]
            metrics = {
                name: value
                for name, value in zip(columns[1:], row[1:], strict=True)
                if value is not None and name != "ts_adjusted"
            }
            latest.append(LatestValues(series["tags"]["device_id"], int(row[0]), metrics))
        return latest

    def series(
        self,
        device_class: str,
        device_id: str,
        metric: str,
        start_ms: int,
        end_ms: int,
        step_s: int,
        aggregate: Aggregate,
    ) -> list[SeriesPoint]:
        """One metric downsampled with an InfluxQL aggregate per step."""
        function = _AGGREGATES[aggregate]
        query = (
            f"SELECT {function}({_quote_identifier(metric)}) FROM "
            f'{_quote_identifier(device_class)} WHERE "device_id" = $device '
            f"AND time >= $start AND time < $end GROUP BY time({int(step_s)}s) fill(none)"
        )
        params = {
            "device": device_id,
            "start": _rfc3339(start_ms),
            "end": _rfc3339(end_ms),
        }
        points = []
        for series in self._query(query, params):
            for ts, value in series["values"]:
                if value is not None:
                    points.append(SeriesPoint(int(ts), value))
        return points

    def summaries(
        self, device_class: str, metric: str, start_ms: int, end_ms: int
    ) -> dict[str, MetricSummary]:
        """One InfluxQL query, grouped by device: count, mean, min and max of the metric."""
        field = _quote_identifier(metric)
        query = (
            f"SELECT count({field}), mean({field}), min({field}), max({field}) "
            f"FROM {_quote_identifier(device_class)} WHERE time >= $start AND time < $end "
            'GROUP BY "device_id"'
        )
        params = {"start": _rfc3339(start_ms), "end": _rfc3339(end_ms)}
        found = {}
        for series in self._query(query, params):
            _ts, count, mean, minimum, maximum = series["values"][0]
            if count:
                found[series["tags"]["device_id"]] = MetricSummary(
                    int(count), float(mean), float(minimum), float(maximum)
                )
        return found

    def ping(self) -> None:
        """Raise StoreUnavailable unless the server answers its /ping."""
        response = self._request("GET", "/ping", {})
        if response.status >= 300:
            raise classify_http(response.status, response.data.decode(errors="replace"), "ping")

    def count(self, device_class: str) -> int:
        """Readings of a class, as the largest count of any one of its fields."""
        query = f"SELECT count(*) FROM {_quote_identifier(device_class)}"
        total = 0
        for series in self._query(query, {}):
            counts = [v for v in series["values"][0][1:] if isinstance(v, int)]
            total += max(counts, default=0)
        return total

    def close(self) -> None:
        """Close the HTTP pools."""
        if self._v2 is not None:
            self._v2.close()
        self._http.clear()


def _rfc3339(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
