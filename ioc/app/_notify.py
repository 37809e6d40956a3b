"""The notifier: follows the alert log, records what to send in the outbox, sends it.

One thread, a pass a second: plan from new transitions (saving its place in the log in the
same transaction as the plans), plan escalations and repeats for what is still open, deliver
what is due. It reads only the state database, so it runs beside the rules (`ioc run`) or on
its own, and a restart continues where the last pass left off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ioc.alerts import MqttAlertPublisher
from ioc.app._catalog import Catalog
from ioc.app._reports import report_writer
from ioc.app._supervisor import ServiceError
from ioc.config import Settings
from ioc.domain import AlertTransition, PlannedNotification, now_ms
from ioc.notify import (
    AckLinks,
    Channel,
    Deliverer,
    FlapHold,
    NotifyConfig,
    NotifyConfigError,
    Planner,
    Router,
    Sender,
    WebhookSender,
    load_notify_config,
)
from ioc.notify._channels import EmailSender, MqttSender, SmsSender
from ioc.reports import MEETING_RULE
from ioc.rules import LoadedRule
from ioc.state import (
    Fenced,
    Guard,
    StateRefused,
    StateUnavailable,
)

if TYPE_CHECKING:
    from ioc.app._runtime import Runtime

log = logging.getLogger("ioc.notify")

PASS_EVERY_S = 1.0
LOG_BATCH = 1000


def load_notifications(
    settings: Settings, catalog: Catalog, rules: Sequence[LoadedRule]
) -> NotifyConfig | None:
    """The notification file the settings name, checked against the catalog and `rules`
    (None when there is none)."""
    if settings.notify_config is None:
        return None
    return load_notify_config(
        settings.notify_config, catalog.inventory, rule_ids_of(rules), settings.zone
    )


def rule_ids_of(rules: Sequence[LoadedRule]) -> list[str]:
    """The rules a notification file may route: the rule set's and the meeting rule (raised
    by the rules service)."""
    return [rule.info.id for rule in rules] + [MEETING_RULE.id]


def flap_hold(rules: Sequence[LoadedRule]) -> FlapHold:
    """The rule set's flapping rules, holding back its outage rules' notifications."""
    return FlapHold(
        frozenset(r.info.id for r in rules if r.flapping),
        frozenset(r.info.id for r in rules if r.info.outage),
    )


def build_senders(
    settings: Settings, config: NotifyConfig, publisher: MqttAlertPublisher | None
) -> dict[str, Sender]:
    """A sender for each channel the teams use; NotifyConfigError for one not configured."""
    used = {channel for team in config.spec.teams for channel in team.channels}
    senders: dict[str, Sender] = {}
    missing = []
    for channel in sorted(used):
        if channel is Channel.WEBHOOK:
            if settings.notify_webhook_secret is None:
                missing.append("webhook needs IOC_NOTIFY_WEBHOOK_SECRET (to sign the bodies)")
                continue
            secret = settings.notify_webhook_secret.get_secret_value().encode()
            senders[channel] = WebhookSender(secret)
        elif channel is Channel.EMAIL:
            if settings.smtp_url is None:
                missing.append("email needs IOC_SMTP_URL")
                continue
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ca_file = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            senders[channel] = EmailSender(settings.smtp_url, password, settings.smtp_from, ca_file)
        elif channel is Channel.SMS:
            if settings.sms_url is None:
                missing.append("sms needs IOC_SMS_URL")
                continue
            token = settings.sms_token.get_secret_value() if settings.sms_token else None
            senders[channel] = SmsSender(settings.sms_url, settings.sms_body, token)
        elif channel is Channel.MQTT and publisher is not None:
            senders[channel] = MqttSender(publisher.publish_confirmed, settings.topic_prefix)
    if missing:
        raise NotifyConfigError(
            "\n".join(f"{config.path}: teams use {problem}" for problem in missing)
        )
    return senders


def ack_links(
    settings: Settings, config: NotifyConfig, clock: Callable[[], int] = now_ms
) -> AckLinks | None:
    """Acknowledgement links, when IOC_NOTIFY_LINK_SECRET is set."""
    if settings.notify_link_secret is None:
        return None
    secret = settings.notify_link_secret.get_secret_value()
    return AckLinks(secret, config, settings.notify_link_ttl_s, clock)


# A sender for each channel a notification file's teams use (NotifyConfigError for one that
# is not configured): called again when a reload brings a new file.
SendersFor = Callable[[NotifyConfig], Mapping[str, Sender]]


class NotifyService:
    """The notifier as one supervised thread; `failure` is set if it had to stop.

    It follows the runtime's notification file: a reload takes effect at the next pass.
    """

    name = "notify"

    def __init__(
        self,
        runtime: Runtime,
        senders_for: SendersFor,
        clock: Callable[[], int] = now_ms,
        leader_guard: Guard | None = None,
    ) -> None:
        """`leader_guard` fences planning and sending on a cluster (`ioc.state.fence`)."""
        self.alerts = runtime.alerts()
        self.outbox = runtime.outbox(leader_guard)
        self._runtime = runtime
        self._senders_for = senders_for
        self._clock = clock
        config = runtime.notifications.get()
        if config is None:
            raise ServiceError("the notifier needs a notification file (IOC_NOTIFY_CONFIG)")
        self._planner, self._deliverer = self._plan_and_deliver(config)
        self._reloaded = False  # set by a reload, taken up by the thread at its next pass
        self._cancels: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify")
        self._failing = False
        self._recorded: set[str] = set()  # escalation and repeat keys already in the outbox
        self._reported: set[str] = set()  # scheduled report keys already in the outbox
        self.failure: BaseException | None = None

    def _plan_and_deliver(self, config: NotifyConfig) -> tuple[Planner, Deliverer]:
        runtime = self._runtime
        hold = flap_hold(runtime.rules.get())
        planner = Planner(config, Router(config, runtime.catalog.inventory), hold)
        links = ack_links(runtime.settings, config, self._clock)
        deliverer = Deliverer(
            config, self.outbox, self.alerts, self._senders_for(config), self._clock,
            links.url if links else None, report_writer(runtime, config.zone), hold,
        )  # fmt: skip
        return planner, deliverer

    def _on_reload(self, _new: object) -> None:
        self._reloaded = True

    def start(self) -> None:
        """Resume what a crash interrupted, find the place in the log, and start."""
        resumed = self.outbox.resume_interrupted()
        if resumed:
            log.info("%d notifications interrupted by a stop will be tried again", resumed)
        if self.outbox.cursor() is None:
            # First run: what happened before notifications were set up is not news.
            self.outbox.record([], self._clock(), cursor=self.alerts.last_event_id())
        # The file says whom to tell; the rules which rules hold back a flapping device's.
        self._cancels = [
            self._runtime.notifications.subscribe(self._on_reload),
            self._runtime.rules.subscribe(self._on_reload),
        ]
        self._thread.start()

    def stop(self) -> None:
        """Finish the pass in progress and stop."""
        for cancel in self._cancels:
            cancel()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def run_pass(self) -> None:
        """Plan from new transitions and from what is still open, then deliver what is due."""
        self._follow_reload()
        cursor = self.outbox.cursor() or 0
        while batch := self.alerts.events_after(cursor, LOG_BATCH):
            planned = [p for e in batch for p in self._planner.for_transition(e.transition)]
            planned += self._after_flapping([e.transition for e in batch])
            cursor = batch[-1].event_id
            self.outbox.record(planned, self._clock(), cursor=cursor)
        now = self._clock()
        # An escalation stays due from its moment on: record it once, not again every second.
        due = self._planner.for_open(self.alerts.open_alerts(), now)
        # A report's key is the same all period long: record it once per process (the outbox
        # keeps it once across processes).
        reports = [p for p in self._planner.for_reports(now) if p.key not in self._reported]
        if reports:
            self.outbox.record(reports, now)
            self._reported |= {p.key for p in reports}
        self.outbox.record([p for p in due if p.key not in self._recorded], now)
        self._recorded = {p.key for p in due}
        self._deliverer.run_once()

    def _follow_reload(self) -> None:
        if not self._reloaded:
            return
        self._reloaded = False
        config = self._runtime.notifications.get()
        if config is None:
            return
        try:
            self._planner, self._deliverer = self._plan_and_deliver(config)
        except NotifyConfigError as exc:
            log.error("the new notification file is not used: %s", exc)
            return
        log.info("notifications follow %s as reloaded", config.path)

    def _after_flapping(self, transitions: list[AlertTransition]) -> list[PlannedNotification]:
        """Announce again what a device that stopped flapping still has open."""
        planned = []
        for transition in transitions:
            device = self._planner.flapping_over(transition)
            if device is not None:
                still_open = self.alerts.open_on_device(device)
                planned += self._planner.for_stable(transition.alert, still_open, transition.at_ms)
        return planned

    def _run(self) -> None:
        try:
            while not self._stop.wait(PASS_EVERY_S):
                try:
                    self.run_pass()
                except StateUnavailable as exc:
                    if isinstance(exc, Fenced):  # stopped at this node's next lease step
                        log.warning("notifications stop on this node: %s", exc)
                    elif not self._failing:
                        log.error("notifications wait for the state database: %s", exc)
                    self._failing = True
                    continue
                if self._failing:
                    log.info("notifications resumed")
                    self._failing = False
        except StateRefused as exc:
            # The same pass would fail the same way every second: stop and say so, so that the
            # process ends with the reason instead of retrying for ever.
            self.failure = ServiceError(f"needs an operator: {exc}")
            log.error("the notifier stopped: the state database refused its work: %s", exc)
        except BaseException as exc:  # supervised: recorded, logged once, and the service stops
            self.failure = exc
            log.exception("the notifier stopped")
