"""What a person's sign-in costs: `POST /api/v1/session` (an Argon2id verify, a session
written) and then `GET /api/v1/me` with the session's cookie, against the same request with an
API token (a SHA-256 look-up) on the same server: the baseline, in the same run.

Everything goes through a real uvicorn server over loopback HTTP on the embedded state database,
as the wall sees it. Prints milliseconds (median and 95th percentile) and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ioc.accounts import AccountDesk
from ioc.api import ApiContext
from ioc.app import ApiOptions, ApiServer
from ioc.broker import free_port
from ioc.config import load_settings
from ioc.domain import Caller, Inventory, Role, now_ms
from ioc.state import AccountStore, AlertRepository, AuditLog, TokenStore, connect_state

PASSWORD = "đèn-đỏ-2026-bench"


def timed(
    request: urllib3.PoolManager, rounds: int, *args: object, **kwargs: object
) -> list[float]:
    """Milliseconds each of `rounds` requests took (each must answer 200)."""
    taken = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = request.request(*args, **kwargs)  # type: ignore[arg-type]
        taken.append((time.perf_counter() - start) * 1000)
        assert answer.status == 200, answer.data
    return taken


def shown(name: str, taken: list[float], baseline: float) -> str:
    median = statistics.median(taken)
    p95 = sorted(taken)[int(0.95 * (len(taken) - 1))]
    return f"{name:38} median {median:7.2f} ms  p95 {p95:7.2f} ms  {median / baseline:6.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder), api_port=free_port())
        engine = connect_state(settings.resolved_state_url)
        trail, tokens = AuditLog(engine), TokenStore(engine)
        accounts = AccountDesk(AccountStore(engine), trail, now_ms)
        accounts.add("lan", "Nguyễn Thị Lan", Role.OPERATOR, PASSWORD, Caller("bench", "cli"))
        _, token = tokens.create(Role.VIEWER, "bench", now_ms())
        empty = Inventory.build([], [])
        context = ApiContext(
            lambda: empty, {}, AlertRepository(engine), tokens, now_ms, audit=trail,
            accounts=accounts,
        )  # fmt: skip
        server = ApiServer(context, ApiOptions.of(settings))
        server.start()
        try:
            http = urllib3.PoolManager()
            me = f"{server.url}/api/v1/me"
            timed(http, 5, "GET", me, headers={"Authorization": f"Bearer {token}"})  # warm up
            with_token = timed(http, args.rounds, "GET", me,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            body = {"username": "lan", "password": PASSWORD}
            signing_in = timed(http, args.rounds, "POST", f"{server.url}/api/v1/session",
                               json=body)  # fmt: skip
            signed = http.request("POST", f"{server.url}/api/v1/session", json=body)
            cookie = signed.headers["set-cookie"].split(";")[0]
            with_cookie = timed(http, args.rounds, "GET", me, headers={"Cookie": cookie})
        finally:
            server.stop()
            engine.dispose()
    baseline = statistics.median(with_token)
    print(f"{args.rounds} rounds each, one server, embedded state database")
    print(shown("GET /api/v1/me with a token (baseline)", with_token, baseline))
    print(shown("GET /api/v1/me with a session cookie", with_cookie, baseline))
    print(shown("POST /api/v1/session (sign in)", signing_in, baseline))


if __name__ == "__main__":
    main()
