"""The account-takeover paths of issue 7, replayed against the API as they were reproduced:
each attack now fails (README "Rules worth knowing")."""

from datetime import timedelta

import pytest
from api_helpers import assert_problem, from_ip, register, reset_token, verify
from sqlalchemy import select
from web_helpers import NEW_PASSWORD, PASSWORD, last_code

from portal import clock
from portal.extensions import db
from portal.flows import admin
from portal.models import GuessBudget, PendingSignUp, User
from portal.origin import Origin

VICTIM = "victim@example.com"
OWNER_PASSWORD = "plum velvet orbit canyon"
STRANGER_PASSWORD = "granite walrus hums loudly"
OWNER = from_ip("198.51.100.7")
STRANGER = from_ip("203.0.113.66")
WRONG = "not the password at all"


def login(api, name, password, **kwargs):
    return api.post("/auth/login", {"email": name, "password": password}, **kwargs)


def other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def wrong_logins(api, name, count, *, first_ip=1):
    """`count` wrong passwords for `name`, each from its own address (no per-IP limit helps)."""
    for n in range(count):
        response = login(api, name, f"{WRONG} {n}", **from_ip(f"203.0.113.{first_ip + n}"))
        assert_problem(response, 401, "invalid_credentials")


def retry_after(response) -> int:
    assert_problem(response, 429, "rate_limited")
    return int(response.headers["Retry-After"])


def account(email=VICTIM) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def pending_rows(email) -> list[PendingSignUp]:
    return list(db.session.scalars(select(PendingSignUp).where(PendingSignUp.email == email)))


# 1. Pre-registration hijack


@pytest.mark.parametrize("typed", ["own code", "stranger's code first"])
@pytest.mark.parametrize("stranger_first", [True, False], ids=["stranger-first", "owner-first"])
def test_pre_registration_hijack_leaves_the_owners_password_and_username(
    api, outbox, stranger_first, typed, distinct_codes
):
    """A stranger signs up with the owner's address (before or after the owner): both codes
    land in the owner's mailbox; whichever the owner types, the account is the owner's."""

    def stranger_signs_up():
        assert register(api, VICTIM, "mallory", STRANGER_PASSWORD, **STRANGER).status_code == 202

    def owner_signs_up():
        assert register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER).status_code == 202

    for step in (stranger_signs_up, owner_signs_up)[:: 1 if stranger_first else -1]:
        step()
    mails = [m for m in outbox if m["kind"] == "verify_email"]
    assert len(mails) == 2 and all(m["to"] == [VICTIM] for m in mails)
    own = last_code(outbox, username="victim")
    strangers = last_code(outbox, username="mallory")
    assert strangers != own

    # A code alone no longer confirms anything while two sign-ups wait: the password picks.
    for code in (own, strangers):
        problem = assert_problem(verify(api, VICTIM, code, **OWNER), 422, "validation_error")
        assert set(problem["errors"]) == {"password"}
    if typed == "stranger's code first":
        # the stranger's code confirms the stranger's sign-up only, never the owner's
        response = verify(api, VICTIM, strangers, OWNER_PASSWORD, **OWNER)
        assert_problem(response, 400, "invalid_code")
    response = verify(api, VICTIM, own, OWNER_PASSWORD, **OWNER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["user"]["username"] == "victim"

    assert account().username == "victim"
    assert pending_rows(VICTIM) == []  # the stranger's sign-up is void
    for name in (VICTIM, "mallory"):
        assert_problem(login(api, name, STRANGER_PASSWORD, **STRANGER), 401, "invalid_credentials")
    assert login(api, VICTIM, OWNER_PASSWORD, **OWNER).status_code == 200
    assert login(api, "victim", OWNER_PASSWORD, **OWNER).status_code == 200


def test_a_stranger_cannot_confirm_with_the_owners_code_and_their_own_password(
    api, outbox, distinct_codes
):
    """Even holding the owner's code, the stranger's password picks the stranger's sign-up."""
    register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER)
    register(api, VICTIM, "mallory", STRANGER_PASSWORD, **STRANGER)
    own = last_code(outbox, username="victim")
    assert own != last_code(outbox, username="mallory")
    response = verify(api, VICTIM, own, STRANGER_PASSWORD, **STRANGER)
    assert_problem(response, 400, "invalid_code")
    assert account() is None
    assert verify(api, VICTIM, own, OWNER_PASSWORD, **OWNER).status_code == 200
    assert account().username == "victim"


