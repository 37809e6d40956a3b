"""A reload asked of one process reaches them all, and so does a new inventory version.

A request (`ioc rules reload`, the API, SIGHUP) is recorded in the state database; every process
that holds a rule set follows the newest request within a second (`ReloadFollower`) and puts
the files in force through its runtime, which tells every consumer (`Runtime.reload`). One
database for a cluster's nodes, or for the processes sharing one machine's SQLite file, means
one reload for all of them. The pid file lets `ioc rules reload` signal the rules process on
its machine for an immediate reload. The same pass puts the live inventory's newest version
in force (`ioc.app._inventory`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from ioc.app._runtime import Runtime
from ioc.app._supervisor import ServiceError, Worker, ticker
from ioc.config import Settings
from ioc.domain import BadFileError, Caller, Conflict, audited, now_ms
from ioc.state import StateError, StateUnavailable

log = logging.getLogger("ioc.app")

FOLLOW_EVERY_S = 1.0


class NoRulesProcess(ServiceError, Conflict):
    """Nothing to ask: no rules process runs here."""


def pid_path(settings: Settings) -> Path:
    """Where a running rules process writes its pid (`ioc rules reload` signals it)."""
    return settings.data_dir / "ioc-rules.pid"


def request_reload(runtime: Runtime, caller: Caller) -> str:
    """Check the files, record a reload request every process follows (in the audit trail
    too), and signal the rules process of this machine for an immediate reload.

    Raises RuleError or NotifyConfigError for bad files (nothing is recorded), and
    NoRulesProcess when nothing here runs to follow it (off a cluster).
    """
    settings = runtime.settings
    loaded, _notifications = runtime.read_files()
    now = now_ms()
    number = runtime.reload_requests().request(now, caller.name)
    after = {"request": number, "rules": len(loaded)}
    runtime.audit().record(audited(caller, now, "rules.reload", "the rule set", None, after))
    path = pid_path(settings)
    try:
        pid = int(path.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        if settings.clustered:
            return (
                f"recorded reload request {number} ({len(loaded)} rules): every node puts it "
                f"in force within {FOLLOW_EVERY_S:g} s"
            )
        raise NoRulesProcess(
            f"no running rules process to reload ({path}: {exc}); the files are valid"
        ) from exc
    return (
        f"asked process {pid} to reload {len(loaded)} rules (request {number}, for every process)"
    )


class ReloadFollower:
    """Puts the newest inventory version and reload request in force in this process, and
    SIGHUP at once (recorded for the others when no request is new); writes the pid file while
    it runs."""

    name = "reload"

    def __init__(
        self, runtime: Runtime, every_s: float = FOLLOW_EVERY_S, pid_file: bool = True
    ) -> None:
        """Without `pid_file` (`ioc api`), `ioc rules reload` signals the rules process, not
        this one; this one follows the request it records."""
        self._runtime = runtime
        self._inventory = runtime.live_inventory
        self._requests = runtime.reload_requests()
        self._path = pid_path(runtime.settings) if pid_file else None
        self._lock = threading.Lock()
        self._seen = 0
        self._worker: Worker = ticker("reload", every_s, self.follow)
        self._previous: Any = None

    @property
    def failure(self) -> BaseException | None:
        """Why the follower stopped, if it did."""
        return self._worker.failure

    def start(self) -> None:
        """Note the newest request (the files read at start are newer), write the pid file,
        take SIGHUP, and follow."""
        self._seen = self._requests.newest()
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(f"{os.getpid()}\n", encoding="ascii")
        # Signals reach the main thread only; embedded in another thread, reload by request.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGHUP, self._on_hangup)
        self._worker.start()

    def stop(self) -> None:
        """Stop following, give SIGHUP back and remove the pid file."""
        self._worker.stop()
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    def follow(self) -> None:
        """Put a newer inventory version in force, and reload when a newer request is recorded
        (the database away: at a later pass)."""
        try:
            self._inventory.follow()
            newest = self._requests.newest()
        except StateUnavailable as exc:
            log.debug("reload requests and inventory versions unreadable for now: %s", exc)
            return
        if self._take(newest):
            self._reload(f"reload request {newest}")

    def _take(self, newest: int) -> bool:
        with self._lock:
            fresh = newest > self._seen
            self._seen = max(self._seen, newest)
            return fresh

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        try:
            if not self._take(self._requests.newest()):  # a plain `kill -HUP`: tell the others
                self._take(self._requests.request(now_ms(), f"SIGHUP to process {os.getpid()}"))
        except StateError as exc:
            log.warning("SIGHUP reloads this process only (the state database failed: %s)", exc)
        self._reload("SIGHUP")

    def _reload(self, why: str) -> None:
        if not self._runtime.holds_rules:
            return  # `ioc ingest`: no rules to reload (its inventory follows by itself)
        try:
            done = self._runtime.reload()
        except BadFileError as exc:
            log.error("%s refused, what is in force stays:\n%s", why, exc)
            return
        log.info("%s: %s in force", why, done)
