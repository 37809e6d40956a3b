"""The live view: open alerts, device standing and figures, followed from the alert event log.

One poller reads new transitions from the state database and derives from them what changed on
the wall: device events (a device's absolute standing), a figures event, then the transitions
themselves, each carrying its log id. Snapshots (overview, GeoJSON) say which event id they are
current to, so a client can load one and then follow the stream from there; a client that
reconnects with Last-Event-ID gets what it missed from a bounded in-memory backlog, or `reset`
(reload the snapshots) when that has moved on.
"""

from __future__ import annotations

import bisect
import functools
import gzip
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from ioc.alerts import transition_json
from ioc.api._overview import UP, AreaCounts, DeviceStatus, Overview, RuleRoles, status_of
from ioc.domain import (
    Alert,
    AlertState,
    DeliveryError,
    Device,
    Inventory,
    LoggedTransition,
    StageBeat,
)

log = logging.getLogger("ioc.api")

BACKLOG = 20_000  # stream events kept for clients that reconnect
READ_BATCH = 5_000
# The wall calls its data stale when the rules process has not beaten for this long, or has
# taken no telemetry for DATA_STALE_S (a province always has something reporting).
BEAT_STALE_S = 20
DATA_STALE_S = 60


class AlertFeed(Protocol):
    """Where the live view reads alerts from (the state database's AlertRepository)."""

    def open_alerts(self) -> list[Alert]:
        """Every alert not yet resolved."""

    def last_event_id(self) -> int:
        """The newest transition's id."""

    def events_after(self, event_id: int, limit: int) -> list[LoggedTransition]:
        """Transitions after an id, oldest first."""


class Snapshot:
    """A JSON body as served, and its gzip encoding made once on first demand."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    @functools.cached_property
    def gzipped(self) -> bytes:
        """The body gzipped (level 1: 20 MB of GeoJSON in ~0.1 s, still ~10x smaller)."""
        return gzip.compress(self.body, compresslevel=1, mtime=0)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One server-sent event: its type, JSON data, and the log id (transitions only)."""

    kind: str
    data: str
    event_id: int | None = None


