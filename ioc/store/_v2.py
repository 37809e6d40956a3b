"""Writes to InfluxDB 2.x/3.x through influxdb-client (loaded only when the v2 API is set)."""

from __future__ import annotations

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from ioc.store._errors import StoreUnavailable, classify_http


class V2Writer:
    """Posts line protocol with millisecond timestamps to one bucket of one organisation."""

    def __init__(self, url: str, token: str, org: str, bucket: str, compress: bool) -> None:
        self._url = url
        self._org = org
        self._bucket = bucket
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=30_000, retries=False, enable_gzip=compress
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes) -> None:
        """Write a request body; raise the store error its failure means."""
        try:
            self._write_api.write(
                bucket=self._bucket,
                org=self._org,
                record=body,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            raise classify_http(exc.status or 0, str(exc.body or exc.reason), "write") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"InfluxDB at {self._url} is unreachable: {exc}") from exc

    def close(self) -> None:
        """Close its HTTP pool."""
        self._client.close()  # type: ignore[no-untyped-call]
