"""SIP OPTIONS reachability (RFC 3261 §11) over UDP and TCP, as SIP monitors and proxies ping
a user agent: the first final response's code and how long it took. Any final response means
the endpoint's SIP stack is up (many endpoints answer OPTIONS with 403 or 404); no answer in
time, a refused port or a reset connection means it is not. aiosipua builds the request and
parses the response; the transports are asyncio's.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from aiosipua import Address, CSeq, SipMessage, SipRequest, SipResponse, SipUri, Via

from ioc.probe._config import SipAccess, Target
from ioc.probe._loop import LoopThread
from ioc.probe._schema import SipStatistic

_T1_S = 0.5  # RFC 3261's round-trip estimate: UDP retransmits at T1, 2*T1, 4*T1...
_MAX_MESSAGE_BYTES = 65_535


@dataclass(frozen=True, slots=True)
class SipOutcome:
    """What one OPTIONS request to one target gave."""

    status: int | None = None  # the final response's code
    response_ms: float | None = None
    failure: str | None = None  # "timeout", "refused", ...

    @property
    def answered(self) -> bool:
        """Whether a final response came."""
        return self.status is not None


def sip_metrics(target: Target, outcome: SipOutcome) -> dict[str, object]:
    """The profile's SIP metrics of one outcome (no answer: reachable false, nothing else)."""
    metrics: dict[str, object] = {}
    for metric, statistic in target.profile.sip:
        if statistic is SipStatistic.REACHABLE:
            metrics[metric] = outcome.answered
        elif statistic is SipStatistic.RESPONSE_MS and outcome.response_ms is not None:
            metrics[metric] = outcome.response_ms
        elif statistic is SipStatistic.STATUS and outcome.status is not None:
            metrics[metric] = outcome.status
    return metrics


class SipPinger:
    """OPTIONS to many targets at once (at most `concurrency`), on its own event loop."""

    def __init__(self, concurrency: int = 500) -> None:
        self.counters: Counter[str] = Counter()
        self._concurrency = concurrency
        self._loop = LoopThread("sip")

    def start(self) -> None:
        """Start the event loop."""
        self._loop.start()

    def close(self) -> None:
        """Stop the event loop."""
        self._loop.stop()

    def ping(self, targets: Sequence[Target]) -> Future[dict[str, SipOutcome]]:
        """Start a round; its outcomes by device id once all are in."""
        return self._loop.submit(self._round(targets))

    async def _round(self, targets: Sequence[Target]) -> dict[str, SipOutcome]:
        gate = asyncio.Semaphore(self._concurrency)

        async def one(target: Target) -> tuple[str, SipOutcome]:
            async with gate:
                return target.device_id, await self.options(target)

        return dict(await asyncio.gather(*(one(t) for t in targets)))

    async def options(self, target: Target) -> SipOutcome:
        """One OPTIONS transaction with the target."""
        assert target.sip is not None
        access = target.sip
        self.counters["requests"] += 1
        began = time.perf_counter()
        try:
            if access.transport == "tcp":
                status = await asyncio.wait_for(self._over_tcp(target), access.timeout_s)
            else:
                status = await self._over_udp(target, began + access.timeout_s)
        except TimeoutError:
            self.counters["timeouts"] += 1
            return SipOutcome(failure="timeout (no SIP answer)")
        except ConnectionRefusedError:
            self.counters["refused"] += 1
            return SipOutcome(
                failure=f"refused: nothing listens on {access.transport} {access.port}"
            )
        except (ConnectionError, OSError) as exc:
            self.counters["errors"] += 1
            return SipOutcome(failure=f"{type(exc).__name__}: {exc.strerror or exc}")
        self.counters["answers"] += 1
        return SipOutcome(status, round((time.perf_counter() - began) * 1000, 3))

    async def _over_udp(self, target: Target, deadline: float) -> int:
        assert target.sip is not None
        loop = asyncio.get_running_loop()
        call_id = secrets.token_hex(12)
        answer: asyncio.Future[int] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Answers(call_id, answer, self.counters),
            remote_addr=(target.address, target.sip.port),
        )  # connected: the kernel passes on datagrams of this peer only
        try:
            local = transport.get_extra_info("sockname")
            request = _request(target, target.sip, "UDP", local[0], local[1], call_id)
            interval = _T1_S
            while True:
                transport.sendto(request)
                wait_s = min(interval, deadline - time.perf_counter())
                try:
                    return await asyncio.wait_for(asyncio.shield(answer), max(0.0, wait_s))
                except TimeoutError:
                    if time.perf_counter() >= deadline:
                        raise
                    interval *= 2  # timer A doubles
        finally:
            transport.close()

    async def _over_tcp(self, target: Target) -> int:
        assert target.sip is not None
        reader, writer = await asyncio.open_connection(
            target.address, target.sip.port, limit=_MAX_MESSAGE_BYTES
        )
        try:
            local = writer.get_extra_info("sockname")
            call_id = secrets.token_hex(12)
            writer.write(_request(target, target.sip, "TCP", local[0], local[1], call_id))
            await writer.drain()
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                message = _parse(head, self.counters)
                length = message.content_length if message is not None else 0
                if length:
                    await reader.readexactly(min(length, _MAX_MESSAGE_BYTES))
                status = _final_status(message, call_id)
                if status is not None:
                    return status
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ConnectionResetError("the endpoint closed the connection mid-answer") from exc
        finally:
            writer.close()


class _Answers(asyncio.DatagramProtocol):
    def __init__(self, call_id: str, answer: asyncio.Future[int], counters: Counter[str]) -> None:
        self._call_id, self._answer, self._counters = call_id, answer, counters

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        status = _final_status(_parse(data, self._counters), self._call_id)
        if status is not None and not self._answer.done():
            self._answer.set_result(status)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable, mostly
        if not self._answer.done():
            self._answer.set_exception(exc)


def _parse(data: bytes, counters: Counter[str]) -> SipMessage | None:
    try:
        return SipMessage.parse(data)
    except (ValueError, IndexError):
        counters["malformed"] += 1
        return None


def _final_status(message: SipMessage | None, call_id: str) -> int | None:
    """The code of a final response to our request; None for anything else (1xx, strays)."""
    if not isinstance(message, SipResponse) or message.call_id != call_id:
        return None
    return message.status_code if 200 <= message.status_code <= 699 else None


def _request(
    target: Target, access: SipAccess, transport: str, host: str, port: int, call_id: str
) -> bytes:
    hostport = _hostport(target.address, access.port)
    request = SipRequest(method="OPTIONS", uri=f"sip:{hostport}")
    via = Via(transport=transport, host=_hostport(host, None), port=port)
    via.params = {"branch": "z9hG4bK" + secrets.token_hex(8), "rport": None}
    request.via = [via]
    request.set_header("Max-Forwards", "70")
    request.from_addr = Address(
        uri=SipUri(user="ioc-probe", host=_hostport(host, None)),
        params={"tag": secrets.token_hex(6)},
    )
    request.to_addr = Address(uri=SipUri(host=_hostport(target.address, None), port=access.port))
    request.call_id = call_id
    request.cseq = CSeq(1, "OPTIONS")
    request.set_header("Accept", "application/sdp")
    request.set_header("User-Agent", "ioc-probe")
    return bytes(request)


def _hostport(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown
