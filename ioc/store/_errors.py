"""Store errors: the class says whether to retry, give up on the data, or stop."""

from ioc.domain import DeliveryError, NeedsOperator, Refused, RetryLater


class StoreError(DeliveryError):
    """Base of the store's exceptions."""


class StoreUnavailable(StoreError, RetryLater):
    """The store cannot be reached or is overloaded now; the same write may succeed later."""


class StoreRejected(StoreError, Refused):
    """The store refused this data (bad points, type conflict); retrying it will not help."""


class StoreMisconfigured(StoreError, NeedsOperator):
    """Credentials, bucket or URL are wrong; nothing will succeed until an operator fixes it."""


def classify_http(status: int, body: str, what: str) -> StoreError:
    """Map an HTTP failure to retry (5xx, 429), give up on the data (400) or stop (401/403/404)."""
    body = body.strip()[:300]
    if status in (401, 403):
        return StoreMisconfigured(
            f"InfluxDB refused the credentials ({status}) on {what}: check IOC_INFLUX_TOKEN "
            f"(v2) or IOC_INFLUX_USERNAME/IOC_INFLUX_PASSWORD (v1). Server said: {body}"
        )
    if status == 404:
        return StoreMisconfigured(
            f"InfluxDB has no such bucket or database on {what} (404): create it or fix "
            f"IOC_INFLUX_DB / IOC_INFLUX_ORG. Server said: {body}"
        )
    if status == 429 or status >= 500:
        return StoreUnavailable(f"InfluxDB is busy or failing ({status}) on {what}: {body}")
    return StoreRejected(f"InfluxDB rejected {what} ({status}): {body}")
