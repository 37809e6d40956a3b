"""Planning and delivery over the real state database (SQLite and PostgreSQL) and a real HTTP
receiver: announced once after the grouping wait, escalations on a driven clock, retries while
the receiver is down with no duplicate when it is back, refusals, a restart mid-delivery, and a
storm held to an hourly limit plus one summary."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import yaml

from ioc.domain import (
    Alert,
    AlertState,
    AlertTransition,
    Inventory,
    NotificationKind,
    NotificationStatus,
    Severity,
    TransitionKind,
)
from ioc.notify import (
    SIGNATURE_HEADER,
    Deliverer,
    NotifyConfig,
    Planner,
    Router,
    WebhookSender,
    fold,
    load_notify_config,
)
from ioc.state import AlertRepository, Outbox, connect_state
from tests.support.clock import VIETNAM, ManualClock
from tests.support.http_receiver import HttpReceiver

TESTDATA = Path(__file__).parent / "testdata"
RULES = ["bts.battery_low", "device.down", "netgw.wan_down"]
SECRET = b"test-secret"
T0 = 1_793_520_000_000  # 2026-11-01 08:00 in Ho Chi Minh City: an's shift begins
MINUTE = 60_000


def _config(
    tmp_path: Path, inventory: Inventory, receiver: HttpReceiver, **limits: object
) -> NotifyConfig:
    """The test file with every channel a webhook to the receiver (one URL per person)."""
    document = yaml.safe_load((TESTDATA / "notify.yaml").read_text(encoding="utf-8"))
    for person in document["people"]:
        person["contacts"]["webhook"] = f"{receiver.url}/{person['id']}"
    for team in document["teams"]:
        team["channels"] = ["webhook"]
    document["limits"] = {"per_hour": 20, "group_wait": "30s", **limits}
    path = tmp_path / "notify.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_notify_config(path, inventory, RULES, VIETNAM)


class World:
    """Alerts, outbox, planner and deliverer over one state database."""

    def __init__(self, state_url: str, config: NotifyConfig, inventory: Inventory) -> None:
        engine = connect_state(state_url)
        self.alerts = AlertRepository(engine)
        self.outbox = Outbox(engine)
        self.clock = ManualClock(T0)
        self.inventory = inventory
        self.planner = Planner(config, Router(config, inventory))
        self.deliverer = Deliverer(
            config, self.outbox, self.alerts, {"webhook": WebhookSender(SECRET)}, self.clock
        )

    def fire(
        self,
        device: str,
        rule: str = "bts.battery_low",
        severity: Severity = Severity.MAJOR,
        root_id: int | None = None,
    ) -> Alert:
        d = self.inventory.devices[device]
        alert = Alert(
            0, rule, device, d.device_class, d.area_id, severity, "x", "y",
            AlertState.FIRING, "Ắc quy yếu", "Battery low", f"{d.name}: ắc quy 45 V",
            f"{d.name}: battery at 45 V", {}, self.clock.now, self.clock.now, root_id=root_id,
        )  # fmt: skip
        saved = self.alerts.create(alert, TransitionKind.FIRED, "rules", "")
        self.plan(AlertTransition(TransitionKind.FIRED, saved, self.clock.now, "rules"))
        return saved

    def change(self, alert: Alert, kind: TransitionKind, **fields: object) -> Alert:
        changed = dataclasses.replace(alert, **fields)  # type: ignore[arg-type]
        transition = AlertTransition(kind, changed, self.clock.now, "someone")
        self.alerts.record([transition])
        self.plan(transition)
        return changed

    def plan(self, transition: AlertTransition) -> int:
        return self.outbox.record(self.planner.for_transition(transition), self.clock.now)

    def tick(self) -> int:
        """What a notifier does each second: plan escalations and repeats, send what is due."""
        self.outbox.record(
            self.planner.for_open(self.alerts.open_alerts(), self.clock.now), self.clock.now
        )
        return self.deliverer.run_once()


@pytest.fixture
def world(
    state_url: str, tmp_path: Path, small_inventory: Inventory, receiver: HttpReceiver
) -> Iterator[World]:
    made = World(state_url, _config(tmp_path, small_inventory, receiver), small_inventory)
    yield made
    made.alerts.close()


def _bodies(receiver: HttpReceiver) -> list[dict[str, object]]:
    return [orjson.loads(r.body) for r in receiver.received]


def test_an_outage_is_one_signed_message_after_the_grouping_wait(
    world: World, receiver: HttpReceiver
) -> None:
    root = world.fire("gw1", "netgw.wan_down")
    world.fire("bts1", "device.down", root_id=root.id)  # told through its root
    world.fire("vc1", "device.down", root_id=root.id)
    world.tick()
    assert receiver.received == []  # collecting the affected devices first
    world.clock.now += 30_000
    world.tick()
    [request] = receiver.received
    assert request.path == "/an"  # on duty at 08:00 on the 1st
    assert (
        request.headers[SIGNATURE_HEADER]
        == "sha256=" + hmac.new(SECRET, request.body, hashlib.sha256).hexdigest()
    )
    body = orjson.loads(request.body)
    assert request.headers["Idempotency-Key"] == body["key"]
    assert body["affected"] == ["bts1", "vc1"] and body["alert_id"] == root.id
    assert "2 thiết bị bị ảnh hưởng: bts1, vc1" in str(body["text"])
    opened = datetime.fromtimestamp(root.opened_at_ms / 1000, VIETNAM)  # the file's zone
    assert f"từ {opened:%H:%M %d/%m/%Y} (UTC+07:00)" in str(body["text"])  # local, with offset
    assert len(str(body["short"])) <= 160 and str(body["short"]).isascii()
    # Planned again (a restarted notifier re-reading the log): nothing new, nothing re-sent.
    again = AlertTransition(TransitionKind.FIRED, root, root.opened_at_ms, "rules")
    assert world.plan(again) == 0
    world.clock.now += 60_000
    world.tick()
    assert len(receiver.received) == 1


def test_escalation_follows_the_clock_until_someone_acknowledges(
    world: World, receiver: HttpReceiver
) -> None:
    alert = world.fire("bts2")
    world.clock.now += 30_000
    world.tick()
    assert [r.path for r in receiver.received] == ["/an"]
    world.clock.now = T0 + 15 * MINUTE
    world.tick()  # level 1: the whole district team
    assert sorted(r.path for r in receiver.received[1:]) == ["/an", "/binh"]
    assert {b["kind"] for b in _bodies(receiver)[1:]} == {"escalated"}
    world.change(alert, TransitionKind.ACKNOWLEDGED, state=AlertState.ACKNOWLEDGED)
    world.clock.now = T0 + 50 * MINUTE
    world.tick()  # level 2 (the NOC) would be due, but someone has taken it on
    assert len(receiver.received) == 3
    world.change(alert, TransitionKind.RESOLVED, state=AlertState.RESOLVED)
    world.tick()
    resolved = [b for b in _bodies(receiver) if b["kind"] == "resolved"]
    # Everyone the route could have reached hears it is over; the NOC never got it, so not them.
    assert sorted(str(b["person"]) for b in resolved) == ["an", "binh"]


def test_a_receiver_down_is_retried_with_backoff_and_nothing_is_sent_twice(
    world: World, receiver: HttpReceiver
) -> None:
    world.fire("bts2")
    receiver.stop()
    world.clock.now += 30_000
    world.tick()
    [queued] = world.outbox.listing()
    assert (queued.status, queued.attempts) == (NotificationStatus.QUEUED, 1)
    assert "unreachable" in (queued.last_error or "")
    assert queued.due_ms == world.clock.now + 5_000  # the first backoff
    receiver.answers = [503]  # back, but overloaded once
    receiver.start()
    world.clock.now += 5_000
    world.tick()
    [retried] = world.outbox.listing()
    assert (retried.status, retried.attempts) == (NotificationStatus.QUEUED, 2)
    assert retried.due_ms == world.clock.now + 10_000
    world.clock.now += 10_000
    world.tick()
    [sent] = world.outbox.listing()
    assert (sent.status, sent.attempts) == (NotificationStatus.SENT, 3)
    assert len(receiver.received) == 1
    world.clock.now += MINUTE
    world.tick()
    assert len(receiver.received) == 1


def test_an_end_follows_a_start_still_on_its_way_instead_of_being_dropped(
    world: World, receiver: HttpReceiver
) -> None:
    """The start's attempt failed (or was cut by a takeover) and waits for its retry when the
    alert ends: the end waits for it, and the person hears both, in order (a soak once saw the
    end dropped as news to someone never told of the start, then the start sent)."""
    alert = world.fire("bts2")
    receiver.stop()
    world.clock.now += 30_000
    world.tick()  # the start: attempted, to be tried again in 5 s
    world.change(alert, TransitionKind.RESOLVED, state=AlertState.RESOLVED,
                 resolved_at_ms=world.clock.now)  # fmt: skip
    world.tick()  # the end is due now: it must not be skipped
    statuses = {n.kind: n.status for n in world.outbox.listing()}
    assert statuses[NotificationKind.RESOLVED] is NotificationStatus.QUEUED
    receiver.start()
    for _ in range(6):  # the backoffs: 5 s, then 10 s
        world.clock.now += 5_000
        world.tick()
    kinds = [orjson.loads(r.body)["kind"] for r in receiver.received]
    assert kinds == ["fired", "resolved"]
    end = orjson.loads(receiver.received[1].body)["text"]
    assert "kéo dài 30 giây" in end  # how long it lasted, as Vietnamese says it
    told = {n.kind: n.status for n in world.outbox.listing()}
    assert (
        told[NotificationKind.FIRED] is told[NotificationKind.RESOLVED] is NotificationStatus.SENT
    )


def test_an_escalation_on_its_way_when_the_alert_ends_is_followed_by_the_end(
    world: World, receiver: HttpReceiver
) -> None:
    """An escalation attempted (and perhaps received) before the alert ended goes out again
    under its key and the end follows it: whoever may have been called in hears it is over."""
    alert = world.fire("bts2")
    world.clock.now += 30_000
    world.tick()  # the start, to an on duty
    receiver.stop()
    world.clock.now = T0 + 15 * MINUTE
    world.tick()  # the district team called in: attempted, to be tried again
    world.change(alert, TransitionKind.RESOLVED, state=AlertState.RESOLVED,
                 resolved_at_ms=world.clock.now)  # fmt: skip
    receiver.start()
    for _ in range(6):  # the backoffs: 5 s, then 10 s
        world.clock.now += 5_000
        world.tick()
    told = sorted((str(b["person"]), str(b["kind"])) for b in _bodies(receiver))
    assert told == [
        ("an", "escalated"), ("an", "fired"), ("an", "resolved"),
        ("binh", "escalated"), ("binh", "resolved"),
    ]  # fmt: skip
    kinds_to_binh = [b["kind"] for b in _bodies(receiver) if b["person"] == "binh"]
    assert kinds_to_binh == ["escalated", "resolved"]  # in that order
    # One due but not yet attempted when the alert ended is dropped: nobody is called in.
    second = world.fire("bts1")
    world.clock.now += 30_000
    world.tick()
    world.clock.now += 15 * MINUTE
    due = world.planner.for_open(world.alerts.open_alerts(), world.clock.now)
    assert {n.kind for n in due} == {NotificationKind.ESCALATED}
    world.outbox.record(due, world.clock.now)
    world.change(second, TransitionKind.RESOLVED, state=AlertState.RESOLVED,
                 resolved_at_ms=world.clock.now)  # fmt: skip
    world.tick()
    about_second = [b for b in _bodies(receiver) if b["alert_id"] == second.id]
    assert [(b["person"], b["kind"]) for b in about_second] == [("an", "fired"), ("an", "resolved")]
    escalations = [(n.person_id, n.status, n.last_error) for n in world.outbox.listing()
                   if n.alert_id == second.id and n.kind is NotificationKind.ESCALATED]  # fmt: skip
    reason = f"alert #{second.id} is resolved: no need to escalate or repeat"
    assert sorted(escalations) == [
        ("an", NotificationStatus.SKIPPED, reason), ("binh", NotificationStatus.SKIPPED, reason),
    ]  # fmt: skip


def test_a_refusal_is_not_retried_and_a_crash_mid_delivery_resumes(
    world: World, receiver: HttpReceiver
) -> None:
    world.fire("bts2")
    receiver.answers = [400]
    world.clock.now += 30_000
    world.tick()
    [failed] = world.outbox.listing()
    assert failed.status is NotificationStatus.FAILED and "400" in (failed.last_error or "")
    world.clock.now += MINUTE
    world.tick()
    assert receiver.received == []  # refused is final

    other = world.fire("bts1")
    world.clock.now += 30_000
    [due] = world.outbox.due(world.clock.now)
    assert world.outbox.begin_attempt(due.id)  # ... and the process dies here
    assert not world.outbox.begin_attempt(due.id)  # nobody else may take it meanwhile
    assert world.outbox.due(world.clock.now) == []
    assert world.outbox.resume_interrupted() == 1  # at the next start
    world.tick()
    assert [orjson.loads(r.body)["alert_id"] for r in receiver.received] == [other.id]


def test_a_storm_of_a_thousand_alerts_is_a_bounded_number_of_messages(
    world: World, receiver: HttpReceiver
) -> None:
    # Minor alerts go to the NOC (one engineer, no escalation), at most 20 messages an hour.
    for i in range(1000):
        world.fire(("bts1", "bts2", "vc1", "vc2")[i % 4], f"storm.{i}", Severity.MINOR)
    world.clock.now += 30_000
    while world.tick():
        pass
    statuses = [n.status for n in world.outbox.listing(limit=10_000)]
    assert statuses.count(NotificationStatus.SENT) == 20
    assert statuses.count(NotificationStatus.HELD) == 980
    world.clock.now = T0 + 3_600_000  # the hour is over: one summary of the rest
    while world.tick():
        pass
    kinds = [orjson.loads(r.body)["kind"] for r in receiver.received]
    assert kinds == ["fired"] * 20 + ["summary"]
    assert orjson.loads(receiver.received[-1].body)["held"] == 980
    assert {r.path for r in receiver.received} == {"/cuong"}


def test_folding_vietnamese_for_sms() -> None:
    assert fold("Mất điện lưới tại trạm Đông Hà") == "Mat dien luoi tai tram Dong Ha"