def test_verify_needs_the_password_when_several_sign_ups_wait(api, outbox):
    register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER)
    register(api, VICTIM, "mallory", STRANGER_PASSWORD, **STRANGER)
    code = last_code(outbox, username="victim")
    problem = assert_problem(verify(api, VICTIM, code), 422, "validation_error")
    assert set(problem["errors"]) == {"password"}
    # a password that is no sign-up's picks none: the plain "not right" answer
    assert_problem(verify(api, VICTIM, code, WRONG), 400, "invalid_code")
    assert verify(api, VICTIM, code, OWNER_PASSWORD).status_code == 200


def test_at_most_three_sign_ups_wait_per_address_the_oldest_gives_way(api, outbox):
    for n, name in enumerate(("first", "second", "third", "fourth")):
        response = register(api, VICTIM, name, f"{OWNER_PASSWORD} {n}")
        assert response.status_code == 202, response.get_data(as_text=True)
    assert sorted(p.username for p in pending_rows(VICTIM)) == ["fourth", "second", "third"]
    # the oldest sign-up's username is free again
    assert register(api, "other@example.com", "first", OWNER_PASSWORD).status_code == 202


def test_a_pending_sign_up_lasts_24_hours(api, outbox):
    register(api, VICTIM, "victim", OWNER_PASSWORD)
    assert_problem(register(api, "other@example.com", "victim", OWNER_PASSWORD), 409)
    clock.advance(timedelta(hours=24, seconds=1))
    assert register(api, "other@example.com", "victim", OWNER_PASSWORD).status_code == 202
    # and the old sign-up is no way in
    assert_problem(login(api, VICTIM, OWNER_PASSWORD), 401, "invalid_credentials")


# 3. Enumeration, and strangers burning the owner's code on /verify


def test_verify_answers_the_same_for_unknown_pending_and_taken_addresses(api, user, outbox):
    register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER)
    # a sign-up with a taken address: a pending row that never gets a code
    register(api, "alice@example.com", "mallory", STRANGER_PASSWORD, **STRANGER)
    guess = other_than(last_code(outbox))
    answers = []
    for email in ("nobody@example.com", VICTIM, "alice@example.com"):
        response = verify(api, email, guess, **STRANGER)
        answers.append((response.status_code, response.mimetype, response.get_json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][2]["code"] == "invalid_code"


def test_a_strangers_wrong_guesses_do_not_burn_the_owners_code(api, outbox):
    """5 wrong tries used to burn the code; without the password they burn nothing."""
    register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER)
    code = last_code(outbox)
    for _ in range(7):
        assert_problem(verify(api, VICTIM, other_than(code), **STRANGER), 400, "invalid_code")
    response = verify(api, VICTIM, code, **OWNER)
    assert response.status_code == 200
    assert account().username == "victim"


def test_code_guessing_on_verify_stops_at_10_and_a_resend_never_refills(api, outbox):
    register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER)
    guess = other_than(last_code(outbox))
    for _ in range(10):
        assert_problem(verify(api, VICTIM, guess, **STRANGER), 400, "invalid_code")
    assert retry_after(verify(api, VICTIM, guess, **STRANGER)) > 0
    clock.advance(timedelta(minutes=1, seconds=1))
    assert api.post("/auth/verify/resend", {"email": VICTIM}, **OWNER).status_code == 202
    fresh = last_code(outbox)
    assert_problem(verify(api, VICTIM, fresh, **OWNER), 429, "rate_limited")  # still spent
    clock.advance(timedelta(minutes=14))  # the budget opens again; the fresh code still lives
    assert verify(api, VICTIM, fresh, **OWNER).status_code == 200


