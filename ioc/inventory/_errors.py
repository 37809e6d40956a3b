"""The one exception the catalog loaders raise."""

from ioc.domain import BadFileError


class CatalogError(BadFileError):
    """A profile or inventory file is unreadable or wrong; the message names file and field."""
