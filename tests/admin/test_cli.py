"""`flask --app portal users create-admin | promote | demote`."""

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, STRONG_PASSWORD

from portal.extensions import db
from portal.flows import signup
from portal.models import SecurityEvent, User
from portal.origin import Origin
from portal.passwords import verify_password


@pytest.fixture
def cli(app, monkeypatch):
    monkeypatch.delenv("PORTAL_ADMIN_PASSWORD", raising=False)
    runner = app.test_cli_runner()

    def run(*args, **kwargs):
        return runner.invoke(args=["users", *args], **kwargs)

    return run


def find(email) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def kinds_of(user) -> list[str]:
    return list(
        db.session.scalars(select(SecurityEvent.kind).where(SecurityEvent.user_id == user.id))
    )


def test_create_admin_reads_the_password_from_the_environment(cli, monkeypatch, new_browser):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", STRONG_PASSWORD)
    result = cli("create-admin", "Boss@Example.COM")
    assert result.exit_code == 0, result.output
    assert "Created admin boss <boss@example.com>" in result.output
    boss = find("boss@example.com")
    assert boss.username == "boss"  # the part before @
    assert boss.is_admin and boss.is_verified and boss.is_active
    assert verify_password(boss.password_hash, STRONG_PASSWORD)
    assert kinds_of(boss) == ["admin_created"]
    # and the account works: sign in, see the admin pages
    browser = new_browser()
    browser.sign_in("boss@example.com", STRONG_PASSWORD)
    assert browser.get("/admin/").status_code == 200


def test_create_admin_prompts_twice_for_the_password(cli):
    result = cli(
        "create-admin",
        "ops@example.com",
        "--username",
        "Ops-Team",
        input=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert STRONG_PASSWORD not in result.output  # hidden input
    assert find("ops@example.com").username == "ops-team"


def test_create_admin_asks_again_when_the_two_entries_differ(cli):
    result = cli(
        "create-admin",
        "ops@example.com",
        input=f"{STRONG_PASSWORD}\nsomething else\n{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert find("ops@example.com").is_admin


def test_create_admin_refuses_a_weak_password(cli, monkeypatch):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "password")
    result = cli("create-admin", "ops@example.com")
    assert result.exit_code == 1
    assert find("ops@example.com") is None


def test_create_admin_refuses_a_taken_email(cli, user, monkeypatch):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", STRONG_PASSWORD)
    result = cli("create-admin", "ALICE@example.com")
    assert result.exit_code == 1
    assert "already has an account" in result.output and "users promote" in result.output
    db.session.refresh(user)
    assert not user.is_admin


def test_create_admin_refuses_a_taken_username(cli, user, monkeypatch):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", STRONG_PASSWORD)
    result = cli("create-admin", "alice@elsewhere.org")
    assert result.exit_code == 1
    assert "username alice is taken" in result.output
    assert find("alice@elsewhere.org") is None


def test_create_admin_refuses_a_username_a_pending_sign_up_holds(cli, app, monkeypatch):
    with app.test_request_context():
        signup.sign_up("someone@example.org", "ops", STRONG_PASSWORD, Origin())
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", STRONG_PASSWORD)
    result = cli("create-admin", "ops@example.com")
    assert result.exit_code == 1
    assert "username ops is taken" in result.output
    assert find("ops@example.com") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email"], "valid email"),
        (["a@example.com"], "--username"),  # the default "a" is too short
        (["ops@example.com", "--username", "no spaces"], "letters a-z"),
    ],
)
def test_create_admin_explains_bad_input(cli, monkeypatch, args, message):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", STRONG_PASSWORD)
    result = cli("create-admin", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_promote_and_demote(cli, user, make_user):
    make_user(email="root@example.com", username="root", admin=True)
    result = cli("promote", "Alice@Example.com")
    assert result.exit_code == 0 and "alice@example.com is now an admin" in result.output
    db.session.refresh(user)
    assert user.is_admin
    assert "already an admin" in cli("promote", "alice@example.com").output

    result = cli("demote", "alice@example.com")
    assert result.exit_code == 0 and "no longer an admin" in result.output
    db.session.refresh(user)
    assert not user.is_admin
    assert "is not an admin" in cli("demote", "alice@example.com").output
    assert kinds_of(user) == ["admin_promoted", "admin_demoted"]
    event = db.session.scalar(select(SecurityEvent).where(SecurityEvent.kind == "admin_promoted"))
    assert event.actor_id is None and event.data == {"via": "cli"}


def test_demote_never_removes_the_last_admin(cli, make_user):
    root = make_user(email="root@example.com", username="root", admin=True)
    result = cli("demote", "root@example.com")
    assert result.exit_code == 1
    assert "last admin" in result.output
    db.session.refresh(root)
    assert root.is_admin


def test_unknown_accounts_are_reported(cli):
    for command in ("promote", "demote"):
        result = cli(command, "nobody@example.com")
        assert result.exit_code == 1
        assert "No account has the email nobody@example.com" in result.output


def test_the_password_is_never_echoed_or_stored_in_events(cli, monkeypatch):
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", STRONG_PASSWORD)
    result = cli("create-admin", "ops@example.com")
    assert STRONG_PASSWORD not in result.output
    event = db.session.scalar(select(SecurityEvent).where(SecurityEvent.kind == "admin_created"))
    assert STRONG_PASSWORD not in str(event.data) and PASSWORD not in str(event.data)
