"""`flask --app portal users ...`: create the first admin, promote and demote."""

import os

import click
from flask.cli import AppGroup

from portal.flows import FlowError
from portal.flows import admin as admin_flows
from portal.flows.accounts import find_by_email
from portal.flows.validation import normalize_email
from portal.models import User

users_cli = AppGroup("users", help="Manage accounts from the command line.")


@users_cli.result_callback()
def _deliver_inline(*_args, **_kwargs) -> None:
    """With MAIL_DELIVERY=inline (development) nothing else would send what a command
    queued (no response to deliver after): send it now."""
    from flask import current_app

    from portal import outbox

    if current_app.config["MAIL_DELIVERY"] == "inline":
        outbox.deliver_due()


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
    try:
        # Before the prompt: nobody should type a password twice for an address that fails.
        admin_flows.new_admin_identity(email, username)
    except FlowError as error:
        raise _create_admin_error(error) from None
    password = os.environ.get("PORTAL_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        user = admin_flows.create_admin(email, username, password)
    except FlowError as error:
        raise _create_admin_error(error) from None
    click.echo(f"Created admin {user.username} <{user.email}>.")


def _create_admin_error(error: FlowError) -> click.ClickException:
    """Bad input exits 2 and names the argument to fix; a taken email or username exits 1."""
    if "email" in error.errors and error.code == "validation_error":
        return click.BadParameter(error.message, param_hint="EMAIL")
    if "username" in error.errors and error.code == "validation_error":
        # The default (the part before @) may not fit the username rules: say how to fix it.
        return click.BadParameter(f"{error.message} Pass --username NAME.", param_hint="--username")
    if error.code == "username_taken":
        return click.ClickException(f"{error.message} Pass --username.")
    if "email" in error.errors:
        return click.ClickException(f"{error.message} Use `users promote`.")
    return click.ClickException(error.message)


@users_cli.command("promote")
@click.argument("email")
def promote(email: str) -> None:
    """Make an existing account an admin."""
    user = _existing(email)
    changed = admin_flows.promote(None, user, via="cli")
    click.echo(f"{user.email} is {'now' if changed else 'already'} an admin.")


@users_cli.command("demote")
@click.argument("email")
def demote(email: str) -> None:
    """Take admin rights away (never from the last admin)."""
    user = _existing(email)
    try:
        changed = admin_flows.demote(None, user, via="cli")
    except FlowError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{user.email} is {'no longer' if changed else 'not'} an admin.")


@users_cli.command("unlock")
@click.argument("email")
def unlock(email: str) -> None:
    """Clear the sign-in lock of an account (too many wrong passwords or codes); recorded."""
    user = _existing(email)
    admin_flows.unlock_user(None, user)
    click.echo(f"{user.email} can try to sign in again at once.")


@users_cli.command("reset-mfa")
@click.argument("email")
@click.option("--reason", default="", help="Shown to the owner (email and Activity page).")
def reset_mfa(email: str, reason: str) -> None:
    """Remove the authenticator app, recovery codes and passkeys of an account (break-glass
    for a lost phone, once you know it is really them); recorded, the owner is emailed."""
    from portal.flows import mfa

    user = _existing(email)
    try:
        removed = mfa.reset_second_factors(None, user, reason, via="cli")
    except FlowError as error:
        raise click.ClickException(error.message) from None
    plural = "" if removed == 1 else "s"
    click.echo(
        f"{user.email}: two-step sign-in reset (authenticator app, recovery codes and "
        f"{removed} passkey{plural} removed). They sign in with their password now."
    )


@users_cli.command("rotate-mfa-keys")
def rotate_mfa_keys() -> None:
    """Re-encrypt authenticator secrets under the newest key of MFA_KEYS (after putting a new
    key first; the old one can leave MFA_KEYS once this has run)."""
    from portal.flows import totp

    count = totp.reencrypt_secrets()
    click.echo(f"Re-encrypted {count} authenticator secret{'' if count == 1 else 's'}.")


def _existing(email: str) -> User:
    user = find_by_email(_email_or_fail(email))
    if user is None:
        raise click.ClickException(f"No account has the email {email}.")
    return user


mail_cli = AppGroup("mail", help="Deliver the email outbox.")


@mail_cli.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (cron, tests).")
@click.option("--interval", default=1.0, show_default=True, help="Seconds to rest when idle.")
def mail_worker(once: bool, interval: float) -> None:
    """Deliver queued emails until stopped. Run as many as you like: each message goes out
    once. SIGTERM (docker stop) lets the message in hand finish, then exits."""
    import signal

    from portal import outbox

    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    handled = outbox.worker_loop(once=once, interval=interval, stop=lambda: bool(stopping))
    click.echo(f"Mail worker stopped after {handled} message(s).")


maintenance_cli = AppGroup("maintenance", help="Housekeeping for operators.")


@maintenance_cli.command("prune")
@click.option("--batch", default=1000, show_default=True, help="Rows per transaction.")
def prune_command(batch: int) -> None:
    """Remove ended sessions, spent codes, expired sign-ups, old events and delivered emails
    (in batches; safe while serving; run it from cron or the compose `prune` service)."""
    from portal.prune import prune

    def report(name: str, count: int) -> None:
        click.echo(f"{count:>8}  {name}")

    removed = prune(batch, report)
    click.echo(f"{sum(removed.values()):>8}  removed in all")