class LiveView:
    """The wall's current picture; `poll` from one thread, read from any."""

    def __init__(
        self,
        inventory: Callable[[], Inventory],
        roles: Callable[[], RuleRoles],
        feed: AlertFeed,
        clock: Callable[[], int],
        beats: Callable[[], dict[str, StageBeat]] | None = None,
        backlog: int = BACKLOG,
        alerts_clock: Callable[[], int] | None = None,
    ) -> None:
        """`clock` is the wall clock the heartbeats are judged on; `alerts_clock` the one alerts
        are stamped with (a demo's simulated clock; the same by default), told in heartbeats so
        the wall can say how old an incident is."""
        self._inventory_in_force = inventory
        self._inventory = inventory()
        self._roles = roles
        self._feed = feed
        self._beats = beats
        self._clock = clock
        self._alerts_clock = alerts_clock or clock
        self._backlog = backlog
        self._lock = threading.Lock()
        self._open: dict[str, dict[int, Alert]] = {}
        self._overview = Overview(self._inventory)
        self._last_id = 0
        self._floor = 0  # resuming from an id below this needs a reset
        self._cursors: list[float] = []  # parallel to _events, ascending
        self._events: list[StreamEvent] = []
        self._version = 0
        self._cache: dict[object, Snapshot] = {}
        self._figures = b""
        self._feed_ok = True
        self._rules_beat: StageBeat | None = None
        self._features = _features(self._inventory)
        self._loaded = False
        self.inventory_changes = 0  # how many times the inventory changed under the view

    # -- following the log -----------------------------------------------------------------

    def load(self) -> None:
        """Read the open alerts and where the log stands (raises DeliveryError)."""
        last_id = self._feed.last_event_id()
        open_alerts = self._feed.open_alerts()
        with self._lock:
            for alert in open_alerts:
                self._open.setdefault(alert.device_id, {})[alert.id] = alert
            for device_id in self._open:
                self._restand(device_id)
            self._last_id = self._floor = last_id
            self._figures = self._figures_json()
            self._version += 1
            self._cache.clear()
            self._loaded = True

    def poll(self) -> bool:
        """Take new transitions from the log; whether anything changed. Never raises."""
        try:
            if not self._loaded:
                self.load()
            changed = self._follow_inventory()
            while batch := self._feed.events_after(self._last_id, READ_BATCH):
                self._take(batch)
                changed = True
            if self._beats is not None:
                self._rules_beat = self._beats().get("rules")
        except DeliveryError as exc:
            if self._feed_ok:
                log.error("cannot follow the alert log, the wall goes stale: %s", exc)
            self._feed_ok = False
            return False
        if not self._feed_ok:
            log.info("following the alert log again")
            self._feed_ok = True
        return changed

    def _follow_inventory(self) -> bool:
        """Draw a changed inventory: devices added, moved and retired (clients reload)."""
        inventory = self._inventory_in_force()
        if inventory is self._inventory:
            return False
        features = _features(inventory)  # outside the lock: 100,000 devices take a while
        overview = Overview(inventory)
        with self._lock:
            self._inventory, self._overview, self._features = inventory, overview, features
            for device_id in list(self._open):
                self._restand(device_id)
            self._figures = self._figures_json()
            self.inventory_changes += 1
            self._version += 1
            self._cache.clear()
        return True

    def _take(self, batch: list[LoggedTransition]) -> None:
        touched: dict[str, None] = {}
        for logged in batch:
            alert = logged.current
            held = self._open.setdefault(alert.device_id, {})
            if alert.state is AlertState.RESOLVED:
                held.pop(alert.id, None)
            else:
                held[alert.id] = alert
            touched[alert.device_id] = None
        with self._lock:
            derived = []
            for device_id in touched:
                if self._restand(device_id):
                    derived.append(self._device_event(device_id))
            figures = self._figures_json()
            if figures != self._figures:
                self._figures = figures
                derived.append(StreamEvent("figures", figures.decode()))
            # Derived events go first, under the batch's first id: a client resuming from any
            # id in the batch has had them, or gets them again (they are absolute, not deltas).
            first = batch[0].event_id - 0.5
            for event in derived:
                self._append(first, event)
            for logged in batch:
                data = orjson.dumps(
                    transition_json(logged.transition) | {"event_id": logged.event_id}
                )
                self._append(
                    logged.event_id, StreamEvent("transition", data.decode(), logged.event_id)
                )
            self._last_id = batch[-1].event_id
            if derived:  # snapshots of an unchanged picture stay valid, their event id too
                self._version += 1
                self._cache.clear()
            self._trim()

    def _restand(self, device_id: str) -> bool:
        held = self._open.get(device_id, {})
        if not held:
            self._open.pop(device_id, None)
        if device_id not in self._inventory.devices:
            return False  # an alert of a device since removed from the inventory
        return self._overview.set(device_id, status_of(held.values(), self._roles()))

    def _append(self, cursor: float, event: StreamEvent) -> None:
        self._cursors.append(cursor)
        self._events.append(event)

    def _trim(self) -> None:
        excess = len(self._events) - self._backlog
        if excess > self._backlog // 4:  # trim in chunks, not on every event
            # Up to the last dropped event: a dropped device event of a batch makes resuming
            # from just before that batch impossible too.
            self._floor = math.ceil(self._cursors[excess - 1])
            del self._cursors[:excess]
            del self._events[:excess]
            # A snapshot must name an id clients can still resume from.
            self._version += 1
            self._cache.clear()

    def _device_event(self, device_id: str) -> StreamEvent:
        status = self._overview.status(device_id)
        data = {
            "id": device_id,
            "class": self._inventory.devices[device_id].device_class,
            "state": status.state,
            "worst_severity": status.worst.value if status.worst else None,
        }
        return StreamEvent("device", orjson.dumps(data).decode())

    def _figures_json(self) -> bytes:
        # No event id in it: equal figures must compare equal, or every batch would send them.
        return orjson.dumps(
            {"figures": self._overview.figures(), "classes": self._overview.classes()}
        )

    # -- reading ---------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether the open alerts have been read (until then the picture would be a lie)."""
        return self._loaded

    @property
    def last_event_id(self) -> int:
        """The newest transition taken in."""
        return self._last_id

    def since(self, event_id: int) -> list[StreamEvent] | None:
        """Events after a transition id; None when they are no longer all here (reset)."""
        with self._lock:
            if event_id < self._floor or event_id > self._last_id:
                return None
            start = bisect.bisect_right(self._cursors, event_id)
            return self._events[start:]

    def status(self, device_id: str) -> DeviceStatus:
        """A device's standing."""
        with self._lock:
            return self._overview.status(device_id)

    def standing(self) -> dict[str, DeviceStatus]:
        """Every device not plainly up."""
        with self._lock:
            return self._overview.standing()

    def figures(self) -> bytes:
        """The figures event's data: figures and class counts."""
        with self._lock:
            return self._figures

    def overview_json(self, max_area_depth: int | None) -> Snapshot:
        """The overview as JSON, with the event id it is current to."""
        key = ("overview", max_area_depth)
        with self._lock:
            if key not in self._cache:
                body = self._overview.as_json(max_area_depth) | {"event_id": self._last_id}
                self._cache[key] = Snapshot(orjson.dumps(body))
            return self._cache[key]

    def areas(self) -> list[AreaCounts]:
        """Every area with devices, and their counts."""
        with self._lock:
            return self._overview.areas()

    def geojson(self) -> Snapshot:
        """Every device as a GeoJSON point with state and worst severity (and the event id)."""
        with self._lock:
            cached = self._cache.get("geojson")
            if cached is not None:
                return cached
            version, last_id, standing = self._version, self._last_id, self._overview.standing()
        # Built outside the lock: 100,000 features take a while, and the stream must not wait.
        parts = []
        for device_id, head in self._features.items():
            status = standing.get(device_id)
            parts.append(head + (_tail(status) if status else _UP_TAIL))
        snapshot = Snapshot(
            b'{"type":"FeatureCollection","event_id":%d,"features":[' % last_id
            + b",".join(parts)
            + b"]}"
        )
        with self._lock:
            if self._version == version:
                self._cache["geojson"] = snapshot
        return snapshot

    def health(self) -> dict[str, object]:
        """Whether the picture is current, and if not, why."""
        now = self._clock()
        reasons = []
        beat = self._rules_beat
        if not self._feed_ok:
            reasons.append("state_db")
        if beat is None or now - beat.at_ms > BEAT_STALE_S * 1000:
            reasons.append("rules_silent")
        elif not beat.hearing:
            reasons.append("not_hearing")
        elif beat.last_item_ms is None or now - beat.last_item_ms > DATA_STALE_S * 1000:
            reasons.append("no_data")
        return {
            "now_ms": now,
            "alerts_now_ms": self._alerts_clock(),
            "event_id": self._last_id,
            "rules_beat_ms": beat.at_ms if beat else None,
            "last_data_ms": beat.last_item_ms if beat else None,
            "stale": bool(reasons),
            "reasons": reasons,
        }


def _features(inventory: Inventory) -> dict[str, bytes]:
    return {d.id: _feature_head(d) for d in inventory.devices.values()}


def _feature_head(device: Device) -> bytes:
    """A device's GeoJSON feature up to its state (which the view appends)."""
    head = orjson.dumps(
        {
            "type": "Feature",
            "id": device.id,
            # A device with no known position is listed without a place (GeoJSON's null).
            "geometry": None
            if device.lat is None or device.lon is None
            else {"type": "Point", "coordinates": [device.lon, device.lat]},
            "properties": {
                "name": device.name,
                "class": device.device_class,
                "area_id": device.area_id,
            },
        }
    )
    return head[:-2] + b","  # reopen the properties object


def _tail(status: DeviceStatus) -> bytes:
    severity = orjson.dumps(status.worst.value if status.worst else None)
    return b'"state":"%s","worst_severity":%s}}' % (status.state.encode(), severity)


_UP_TAIL = _tail(UP)
