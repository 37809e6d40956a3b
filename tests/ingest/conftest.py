"""Shared pieces for ingest tests."""

from __future__ import annotations

import pytest

from ioc.domain import Inventory, Profile
from ioc.ingest import Decoder

NOW_MS = 1_790_000_000_000


@pytest.fixture(scope="session")
def decoder(profiles: dict[str, Profile], inventory: Inventory) -> Decoder:
    """A decoder on the bundled catalog that accepts unknown devices."""
    return Decoder(
        "ioc",
        profiles,
        inventory,
        accept_unknown_devices=True,
        max_clock_skew_ms=600_000,
        max_payload_bytes=65536,
    )
