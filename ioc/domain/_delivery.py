"""How a downstream sink failed, as the stage handing it data needs to know: retry, skip, stop."""

from ioc.domain._errors import IocError


class DeliveryError(IocError):
    """A sink could not take a batch."""


class RetryLater(DeliveryError):
    """The sink is away or busy; the same batch may succeed later."""


class Refused(DeliveryError):
    """The sink refused this data; retrying the same data will not help."""


class NeedsOperator(DeliveryError):
    """The sink is misconfigured (credentials, bucket); stop and tell an operator."""