def test_sign_up_with_a_taken_email_answers_exactly_as_a_free_one(api, user, outbox):
    taken = register(api, "alice@example.com", "newcomer1", OWNER_PASSWORD, **STRANGER)
    free = register(api, "free@example.com", "newcomer2", OWNER_PASSWORD, **STRANGER)
    assert (taken.status_code, taken.mimetype, taken.get_json()) == (
        free.status_code,
        free.mimetype,
        free.get_json(),
    )
    assert taken.status_code == 202
    # the same work: a pending row for each; the owner of the taken address hears of it
    assert len(pending_rows("alice@example.com")) == len(pending_rows("free@example.com")) == 1
    assert [(m["kind"], m["to"]) for m in outbox] == [
        ("account_exists", ["alice@example.com"]),
        ("verify_email", ["free@example.com"]),
    ]
    assert pending_rows("alice@example.com")[0].code_hash is None  # nothing can confirm it
    # signing in as either newcomer reads the same ("confirm your email first")
    first, second = (login(api, name, OWNER_PASSWORD) for name in ("newcomer1", "newcomer2"))
    assert assert_problem(first, 403, "email_not_verified") == second.get_json()
    # and the account is untouched
    assert login(api, "alice", PASSWORD).status_code == 200


@pytest.mark.parametrize("holder", ["an account", "a pending sign-up"])
def test_a_taken_username_is_409_whether_or_not_the_email_has_an_account(
    api, make_user, outbox, holder
):
    make_user(email="carol@example.com", username="carol")
    if holder == "an account":
        make_user(email="dave@example.com", username="dave")
    else:
        register(api, "dave@example.com", "dave", OWNER_PASSWORD)
    answers = []
    for email in ("carol@example.com", "free@example.com"):
        response = register(api, email, "Dave", STRANGER_PASSWORD, **STRANGER)
        answers.append(assert_problem(response, 409, "username_taken"))
    assert answers[0] == answers[1]
    assert pending_rows("carol@example.com") == pending_rows("free@example.com") == []
    assert "account_exists" not in [m["kind"] for m in outbox]


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(api, user, outbox):
    answers = [
        api.post("/auth/forgot-password", {"email": email}, **STRANGER)
        for email in ("alice@example.com", "nobody@example.com")
    ]
    shapes = [(r.status_code, r.mimetype, r.get_json(), sorted(r.headers.keys())) for r in answers]
    assert shapes[0] == shapes[1]
    assert answers[0].status_code == 202
    # the email goes out after the answer, to the account only
    assert [m["to"] for m in outbox if m["kind"] == "reset_password"] == [["alice@example.com"]]


# 2 and 7. Email-change code guessing


def test_email_change_codes_are_capped_at_5_an_hour_whatever_the_target(api, user, outbox):
    token = api.login()["access_token"]
    targets = ["one@example.com", "two@example.com"]
    for n in range(5):  # alternating targets used to get a fresh code each time
        body = {"email": targets[n % 2], "password": PASSWORD}
        response = api.patch("/users/me", body, token=token)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["pending_email"] == targets[n % 2]
    for target in ("two@example.com", "three@example.com"):
        response = api.patch("/users/me", {"email": target, "password": PASSWORD}, token=token)
        assert retry_after(response) > 0
    clock.advance(timedelta(hours=1, seconds=1))
    token = api.login()["access_token"]  # the old access token has expired by now
    body = {"email": "three@example.com", "password": PASSWORD}
    assert api.patch("/users/me", body, token=token).status_code == 200


def test_wrong_email_change_codes_spend_the_accounts_guessing_budget(api, user, outbox):
    device = api.login()
    token = device["access_token"]
    for target in ("one@example.com", "two@example.com"):  # a new code never refills it
        body = {"email": target, "password": PASSWORD}
        assert api.patch("/users/me", body, token=token).status_code == 200
        code = last_code(outbox, "email_change")
        for _ in range(5):
            response = api.post("/users/me/email/confirm", {"code": other_than(code)}, token=token)
            assert response.status_code == 400
    # 10 wrong codes: even the right one waits now
    assert retry_after(api.post("/users/me/email/confirm", {"code": code}, token=token)) > 0
    assert api.get("/users/me", token=token).get_json()["email"] == "alice@example.com"
    assert [m["kind"] for m in outbox].count("account_locked") == 1
    # the very budget sign-in spends: a new device waits, the owner's known app does not
    assert_problem(login(api, "alice", PASSWORD, **STRANGER), 429, "rate_limited")
    body = {"email": "alice", "password": PASSWORD, "device_token": device["device_token"]}
    assert api.post("/auth/login", body).status_code == 200


def test_email_change_to_a_taken_address_reads_as_a_free_one(api, make_user, user, outbox):
    make_user(email="bob@example.com", username="bob")
    token = api.login()["access_token"]
    answers = []
    for target in ("bob@example.com", "free@example.com"):
        body = {"email": target, "password": PASSWORD}
        assert api.patch("/users/me", body, token=token).status_code == 200
        response = api.post("/users/me/email/confirm", {"code": "000000"}, token=token)
        answers.append((response.status_code, response.get_json()))
    if last_code(outbox, "email_change") != "000000":
        assert answers[0] == answers[1]
        assert answers[0][1]["code"] == "invalid_code"
    # bob's mailbox got a note, never a code to move alice onto it
    to_bob = [m["kind"] for m in outbox if m["to"] == ["bob@example.com"]]
    assert to_bob == ["account_exists"]


# 4 and 10. Re-authentication


def test_a_stolen_access_token_alone_cannot_move_or_take_the_account(api, user, outbox):
    token = api.login(**STRANGER)["access_token"]
    outbox.clear()

    problem = assert_problem(
        api.patch("/users/me", {"email": "thief@example.com"}, token=token), 422
    )
    assert set(problem["errors"]) == {"password"}
    body = {"email": "thief@example.com", "password": WRONG}
    problem = assert_problem(api.patch("/users/me", body, token=token), 422, "validation_error")
    assert "password" in problem["errors"]

    body = {"current_password": WRONG, "new_password": NEW_PASSWORD}
    problem = assert_problem(api.post("/users/me/password", body, token=token), 422)
    assert "current_password" in problem["errors"]

    problem = assert_problem(api.delete("/users/me", {}, token=token), 422, "validation_error")
    assert "password" in problem["errors"]
    problem = assert_problem(api.delete("/users/me", {"password": WRONG}, token=token), 422)
    assert "password" in problem["errors"]

    me = api.get("/users/me", token=token).get_json()
    assert me["email"] == "alice@example.com" and me["pending_email"] is None
    assert outbox == []  # no code went anywhere
    assert login(api, "alice", PASSWORD, **OWNER).status_code == 200


def test_a_refused_email_change_leaves_the_username_as_it_was(api, user, outbox):
    token = api.login()["access_token"]
    for extra in ({}, {"password": WRONG}):
        body = {"username": "renamed", "email": "thief@example.com", **extra}
        problem = assert_problem(api.patch("/users/me", body, token=token), 422)
        assert set(problem["errors"]) == {"password"}
    me = api.get("/users/me", token=token).get_json()
    assert (me["username"], me["pending_email"]) == ("alice", None)
    body = {"username": "renamed", "email": "new@example.com", "password": PASSWORD}
    response = api.patch("/users/me", body, token=token)
    assert response.status_code == 200
    me = response.get_json()
    assert (me["username"], me["pending_email"]) == ("renamed", "new@example.com")


def _wrong_reauth(api, token, n):
    """The n-th wrong re-authentication, on each endpoint in turn."""
    return [
        lambda: api.patch(
            "/users/me", {"email": "thief@example.com", "password": f"{WRONG} {n}"}, token=token
        ),
        lambda: api.post(
            "/users/me/password",
            {"current_password": f"{WRONG} {n}", "new_password": NEW_PASSWORD},
            token=token,
        ),
        lambda: api.delete("/users/me", {"password": f"{WRONG} {n}"}, token=token),
    ][n % 3]()


def test_five_wrong_reauthentications_end_the_session_not_the_owners_sign_in(api, user, outbox):
    for attempt in range(2):  # 10 wrong passwords in all would have spent a sign-in budget
        tokens = api.login(**from_ip(f"203.0.113.{attempt + 1}"))
        token = tokens["access_token"]
        for n in range(4):
            assert_problem(_wrong_reauth(api, token, n), 422, "validation_error")
        assert_problem(_wrong_reauth(api, token, 4), 401, "session_ended")
        assert_problem(api.get("/users/me", token=token), 401, "session_ended")
        refresh = api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        assert_problem(refresh, 401, "session_ended")
        # a right password after the end changes nothing either
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert_problem(api.post("/users/me/password", body, token=token), 401, "session_ended")
    assert db.session.get(GuessBudget, f"user:{user.id}") is None
    # the owner signs in from a device never seen before, with the unchanged password
    assert login(api, "alice", PASSWORD, **OWNER).status_code == 200


def test_a_right_password_starts_the_count_again(api, user, outbox):
    token = api.login()["access_token"]
    for n in range(4):
        assert_problem(_wrong_reauth(api, token, n), 422)
    body = {"email": "new@example.com", "password": PASSWORD}
    assert api.patch("/users/me", body, token=token).status_code == 200
    for n in range(4):
        assert_problem(_wrong_reauth(api, token, n), 422)
    assert api.get("/users/me", token=token).status_code == 200


# 5. Sign-in: one budget per account


def test_ten_wrong_passwords_from_many_ips_hold_back_strangers_not_the_owners_app(api, user):
    device_token = api.login(**OWNER)["device_token"]
    wrong_logins(api, "alice@example.com", 10)
    response = login(api, "alice@example.com", PASSWORD, **from_ip("198.51.100.99"))
    assert 0 < retry_after(response) <= 15 * 60
    # a made-up device token is no way around it
    body = {"email": "alice@example.com", "password": PASSWORD, "device_token": "x" * 43}
    assert_problem(api.post("/auth/login", body, **STRANGER), 429, "rate_limited")
    # the owner's app sends back its device token: its own budget, untouched
    body["device_token"] = device_token
    response = api.post("/auth/login", body, **OWNER)
    assert response.status_code == 200
    assert response.get_json()["device_token"] == device_token


def test_email_and_username_share_one_budget(api, user):
    wrong_logins(api, "alice@example.com", 5)
    wrong_logins(api, "Alice", 5, first_ip=50)
    assert retry_after(login(api, "ALICE@example.com", PASSWORD)) > 0
    assert retry_after(login(api, "alice", PASSWORD)) > 0


@pytest.mark.parametrize("password", ["", None])
def test_empty_passwords_are_not_guesses(api, user, password):
    for n in range(15):
        response = login(api, "alice", password, **from_ip(f"203.0.113.{n + 1}"))
        assert_problem(response, 422, "validation_error")
    assert db.session.get(GuessBudget, f"user:{user.id}") is None
    assert login(api, "alice", PASSWORD).status_code == 200


def test_an_unknown_login_gets_a_429_of_the_same_shape(api, user):
    wrong_logins(api, "nobody@example.com", 10)
    unknown = login(api, "nobody@example.com", WRONG, **STRANGER)
    wrong_logins(api, "alice@example.com", 10, first_ip=100)
    known = login(api, "alice@example.com", WRONG, **STRANGER)
    assert abs(retry_after(unknown) - retry_after(known)) <= 1
    assert unknown.get_json() == known.get_json()
    assert sorted(unknown.headers.keys()) == sorted(known.headers.keys())


