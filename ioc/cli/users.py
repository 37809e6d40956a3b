"""`ioc user`: people's accounts (docs/accounts.md)."""

from __future__ import annotations

import sys

import click

from ioc.cli._base import BY_OPTION, BadArgument, cli_caller, main, runtime_of, speech, time_text
from ioc.domain import said


@main.group()
def user() -> None:
    """People's accounts: a password kept here, or the province's directory."""


def _password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise BadArgument(said("give the password on standard input with --password-stdin"))
    told = speech()
    typed: str = click.prompt(
        told.say("Password"), hide_input=True,
        confirmation_prompt=told.say("The same password again"),
    )  # fmt: skip
    return typed


PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)


@user.command("add")
@click.argument("username")
@click.option("--name", required=True, help="The person's name as shown and recorded.")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    required=True,
    help="viewer: reads; operator: acts on alerts, windows, meetings; admin: everything.",
)
@PASSWORD_STDIN
@BY_OPTION
@click.pass_context
def user_add(
    ctx: click.Context, username: str, name: str, role: str, password_stdin: bool, actor: str
) -> None:
    """Add a local account (its password is asked for, or read with --password-stdin)."""
    from ioc.domain import Role

    password = _password(password_stdin)
    account = runtime_of(ctx).accounts().add(username, name, Role(role), password,
                                             cli_caller(actor))  # fmt: skip
    click.echo(
        speech().say(
            "account {username} ({name}, {role}) added",
            username=account.username,
            name=account.display_name,
            role=account.role.value,
        )
    )


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """Accounts, local ones and the directory's people who signed in."""
    from ioc.domain import now_ms
    from ioc.i18n import SOURCE_WORDS

    told, now = speech(), now_ms()
    accounts = runtime_of(ctx).accounts().store.list()
    if not accounts:
        click.echo(told.say("no accounts (ioc user add)"))
        return
    for account in accounts:
        state = told.say("enabled")
        if account.disabled_at_ms is not None:
            state = told.say("disabled {at}", at=time_text(account.disabled_at_ms))
        elif account.locked_at(now):
            state = told.say("locked until {at}", at=time_text(account.locked_until_ms or now))
        last = (
            told.say("last signed in {at}", at=time_text(account.last_sign_in_ms))
            if account.last_sign_in_ms
            else told.say("never signed in")
        )
        source = told.say(SOURCE_WORDS[account.source.value])
        click.echo(
            f"{account.username:20} {account.role.value:8} {source:10} {account.display_name:24}"
            f" {state}; {last}"
        )


@user.command("disable")
@click.argument("username")
@BY_OPTION
@click.pass_context
def user_disable(ctx: click.Context, username: str, actor: str) -> None:
    """No more sign-ins; the person's open sessions end at once."""
    account = runtime_of(ctx).accounts().disable(username, cli_caller(actor))
    click.echo(speech().say("account {username} disabled", username=account.username))


@user.command("enable")
@click.argument("username")
@BY_OPTION
@click.pass_context
def user_enable(ctx: click.Context, username: str, actor: str) -> None:
    """Let a disabled or locked-out account sign in again."""
    account = runtime_of(ctx).accounts().enable(username, cli_caller(actor))
    click.echo(speech().say("account {username} enabled", username=account.username))


@user.command("password")
@click.argument("username")
@PASSWORD_STDIN
@BY_OPTION
@click.pass_context
def user_password(ctx: click.Context, username: str, password_stdin: bool, actor: str) -> None:
    """Set a local account's password; its open sessions end."""
    password = _password(password_stdin)
    account = runtime_of(ctx).accounts().set_password(username, password, cli_caller(actor))
    click.echo(speech().say("password of {username} changed", username=account.username))
