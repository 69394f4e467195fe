"""`flask --app portal users ...`: create the first admin, promote and demote."""

import os
import uuid

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.extensions import db
from portal.flows import events
from portal.flows.accounts import find_by_email
from portal.flows.validation import check_new_password, normalize_email, normalize_username
from portal.models import User
from portal.passwords import hash_password

users_cli = AppGroup("users", help="Manage accounts from the command line.")


def _email_or_fail(value: str) -> str:
    email, problem = normalize_email(value)
    if problem:
        raise click.BadParameter(problem, param_hint="EMAIL")
    return email


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--username", help="Defaults to the part of the email before @.")
def create_admin(email: str, username: str | None) -> None:
    """Create a verified admin account. The password is prompted twice, or read from
    PORTAL_ADMIN_PASSWORD when set (for scripts)."""
    email = _email_or_fail(email)
    username, problem = normalize_username(username or email.split("@")[0])
    if problem:
        raise click.BadParameter(problem, param_hint="--username")
    if find_by_email(email) is not None:
        raise click.ClickException(f"{email} already has an account; use `users promote`.")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise click.ClickException(f"The username {username} is taken; pass --username.")
    password = os.environ.get("PORTAL_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    problem = check_new_password(password, email=email, username=username)
    if problem:
        raise click.ClickException(problem)
    user = User(
        id=uuid.uuid4(),
        email=email,
        username=username,
        password_hash=hash_password(password),
        is_verified=True,
        is_admin=True,
    )
    db.session.add(user)
    events.record("admin_created", user, via="cli")
    db.session.commit()
    click.echo(f"Created admin {username} <{email}>.")


@users_cli.command("promote")
@click.argument("email")
def promote(email: str) -> None:
    """Make an existing account an admin."""
    user = _existing(email)
    if user.is_admin:
        click.echo(f"{user.email} is already an admin.")
        return
    user.is_admin = True
    events.record("admin_promoted", user, via="cli")
    db.session.commit()
    click.echo(f"{user.email} is now an admin.")


@users_cli.command("demote")
@click.argument("email")
def demote(email: str) -> None:
    """Take admin rights away (never from the last admin)."""
    user = _existing(email)
    if not user.is_admin:
        click.echo(f"{user.email} is not an admin.")
        return
    admins = db.session.scalar(select(func.count()).select_from(User).where(User.is_admin))
    if admins <= 1:
        raise click.ClickException("That is the last admin; promote another one first.")
    user.is_admin = False
    events.record("admin_demoted", user, via="cli")
    db.session.commit()
    click.echo(f"{user.email} is no longer an admin.")


def _existing(email: str) -> User:
    user = find_by_email(_email_or_fail(email))
    if user is None:
        raise click.ClickException(f"No account has the email {email}.")
    return user
