"""`ioc token`: API tokens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


from ioc.cli._base import (
    BY_OPTION,
    EXIT_FAILED,
    cli_caller,
    main,
    runtime_of,
    speech,
    time_text,
)


@main.group()
def token() -> None:
    """API tokens (stored hashed; the secret is shown once)."""


@token.command("create")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    required=True,
    help="viewer: read-only (the wall); operator: act on alerts; admin: everything.",
)
@click.option("--name", default=None, help="Who or what holds it (recorded as the actor).")
@click.option(
    "--expires", default=None, help="Valid for this long (90m, 12h, 30d); default: until revoked."
)
@BY_OPTION
@click.pass_context
def token_create(
    ctx: click.Context, role: str, name: str | None, expires: str | None, actor: str
) -> None:
    """Create a token; the secret is printed alone on the last line."""
    from ioc.app import OperatorDesk
    from ioc.config.documents import parse_duration
    from ioc.domain import Role, now_ms, token_expiry

    lifetime_s = None
    if expires is not None:
        try:
            lifetime_s = parse_duration(expires)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires") from None
    now = now_ms()
    expires_at = token_expiry(now, lifetime_s)  # the same bounds as the API's
    desk = OperatorDesk(runtime_of(ctx))
    record, secret = desk.create_token(
        Role(role), name or f"{role}-token", now, expires_at, cli_caller(actor)
    )
    told = speech()
    until = (
        ", " + told.say("until {end}", end=time_text(record.expires_at_ms))
        if record.expires_at_ms
        else ""
    )
    said = told.say(
        "token #{id} ({role}, {name}{until}); keep it secret:",
        id=record.id, role=record.role.value, name=record.name, until=until,
    )  # fmt: skip
    click.echo(said)
    click.echo(secret)


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """Tokens (never their secrets)."""
    from ioc.app import OperatorDesk

    desk, told = OperatorDesk(runtime_of(ctx)), speech()
    records = desk.tokens.list()
    for record in records:
        created = told.say(
            "created {at} by {who}",
            at=time_text(record.created_at_ms), who=record.created_by or "?",
        )  # fmt: skip
        expires = (
            " " + told.say("expires {at}", at=time_text(record.expires_at_ms))
            if record.expires_at_ms
            else ""
        )
        revoked = ""
        if record.revoked_at_ms:
            who = record.revoked_by or "?"
            at = time_text(record.revoked_at_ms)
            revoked = " " + told.say("revoked {at} by {who}", at=at, who=who)
        click.echo(
            f"#{record.id:<4} {record.role.value:8} {record.name:24} {created}{expires}{revoked}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@BY_OPTION
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, actor: str) -> None:
    """Revoke a token at once."""
    from ioc.app import OperatorDesk
    from ioc.domain import now_ms

    desk = OperatorDesk(runtime_of(ctx))
    revoked = desk.revoke_token(token_id, now_ms(), cli_caller(actor))
    if not revoked:
        click.echo("ioc: " + speech().say("no live token #{id}", id=token_id), err=True)
        sys.exit(EXIT_FAILED)
    click.echo(speech().say("token #{id} revoked", id=token_id))
