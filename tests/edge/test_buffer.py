"""The edge's disk buffer: order, bound, survival of a restart."""

from __future__ import annotations

from pathlib import Path

from ioc.edge import DiskBuffer


def test_the_buffer_is_first_in_first_out_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    buffer = DiskBuffer(path, max_messages=1000)
    for n in range(10):
        buffer.append("t", b"%d" % n)
    first = buffer.oldest(4)
    assert [m.payload for m in first] == [b"0", b"1", b"2", b"3"]
    buffer.remove_through(first[-1].id)
    buffer.close()
    reopened = DiskBuffer(path, max_messages=1000)
    assert len(reopened) == 6
    assert reopened.has_messages.is_set()
    assert [m.payload for m in reopened.oldest(100)] == [b"%d" % n for n in range(4, 10)]
    reopened.remove_through(reopened.oldest(100)[-1].id)
    assert len(reopened) == 0 and not reopened.has_messages.is_set()
    reopened.close()


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "b.db", max_messages=100)
    for n in range(250):
        buffer.append("t", b"%d" % n)
    assert len(buffer) == 100
    assert buffer.dropped == 150
    kept = buffer.oldest(1000)
    assert [m.payload for m in kept] == [b"%d" % n for n in range(150, 250)]
    buffer.close()
