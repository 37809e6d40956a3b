"""Prometheus text format at /metrics: open alerts always; ingest and rules when they run in
this process (`ioc run`)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ioc.api._context import ApiContext
from ioc.api.deps import Context
from ioc.domain import AlertState, Severity

router = APIRouter(tags=["metrics"])


class _Collector(Collector):
    """Reads the figures at scrape time (no background work between scrapes)."""

    def __init__(self, context: ApiContext) -> None:
        self._context = context

    def collect(self) -> Iterator[Metric]:
        context = self._context
        open_alerts = context.alerts.list_alerts(
            [AlertState.FIRING, AlertState.ACKNOWLEDGED], limit=10_000_000
        )
        alerts = GaugeMetricFamily("ioc_open_alerts", "Open alerts", labels=["severity"])
        for severity in Severity:
            alerts.add_metric(
                [severity.value], sum(1 for alert in open_alerts if alert.severity is severity)
            )
        yield alerts
        yield CounterMetricFamily(
            "ioc_api_token_failures",
            "Requests with a wrong API token, and sign-ins with a wrong password",
            value=context.throttle.failures,
        )
        yield CounterMetricFamily(
            "ioc_api_throttled",
            "Requests refused (429) after too many failed token or password attempts",
            value=context.throttle.throttled,
        )
        figures = context.process_metrics() if context.process_metrics else None
        if figures is None:
            return
        for name, (total, text) in figures.counters.items():
            yield CounterMetricFamily(f"ioc_{name}", text, value=total)
        for name, (level, text) in figures.gauges.items():
            yield GaugeMetricFamily(f"ioc_{name}", text, value=level)
        rejected = CounterMetricFamily(
            "ioc_ingest_rejected", "Messages or metrics refused", labels=["reason"]
        )
        for reason, times in sorted(figures.rejected_by_reason.items()):
            rejected.add_metric([reason], times)
        yield rejected


@router.get("/metrics", response_class=Response)
def metrics(context: Context) -> Response:
    """Prometheus text exposition (no token: scrapers sit on the operations network)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(context))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
