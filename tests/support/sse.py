"""Reading a server-sent event stream as a browser's EventSource does, event by event."""

from __future__ import annotations

import json
from dataclasses import dataclass

import urllib3


@dataclass
class Event:
    """One server-sent event as a browser's EventSource parses it."""

    kind: str
    data: dict[str, object]
    id: str | None


class Stream:
    """A stream being read, event by event."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.response = urllib3.request(
            "GET", url, headers=headers, preload_content=False, timeout=urllib3.Timeout(read=15)
        )
        self._lines = self.response.stream(1)  # byte by byte keeps line boundaries exact
        self._buffer = b""

    def _line(self) -> str:
        while b"\n" not in self._buffer:
            self._buffer += next(self._lines)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def next(self) -> Event:
        """The next event (comments and retry lines skipped)."""
        fields: dict[str, str] = {}
        while True:
            line = self._line()
            if not line:
                if "data" in fields:
                    return Event(fields.get("event", "message"), json.loads(fields["data"]),
                                 fields.get("id"))  # fmt: skip
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def until(self, kind: str, limit: int = 50) -> list[Event]:
        """Events up to and including the first of a kind."""
        seen = []
        for _ in range(limit):
            seen.append(self.next())
            if seen[-1].kind == kind:
                return seen
        raise AssertionError(f"no {kind} event in {limit}: {[e.kind for e in seen]}")

    def close(self) -> None:
        """Hang up (the connection closed, not handed back to the pool: a stream's socket is
        never reused, and a pooled one would outlive the server it came from)."""
        self.response.close()
        self.response.release_conn()
