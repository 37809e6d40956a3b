"""The dead-letter log on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ioc.domain import Rejection, RejectReason
from ioc.state import DeadLetterLog, connect_state


@pytest.fixture
def open_log(state_url: str) -> Iterator[Callable[[int], DeadLetterLog]]:
    logs: list[DeadLetterLog] = []

    def make(limit: int) -> DeadLetterLog:
        logs.append(DeadLetterLog(connect_state(state_url), limit))
        return logs[-1]

    yield make
    for log in logs:
        log.close()


def _rejection(index: int, payload: bytes = b"{bad") -> Rejection:
    return Rejection(
        RejectReason.BAD_JSON,
        f"not JSON #{index}",
        f"ioc/bts/b{index}/telemetry",
        payload,
        1_790_000_000_000 + index,
    )


def test_records_newest_first_and_trims_to_the_limit(
    open_log: Callable[[int], DeadLetterLog],
) -> None:
    log = open_log(10)
    log.record([_rejection(i) for i in range(7)])
    log.record([_rejection(i) for i in range(7, 25)])
    assert log.count() == 10
    recent = log.recent(3)
    assert [letter.detail for letter in recent] == ["not JSON #24", "not JSON #23", "not JSON #22"]
    assert recent[0].payload == b"{bad" and recent[0].reason == "bad_json"


def test_hostile_bytes_are_kept_raw(open_log: Callable[[int], DeadLetterLog]) -> None:
    log = open_log(100)
    nasty = b"\x00\xff'); DROP TABLE dead_letter; --\n" + b"x" * 70_000
    log.record([Rejection(RejectReason.TOO_LARGE, "big", "ioc/\x00/topic", nasty, 1)])
    letter = log.recent(1, reason="too_large")[0]
    assert letter.payload == nasty[:65536]
    assert letter.topic == "ioc/\\x00/topic"
    assert log.recent(5, reason="bad_json") == []