def test_retry_after_doubles_on_the_second_trip(api, user):
    wrong_logins(api, "alice", 10)
    first = retry_after(login(api, "alice", PASSWORD))
    assert 15 * 60 - 10 <= first <= 15 * 60
    clock.advance(timedelta(seconds=first + 1))
    assert login(api, "alice", PASSWORD).status_code == 200  # open again for the owner
    wrong_logins(api, "alice", 10)
    second = retry_after(login(api, "alice", PASSWORD))
    assert 30 * 60 - 10 <= second <= 30 * 60


def test_at_most_50_failures_a_day(api, user):
    waits = []
    for _ in range(5):
        wrong_logins(api, "alice", 10)
        waits.append(retry_after(login(api, "alice", PASSWORD)))
        clock.advance(timedelta(seconds=waits[-1] - 5))
        assert_problem(login(api, "alice", PASSWORD), 429, "rate_limited")  # not quite yet
        clock.advance(timedelta(seconds=6))
    assert [round(w / 60) for w in waits[:4]] == [15, 30, 60, 120]
    assert waits[4] > 12 * 3600  # the 50th failure closes the day
    assert login(api, "alice", PASSWORD).status_code == 200


def test_the_owner_is_emailed_once_when_the_budget_trips(api, user, outbox):
    wrong_logins(api, "alice", 10)
    clock.advance(timedelta(minutes=15, seconds=1))
    wrong_logins(api, "alice", 10)
    locked = [m for m in outbox if m["kind"] == "account_locked"]
    assert len(locked) == 1 and locked[0]["to"] == ["alice@example.com"]
    wrong_logins(api, "nobody@example.com", 10)  # no account: nobody to email
    assert [m["kind"] for m in outbox].count("account_locked") == 1


def test_a_completed_reset_clears_the_budget(api, user, outbox):
    wrong_logins(api, "alice", 10)
    assert_problem(login(api, "alice", PASSWORD), 429, "rate_limited")
    assert api.post("/auth/forgot-password", {"email": "alice@example.com"}).status_code == 202
    body = {"token": reset_token(outbox), "password": NEW_PASSWORD}
    assert api.post("/auth/reset-password", body).status_code == 204
    assert login(api, "alice", NEW_PASSWORD, **STRANGER).status_code == 200


def test_a_sign_in_from_a_new_device_is_announced_a_known_one_is_not(api, user, outbox):
    device_token = api.login(**OWNER)["device_token"]
    assert outbox == []  # an account's first device becomes known quietly
    body = {"email": "alice", "password": PASSWORD, "device_token": device_token}
    assert api.post("/auth/login", body, **OWNER).status_code == 200
    assert outbox == []
    api.login(**STRANGER)  # another app, without the token
    assert [(m["kind"], m["to"]) for m in outbox] == [("new_sign_in", ["alice@example.com"])]
    assert "203.0.113.66" in outbox[-1]["text"]


# 9. Reset links die


def _change_password(api, token, outbox):
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert api.post("/users/me/password", body, token=token).status_code == 204


def _change_email(api, token, outbox):
    body = {"email": "new@example.com", "password": PASSWORD}
    assert api.patch("/users/me", body, token=token).status_code == 200
    code = last_code(outbox, "email_change")
    assert api.post("/users/me/email/confirm", {"code": code}, token=token).status_code == 200


def _ask_again(api, token, outbox):
    assert api.post("/auth/forgot-password", {"email": "alice@example.com"}).status_code == 202


def _disable(api, token, outbox):
    root = db.session.scalar(select(User).where(User.username == "root"))
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    admin.disable_user(root, alice.id, Origin("127.0.0.1", "test"), reason="Test")
    admin.enable_user(root, alice.id, Origin("127.0.0.1", "test"))


