"""The one exception the catalog loaders raise."""


class CatalogError(ValueError):
    """A profile or inventory file is unreadable or wrong; the message names file and field."""
