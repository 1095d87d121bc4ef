"""The `users` command group: add users, set their roles, issue API tokens."""

import click

from .accounts import ROLES, AccountError, create_user, issue_token, set_roles


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
    """Manage users, their roles and their API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--iin", default=None, help="The IIN; applicants need one.")
@click.option("--full-name", default=None)
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    password: str,
    iin: str | None,
    full_name: str | None,
) -> None:
    """Add a user with one or more roles."""
    try:
        with _sessions(ctx).begin() as session:
            create_user(session, name, password, roles, iin=iin, full_name=full_name)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"added {name} ({', '.join(sorted(set(roles)))})")


@users.command("roles")
@click.argument("name")
@click.argument("roles", nargs=-1, required=True, type=click.Choice(ROLES))
@click.pass_context
def roles(ctx: click.Context, name: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles."""
    try:
        with _sessions(ctx).begin() as session:
            set_roles(session, name, roles)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{name}: {', '.join(sorted(set(roles)))}")


@users.command("token")
@click.argument("name")
@click.pass_context
def token(ctx: click.Context, name: str) -> None:
    """Issue an API token for a user and print it (it is shown only this once)."""
    try:
        with _sessions(ctx).begin() as session:
            issued = issue_token(session, name)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(issued)
