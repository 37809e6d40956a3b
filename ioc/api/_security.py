"""What keeps the API's doors: failed token and password attempts throttled per address, and
the security headers every answer carries."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

# Answers to guesses: at most this many failed token or password attempts per address and
# minute.
FAILED_ATTEMPTS_PER_MINUTE = 10

# The wall and the API: everything from this origin, nothing inline, never in a frame.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
    "object-src 'none'"
)
# /docs and /redoc load their viewers from this origin (fastapi-offline's copies) and start
# them with an inline script.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # The wall carries its token in the URL: it must not leave in a Referer header.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
_DOCS = ("/docs", "/redoc")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP answer (streams included)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = _DOCS_CSP if str(scope.get("path", "")).startswith(_DOCS) else _CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _HEADERS if n not in present]
                headers.append((b"content-security-policy", policy.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class TokenThrottle:
    """Failed token and password attempts per client address over a moving minute (the
    `limits` library); an address past the limit is answered 429 until its oldest failure
    leaves the window."""

    def __init__(self, per_minute: int = FAILED_ATTEMPTS_PER_MINUTE) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._lock = threading.Lock()
        self.failures = 0
        self.throttled = 0

    def retry_after_s(self, address: str) -> int | None:
        """Seconds this address must wait, or None if it may try."""
        if self._limiter.test(self._item, address):
            return None
        with self._lock:
            self.throttled += 1
        reset_at = self._limiter.get_window_stats(self._item, address).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def failed(self, address: str) -> None:
        """One more failed attempt from this address."""
        self._limiter.hit(self._item, address)
        with self._lock:
            self.failures += 1
