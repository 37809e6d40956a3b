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
