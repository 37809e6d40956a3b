"""An asyncio event loop on a thread of its own, for the probe's asyncio libraries (pysnmp's
polls and trap receiver, the SIP checks) beside its threaded ICMP rounds and MQTT uplink."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """Start it, hand it coroutines from any thread, stop it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the loop is started and not stopped."""
        return self._loop is not None

    def start(self) -> None:
        """Run a fresh loop on a daemon thread."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self._name, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the loop; its result as a thread-safe future."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError(f"the {self._name} loop is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def stop(self, last: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run `last` (closing transports) if given, then stop and close the loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            if last is not None:
                last.close()
            return
        if last is not None:
            asyncio.run_coroutine_threadsafe(last, loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None
