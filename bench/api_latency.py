"""The wall's API at province scale: overview, devices and GeoJSON latency with a 100,000-device
inventory, and the live stream fanned out to 100 clients.

Everything goes through a real uvicorn server over loopback HTTP with gzip, as a browser sees it.
Baselines in the same run: `/healthz` on the same server (the cost of HTTP, auth-free routing and
the event loop) for the snapshot routes, and one stream client for the fan-out.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import orjson
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.api import ApiContext, RuleRoles, RulesControl
from ioc.app import ApiOptions, ApiServer
from ioc.broker import free_port
from ioc.config import load_settings
from ioc.domain import (
    DEFAULT_ZONE,
    Alert,
    AlertState,
    AlertTransition,
    Inventory,
    Role,
    Severity,
    now_ms,
    zone_named,
)
from ioc.domain import TransitionKind as Kind
from ioc.inventory import (
    FleetShape,
    bundled_profiles_dir,
    generate_inventory,
    load_inventory,
    load_profiles,
    write_inventory,
)
from ioc.state import AlertRepository, HeartbeatStore, TokenStore, connect_state

ROLES = RuleRoles(down=frozenset({"device.down"}), power=frozenset({"bts.mains_failure"}))
GZIP = {"Accept-Encoding": "gzip"}
FAN_OUT_RULE = "bts.door_open"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _alert(inventory: Inventory, device_id: str, rule: str, now: int) -> Alert:
    device = inventory.devices[device_id]
    return Alert(
        0, rule, device_id, device.device_class, device.area_id, Severity.MAJOR, "x", "y",
        AlertState.FIRING, "t", "t", "m", "m", {}, now, now,
    )  # fmt: skip


class Churn:
    """Alerts firing and resolving in the background, as a busy province makes them."""

    def __init__(self, repository: AlertRepository, inventory: Inventory, per_s: float) -> None:
        self._repository = repository
        self._inventory = inventory
        self._every_s = 1 / per_s
        self._open_for = round(per_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        # Each alert stays open about a second, so every poll of the API sees devices change.
        open_alerts: deque[Alert] = deque()
        for device_id in list(self._inventory.devices)[50_000:]:
            if self._stop.wait(self._every_s):
                return
            fired = _alert(self._inventory, device_id, "device.down", now_ms())
            open_alerts.append(self._repository.create(fired, Kind.FIRED, "bench", ""))
            if len(open_alerts) > self._open_for:
                resolved = dataclasses.replace(open_alerts.popleft(), state=AlertState.RESOLVED)
                self._repository.record([AlertTransition(Kind.RESOLVED, resolved, now_ms(), "")])

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(http: urllib3.PoolManager, url: str, token: str, count: int) -> list[float]:
    """Milliseconds per request, one after another on a kept-alive connection."""
    headers = {**GZIP, "Authorization": f"Bearer {token}"}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = http.request("GET", url, headers=headers)
        assert response.status == 200, (url, response.status)
        times.append((time.perf_counter() - started) * 1000)
    return times


def fan_out(base: str, token: str, repository: AlertRepository, inventory: Inventory,
            clients: int, alerts: int, first_device: int) -> list[float]:  # fmt: skip
    """Milliseconds from an alert's commit to each client's receipt of its transition."""
    received: list[dict[int, float]] = [{} for _ in range(clients)]
    ready = threading.Barrier(clients + 1)

    def listen(slot: int) -> None:
        response = urllib3.request(
            "GET", f"{base}/api/v1/stream?token={token}", preload_content=False,
            timeout=urllib3.Timeout(read=30),
        )  # fmt: skip
        ready.wait()
        buffer = b""
        for chunk in response.stream(4096):
            buffer += chunk
            while b"\n\n" in buffer:
                message, buffer = buffer.split(b"\n\n", 1)
                if b"event: transition" in message:
                    data = message.split(b"data: ", 1)[1].split(b"\n", 1)[0]
                    alert = orjson.loads(data)["alert"]
                    if alert["rule"] == FAN_OUT_RULE:  # not the churn's stragglers
                        received[slot][alert["id"]] = time.perf_counter()
            if len(received[slot]) >= alerts:
                break
        response.release_conn()

    threads = [threading.Thread(target=listen, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(1.0)  # every stream past its opening events
    committed: dict[int, float] = {}
    devices = list(inventory.devices)[first_device : first_device + alerts]
    for device_id in devices:
        alert = repository.create(
            _alert(inventory, device_id, FAN_OUT_RULE, now_ms()), Kind.FIRED, "bench", ""
        )
        committed[alert.id] = time.perf_counter()
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=60)
    return [
        (at - committed[alert_id]) * 1000
        for seen in received
        for alert_id, at in seen.items()
        if alert_id in committed
    ]


def report(name: str, times: list[float], baseline: list[float] | None) -> None:
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    line = f"  {name:34} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
    if baseline is not None:
        line += (
            f"  ({p50 / percentile(baseline, 0.5):6.1f}x / "
            f"{p99 / percentile(baseline, 0.99):6.1f}x baseline)"
        )
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--open-alerts", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-api-"))
    profiles = load_profiles(bundled_profiles_dir())
    write_inventory(
        generate_inventory(FleetShape.for_device_count(args.devices), 7), workdir / "inv.json"
    )
    inventory = load_inventory(workdir / "inv.json", profiles, zone_named(DEFAULT_ZONE))
    state_url = f"sqlite:///{workdir / 'state.db'}"
    engine = connect_state(state_url)
    repository = AlertRepository(engine)
    now = now_ms()
    for i, device_id in enumerate(list(inventory.devices)[: args.open_alerts]):
        rule = "device.down" if i % 3 == 0 else "bts.mains_failure"
        repository.create(_alert(inventory, device_id, rule, now), Kind.FIRED, "bench", "")
    tokens = TokenStore(engine)
    _, token = tokens.create(Role.VIEWER, "bench", now)
    context = ApiContext(
        inventory, profiles, repository, tokens, now_ms,
        rules=lambda: RulesControl(ROLES.down | ROLES.power | ROLES.link, ROLES),
        heartbeats=HeartbeatStore(engine).beats,
    )  # fmt: skip
    settings = load_settings(data_dir=workdir, state_url=state_url, api_port=free_port())
    server = ApiServer(context, ApiOptions.of(settings))
    started = time.perf_counter()
    server.start()
    base = server.url
    http = urllib3.PoolManager(maxsize=1)
    ready = repository.last_event_id()

    def current() -> bool:
        body = http.request("GET", f"{base}/api/v1/overview?area_depth=1&token={token}").data
        return bool(orjson.loads(body)["event_id"] == ready)

    while not current():
        time.sleep(0.1)
    print(
        f"bench: {len(inventory.devices):,} devices, {len(inventory.areas):,} areas, "
        f"{args.open_alerts:,} open alerts, {os.cpu_count()} cores shared; "
        f"API ready in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    routes: list[tuple[str, str, int]] = [
        ("overview (wall: 2 area levels)", "/api/v1/overview?area_depth=2", args.requests),
        ("overview (every area)", "/api/v1/overview", args.requests),
        ("devices (page of 500)", "/api/v1/devices?limit=500", args.requests // 3),
        ("devices (state=down)", "/api/v1/devices?state=down&limit=100", args.requests // 3),
        ("map.geojson", "/api/v1/map.geojson", 20),
    ]
    measure: Callable[[str, int], list[float]] = lambda path, n: timed(  # noqa: E731
        http, f"{base}{path}", token, n
    )
    # Each churned alert fires and resolves: 10 alerts/s make 20 transitions/s.
    for label, churn_per_s in (("steady", 0.0), ("with 20 transitions/s", 10.0)):
        print(f"{label}:", flush=True)
        baseline = measure("/healthz", args.requests)
        report("healthz (baseline)", baseline, None)
        if churn_per_s:
            with Churn(repository, inventory, churn_per_s):
                for name, path, count in routes:
                    report(name, measure(path, count), baseline)
        else:
            for name, path, count in routes:
                report(name, measure(path, count), baseline)
    print("stream fan-out (commit -> received):", flush=True)
    one = fan_out(base, token, repository, inventory, 1, 30, 10_000)
    report("1 client (baseline)", one, None)
    many = fan_out(base, token, repository, inventory, args.clients, 30, 20_000)
    report(f"{args.clients} clients", many, one)
    expected = args.clients * 30
    print(f"  delivered {len(many):,} of {expected:,} transition events", flush=True)
    server.stop()
    repository.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
