"""What the API's server logs: a live-stream client hanging up is routine, not an error with a
traceback (fastapi's SSE keep-alive task fails to send into the closed stream); any other
failure is still logged whole."""

from __future__ import annotations

import logging

import anyio
import pytest

from ioc.app._api import StreamHangUps


def _record(error: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application\n", None,
        (type(error), error, None),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (BaseExceptionGroup("hung up", [anyio.BrokenResourceError()]), False),
        (
            BaseExceptionGroup("hung up", [ExceptionGroup("inner", [anyio.ClosedResourceError()])]),
            False,
        ),
        (BaseExceptionGroup("mixed", [anyio.BrokenResourceError(), ValueError("bad")]), True),
        (ValueError("a route failed"), True),
        (anyio.BrokenResourceError(), True),  # not the keep-alive task's group: kept
    ],
)
def test_only_a_stream_client_hanging_up_is_left_out(error: BaseException, logged: bool) -> None:
    assert StreamHangUps().filter(_record(error)) is logged
