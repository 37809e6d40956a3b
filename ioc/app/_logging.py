"""The process's log: one format, ioc's level, and libraries kept to what an operator needs."""

from __future__ import annotations

import logging
import sys

# Libraries that narrate at INFO (alembic: each migration step) or log every failed request
# at ERROR (pymodbus: a time-out is routine on a bus, and the gateway logs a controller going
# offline and coming back instead).
_QUIETER = {"alembic": logging.WARNING, "pymodbus": logging.CRITICAL}


def configure_logging(level: str) -> None:
    """Log to stderr at `level`, with the noisy libraries turned down."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name, library_level in _QUIETER.items():
        logging.getLogger(name).setLevel(library_level)