@pytest.mark.parametrize(
    "change",
    [_change_password, _change_email, _ask_again, _disable],
    ids=["password changed", "email changed", "newer link sent", "disabled"],
)
def test_a_reset_link_dies_when_the_account_changes(api, make_user, user, outbox, change):
    make_user(email="root@example.com", username="root", admin=True)
    token = api.login()["access_token"]
    assert api.post("/auth/forgot-password", {"email": "alice@example.com"}).status_code == 202
    link = reset_token(outbox)
    change(api, token, outbox)
    body = {"token": link, "password": "another fine passphrase"}
    assert_problem(api.post("/auth/reset-password", body), 400, "invalid_reset_token")


# 8. Email flooding


def test_fifteen_forgot_password_requests_send_at_most_three_emails_an_hour(api, user, outbox):
    api.login(**OWNER)  # the account's first device
    for n in range(15):
        body = {"email": "alice@example.com"}
        response = api.post("/auth/forgot-password", body, **from_ip(f"203.0.113.{n + 1}"))
        assert response.status_code == 202
    assert [m["kind"] for m in outbox].count("reset_password") == 3
    # security notices are never dropped
    api.login(**STRANGER)
    assert outbox[-1]["kind"] == "new_sign_in"
    clock.advance(timedelta(hours=1, seconds=1))
    api.post("/auth/forgot-password", {"email": "alice@example.com"})
    assert [m["kind"] for m in outbox].count("reset_password") == 4


def test_one_ip_gets_at_most_twenty_emails_an_hour(api, make_user, outbox):
    for n in range(25):
        make_user(email=f"person{n}@example.com", username=f"person{n}")
    for n in range(25):
        response = api.post(
            "/auth/forgot-password", {"email": f"person{n}@example.com"}, **STRANGER
        )
        assert response.status_code == 202
    assert len(outbox) == 20
    # another address asking is not held back
    api.post("/auth/forgot-password", {"email": "person24@example.com"}, **OWNER)
    assert len(outbox) == 21


def test_ten_sign_ups_with_a_taken_email_send_at_most_three_notes(api, user, outbox):
    for n in range(10):
        response = register(
            api, "alice@example.com", f"newcomer{n}", OWNER_PASSWORD, **from_ip(f"203.0.113.{n}")
        )
        assert response.status_code == 202
    assert [m["kind"] for m in outbox] == ["account_exists"] * 3


# Found while writing these tests, and fixed.


def test_signing_in_with_ones_own_pending_password_does_not_tell_taken_addresses(api, user, outbox):
    answers = []
    for email, name in (("alice@example.com", "mallory1"), ("free@example.com", "mallory2")):
        assert register(api, email, name, STRANGER_PASSWORD, **STRANGER).status_code == 202
        response = login(api, email, STRANGER_PASSWORD, **STRANGER)
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1]


def test_requests_beyond_the_email_cap_do_not_kill_the_emailed_reset_link(api, user, outbox):
    for n in range(4):
        body = {"email": "alice@example.com"}
        api.post("/auth/forgot-password", body, **from_ip(f"203.0.113.{n + 1}"))
    assert [m["kind"] for m in outbox].count("reset_password") == 3
    body = {"token": reset_token(outbox), "password": NEW_PASSWORD}
    assert api.post("/auth/reset-password", body).status_code == 204


def test_resends_beyond_the_email_cap_do_not_kill_the_emailed_code(api, outbox):
    register(api, VICTIM, "victim", OWNER_PASSWORD, **OWNER)
    for n in range(3):
        clock.advance(timedelta(minutes=1, seconds=1))
        api.post("/auth/verify/resend", {"email": VICTIM}, **from_ip(f"203.0.113.{n + 1}"))
    assert [m["kind"] for m in outbox].count("verify_email") == 3
    assert verify(api, VICTIM, last_code(outbox), **OWNER).status_code == 200
