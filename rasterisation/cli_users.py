"""``rasterisation users ...``: people who sign in (registered on the main group in cli.py).

The password is never an argument (it would sit in the shell history and the process list):
it is asked at a prompt (twice, hidden) or, when stdin is not a terminal, read from its first
line, e.g. ``printf '%s\\n' "$PASSWORD" | rasterisation users create ...``.
"""
from __future__ import annotations

import sys
import uuid

import click

__all__ = ["users"]


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True,
                            err=True)
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("no password on stdin (give it as the first line)")
    return line.rstrip("\r\n")


@click.group()
def users():
    """Manage the people who sign in (email and password)."""


@users.command("create")
@click.option("--company", "company_id", required=True, type=click.UUID,
              help="the company's id")
@click.option("--email", required=True, help="the sign-in email")
@click.option("--admin", is_flag=True, help="an admin (manages users and API tokens)")
def users_create(company_id: uuid.UUID, email: str, admin: bool):
    """Create a user; the password comes from a prompt or stdin. Prints the user's id."""
    from sqlalchemy.exc import SQLAlchemyError

    from rasterisation.cli import _app, _database_error
    from rasterisation.services.users import UserError, check_password_policy, create_user

    password = _read_password()
    try:
        check_password_policy(password, email)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    app = _app()
    with app.app_context():
        try:
            user = create_user(company_id=company_id, email=email, password=password,
                               role="admin" if admin else "member")
        except LookupError as exc:
            raise click.BadParameter(str(exc), param_hint="--company") from None
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        click.echo(str(user.id))


@users.command("list")
@click.option("--company", "company_id", required=True, type=click.UUID)
def users_list(company_id: uuid.UUID):
    """List a company's users: id, email, role, state (tab-separated)."""
    from rasterisation.cli import _app
    from rasterisation.services.users import list_users

    app = _app()
    with app.app_context():
        for user in list_users(company_id, page_size=10_000):
            click.echo(f"{user.id}\t{user.email}\t{user.role}\t{user.state()}")


@users.command("disable")
@click.argument("user_id", type=click.UUID)
@click.option("--company", "company_id", required=True, type=click.UUID)
def users_disable(user_id: uuid.UUID, company_id: uuid.UUID):
    """Disable a user and end their sign-ins."""
    from rasterisation.cli import _app
    from rasterisation.services.users import disable_user

    app = _app()
    with app.app_context():
        if disable_user(company_id=company_id, user_id=user_id) is None:
            raise click.ClickException(f"no user {user_id} in company {company_id}")
        click.echo(str(user_id))
