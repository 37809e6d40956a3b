"""An area's subtree: itself and everything below it."""

from __future__ import annotations

import pytest

from ioc.domain import Inventory


def test_subtree(small_inventory: Inventory) -> None:
    assert small_inventory.subtree("P") == {"P", "D1", "C1", "C2"}
    assert small_inventory.subtree("D1") == {"D1", "C1", "C2"}
    assert small_inventory.subtree("C2") == {"C2"}
    with pytest.raises(KeyError):
        small_inventory.subtree("nowhere")
