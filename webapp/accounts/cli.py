"""The `users` command group: add users, set roles and passwords, disable, manage API tokens."""

from collections.abc import Callable
from typing import Any

import click

from . import (
    ROLES,
    AccountError,
    create_user,
    issue_token,
    revoke_token,
    set_active,
    set_centre,
    set_password,
    set_roles,
    tokens_of,
)


def _sessions(ctx: click.Context):
    """Return the session factory the parent command put in the context, or build one."""
    obj = ctx.find_object(dict) or {}
    if "session_factory" in obj:
        return obj["session_factory"]
    from webapp.db.session import make_engine, make_session_factory
    from webapp.settings import Settings

    return make_session_factory(make_engine(Settings.from_env().database_url))


@click.group("users")
def users() -> None:
    """Manage users, their roles, passwords and API tokens."""


def _run(ctx: click.Context, action: Callable[..., Any], *args: Any) -> Any:
    """Run an account function in one transaction; its refusal exits 1 with the reason."""
    try:
        with _sessions(ctx).begin() as session:
            return action(session, *args)
    except AccountError as error:
        raise click.ClickException(str(error)) from error


@users.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--iin", default=None, help="The IIN; applicants need one.")
@click.option("--full-name", default=None)
@click.option("--centre", default=None, help="The service centre (an id of centres.json).")
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    password: str,
    iin: str | None,
    full_name: str | None,
    centre: str | None,
) -> None:
    """Add a user with one or more roles; the password must meet the policy."""
    _run(ctx, create_user, name, password, roles, iin, full_name, centre)
    click.echo(f"added {name} ({', '.join(sorted(set(roles)))})")


@users.command("roles")
@click.argument("name")
@click.argument("roles", nargs=-1, required=True, type=click.Choice(ROLES))
@click.pass_context
def roles(ctx: click.Context, name: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles."""
    _run(ctx, set_roles, name, roles)
    click.echo(f"{name}: {', '.join(sorted(set(roles)))}")


@users.command("centre")
@click.argument("name")
@click.argument("centre", required=False)
@click.pass_context
def centre(ctx: click.Context, name: str, centre: str | None) -> None:
    """Set the service centre a user works at (an id of centres.json); none without one."""
    _run(ctx, set_centre, name, centre)
    click.echo(f"{name}: centre {centre or 'none'}")


@users.command("token")
@click.argument("name")
@click.pass_context
def token(ctx: click.Context, name: str) -> None:
    """Issue an API token for a user and print it (it is shown only this once).

    The user's other tokens stay valid; their number goes to standard error.
    """

    def issue(session: Any) -> tuple[str, list]:
        return issue_token(session, name), tokens_of(session, name)

    issued, known = _run(ctx, issue)
    others = [info for info in known if info.revoked_at is None][:-1]
    click.echo(issued)
    if others:
        click.echo(
            f"{name} has {len(others)} other valid token(s): "
            f"ids {', '.join(str(t.id) for t in others)} (tirkeu users revoke-token ID)",
            err=True,
        )


@users.command("password")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_context
def password(ctx: click.Context, name: str, password: str) -> None:
    """Set a user's password; it must meet the policy, and the user's sessions end."""
    _run(ctx, set_password, name, password)
    click.echo(f"{name}: password changed, sessions ended")


@users.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Disable an account: its sessions end and its API tokens stop working at once."""
    _run(ctx, set_active, name, False)
    click.echo(f"{name}: disabled")


@users.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Enable a disabled account again (its API tokens work again unless revoked)."""
    _run(ctx, set_active, name, True)
    click.echo(f"{name}: enabled")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


@users.command("tokens")
@click.argument("name")
@click.pass_context
def tokens(ctx: click.Context, name: str) -> None:
    """List a user's API tokens: id, created, last used, revoked."""
    click.echo("id\tcreated\tlast used\trevoked")
    for info in _run(ctx, tokens_of, name):
        times = (info.created_at, info.last_used_at, info.revoked_at)
        click.echo("\t".join([str(info.id), *(_when(moment) for moment in times)]))


@users.command("revoke-token")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_context
def revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke an API token by its id (see `tirkeu users tokens NAME`); it stops working at once."""
    info = _run(ctx, revoke_token, token_id)
    click.echo(f"token {info.id} of {info.username}: revoked")
