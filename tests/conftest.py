"""Real servers for the tests: private Mosquitto and influxd on free loopback ports, the
machine's PostgreSQL (a throwaway database per run) and headless Chromium. Nothing shared is
ever stopped."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import create_engine, text

from ioc.app import Catalog, Runtime
from ioc.broker import MosquittoProcess
from ioc.broker import _mosquitto as mosquitto_module
from ioc.config import Settings
from ioc.domain import Inventory, Profile
from ioc.inventory import (
    bundled_inventory_path,
    bundled_profiles_dir,
    load_inventory,
    load_profiles,
)
from ioc.state import connect_state
from ioc.state._db import metadata
from tests.support.clock import VIETNAM
from tests.support.http_receiver import HttpReceiver
from tests.support.influx import InfluxProcess, V2Forwarder
from tests.support.services import MakeRuntime

# A test that uses one of these fixtures (directly or through another) talks to a real server.
SERVER_FIXTURES = frozenset({
    "mosquitto", "influxd", "influx_db", "v2_forwarder", "postgres_url", "state_url", "browser",
    "receiver", "postgres", "broker", "tls_broker", "smtp_server",
})  # fmt: skip
# A test module that uses one of these helpers starts servers or processes of its own.
SERVER_HELPERS = frozenset({
    "tests.support.processes", "tests.support.netns", "tests.support.snmpd",
    "tests.support.snmpsim", "tests.support.sipp", "tests.support.smtp", "tests.support.postgres",
    "tests.support.influx", "tests.support.cluster", "tests.support.cli", "tests.support.slapd",
})  # fmt: skip
# Tests that cannot run beside each other on two workers, by the group xdist keeps on one:
# hosts in network namespaces take fixed TEST-NET-2 addresses.
NETNS_HELPER = "tests.support.netns"


def _helpers_of(module: object) -> set[str]:
    return {getattr(value, "__module__", "") for value in vars(module).values()}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by kind from what it uses: `e2e` (under tests/e2e), `integration` (a
    real server or process), else `unit`; and put the tests that share fixed addresses in one
    xdist group."""
    helpers: dict[object, set[str]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module not in helpers:
            helpers[module] = _helpers_of(module) if module is not None else set()
        uses = helpers[module]
        fixtures = set(getattr(item, "fixturenames", ()))
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
        if "e2e" in item.path.parts or fixtures & SERVER_FIXTURES or uses & SERVER_HELPERS:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
        if NETNS_HELPER in uses:
            item.add_marker(pytest.mark.xdist_group("netns"))


@pytest.fixture(scope="session", autouse=True)
def _ports_of_this_worker() -> None:
    """Each xdist worker takes its test ports from a slice of its own: two workers never
    hand out the same free port at once."""
    worker_id = os.environ.get("PYTEST_XDIST_WORKER")
    if worker_id is None:
        return
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker_id.removeprefix("gw"))
    low, high = mosquitto_module._PORT_RANGE
    width = (high - low) // max(count, 1)
    mosquitto_module._PORT_RANGE = (low + index * width, low + (index + 1) * width)


POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
V2_TOKEN = "test-token-not-a-secret"


@pytest.fixture(scope="session")
def profiles() -> dict[str, Profile]:
    """The bundled device profiles."""
    return load_profiles(bundled_profiles_dir())


@pytest.fixture(scope="session")
def inventory(profiles: dict[str, Profile]) -> Inventory:
    """The bundled sample province."""
    return load_inventory(bundled_inventory_path(), profiles, VIETNAM)


@pytest.fixture(scope="session")
def small_inventory(profiles: dict[str, Profile]) -> Inventory:
    """Two communes behind two gateways (gw2 behind gw1), a BTS and a VC endpoint in each."""
    return load_inventory(
        Path(__file__).parent / "rules" / "testdata" / "inventory.yaml", profiles, VIETNAM
    )


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxProcess]:
    """One private influxd for the session; tests use their own databases."""
    server = InfluxProcess(tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def v2_forwarder(influxd: InfluxProcess) -> Iterator[V2Forwarder]:
    """/api/v2/write in front of the real influxd."""
    forwarder = V2Forwarder(influxd, V2_TOKEN)
    forwarder.start()
    yield forwarder
    forwarder.stop()


@pytest.fixture
def influx_db(influxd: InfluxProcess) -> Iterator[str]:
    """A fresh database name (created by the code under test in v1 mode)."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    influxd.query(f'DROP DATABASE "{name}"')


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A private Mosquitto with ioc's shipped configuration; the test may kill or restart it."""
    broker = MosquittoProcess(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database on the machine's server, dropped after the session."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"ioc_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable: {exc}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite state database migrated once, copied for each test that wants one."""
    path = tmp_path_factory.mktemp("template") / "state.db"
    connect_state(f"sqlite:///{path}").dispose()  # the last connection folds the WAL back in
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    """A migrated, empty state database: SQLite in a temp dir (a copy of the one migrated for
    the session), then PostgreSQL (the session's database, emptied)."""
    if request.param == "sqlite":
        shutil.copyfile(migrated_sqlite, tmp_path / "state.db")
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    engine = connect_state(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's package, driven by Playwright), one for the session."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def runtimes() -> Iterator[MakeRuntime]:
    """Makes runtimes as a process does, closed when the test ends."""
    made: list[Runtime] = []

    def make(settings: Settings, catalog: Catalog | None = None) -> Runtime:
        made.append(Runtime(settings, catalog))
        return made[-1]

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A real HTTP server recording what it is sent (webhook bridge, SMS gateway)."""
    server = HttpReceiver()
    server.start()
    yield server
    server.stop()
