"""Keeping the live view current: one task polls the alert log and wakes the stream clients."""

from __future__ import annotations

import asyncio
import contextlib

import anyio.to_thread

from ioc.api._live import LiveView


class Changes:
    """Wakes every waiting stream client when the live view has changed."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Wake the current waiters; later waiters wait for the next change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        """Until the next change, or the timeout."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout_s)


async def follow(live: LiveView, changes: Changes, every_s: float) -> None:
    """Poll the log for ever (poll never raises: a failing database makes the view stale)."""
    while True:
        # The database read is blocking I/O: it runs in a worker thread, off the event loop.
        if await anyio.to_thread.run_sync(live.poll):
            changes.notify()
        await asyncio.sleep(every_s)
