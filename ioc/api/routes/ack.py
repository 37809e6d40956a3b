"""Acknowledging from a notification's link: the signed link is the credential.

GET shows what will be acknowledged and a button; only the POST acts, because chat apps and
mail scanners open links by themselves to preview them.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from ioc.alerts import act_on_alert
from ioc.api._context import ApiContext
from ioc.api.deps import Context, origin_of
from ioc.api.routes.alerts import ACTION_STATUS
from ioc.domain import (
    AckClaim,
    ActionOutcome,
    Alert,
    AlertAction,
    AlertState,
    Caller,
    IocError,
)

router = APIRouter(tags=["ack"], include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>IOC</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
background:#0b1220;color:#e8eefc}}button{{font-size:1.3rem;padding:.6rem 1.4rem}}
.muted{{color:#8fa0c2}}</style></head><body>{body}</body></html>"""


def _page(body: str, code: int = status.HTTP_200_OK) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=code)


def _claim(context: ApiContext, token: str) -> AckClaim | HTMLResponse:
    if context.ack_links is None:
        return _page("<p>Liên kết xác nhận chưa được bật. / Acknowledgement links are off.</p>",
                     status.HTTP_404_NOT_FOUND)  # fmt: skip
    try:
        return context.ack_links.read(token)
    except IocError as exc:
        return _page(f"<p>{html.escape(str(exc))}</p>", status.HTTP_400_BAD_REQUEST)


def _describe(alert: Alert) -> str:
    return (
        f"<h1>{html.escape(alert.title_vi)}</h1><p class=muted>{html.escape(alert.title_en)}</p>"
        f"<p>{html.escape(alert.message_vi)}</p><p class=muted>#{alert.id} · "
        f"{html.escape(alert.device_id)} · {html.escape(alert.state.value)}</p>"
    )


@router.get("/ack/{token}", response_class=HTMLResponse)
def ack_page(token: str, context: Context) -> HTMLResponse:
    """What the link acknowledges, and a button to do it."""
    claim = _claim(context, token)
    if isinstance(claim, HTMLResponse):
        return claim
    alert = context.alerts.get(claim.alert_id)
    if alert is None:
        return _page("<p>Không có cảnh báo này. / No such alert.</p>", status.HTTP_404_NOT_FOUND)
    if alert.state is not AlertState.FIRING:
        done = html.escape(alert.acknowledged_by or alert.state.value)
        return _page(_describe(alert) + f"<p>Đã được xử lý ({done}). / Already taken: {done}.</p>")
    return _page(
        _describe(alert) + f"<form method=post><button>Nhận xử lý / Acknowledge</button></form>"
        f"<p class=muted>{html.escape(claim.person_name)}</p>"
    )


@router.post("/ack/{token}", response_class=HTMLResponse)
def ack(token: str, context: Context, request: Request) -> HTMLResponse:
    """Acknowledge in the name the link carries."""
    claim = _claim(context, token)
    if isinstance(claim, HTMLResponse):
        return claim
    caller = Caller(f"{claim.person_name} ({claim.person_id}, link)", origin_of(request))
    result = act_on_alert(
        context.alerts, AlertAction.ACKNOWLEDGE, claim.alert_id, caller,
        "acknowledged from a notification", context.clock(), context.request_wait_s,
        context.trail(),
    )  # fmt: skip
    if result.outcome is ActionOutcome.QUEUED:
        return _page("<p>Đã ghi nhận, đang chờ xử lý. / Queued: it will be applied shortly.</p>",
                     status.HTTP_202_ACCEPTED)  # fmt: skip
    if result.outcome is not ActionOutcome.DONE:
        return _page(f"<p>{html.escape(result.detail)}</p>", ACTION_STATUS[result.outcome])
    return _page(f"<p>Đã nhận xử lý. Cảm ơn, {html.escape(claim.person_name)}. / Acknowledged.</p>")
