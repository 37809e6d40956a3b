"""A tiny province and a harness that drives the engine with a test clock."""

from __future__ import annotations

import pytest

from ioc.domain import Inventory, Profile
from tests.rules.harness import Harness


@pytest.fixture
def harness(small_inventory: Inventory, profiles: dict[str, Profile]) -> Harness:
    """The bundled default rules over the tiny province, the clock at t = 0."""
    return Harness.default_rules(small_inventory, profiles)
