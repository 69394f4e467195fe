"""/users: the signed-in account (read, change, delete) and admin deletion of others."""

from portal.api import bp
from portal.api.auth import no_content
from portal.api.schemas import (
    ChangePasswordRequest,
    CodeRequest,
    PasswordRequest,
    ProfileUpdateRequest,
    UserOut,
)
from portal.api.spec import operation
from portal.api.tokens import current_session, current_user
from portal.client import Client
from portal.flows import FlowError, admin, invalid, mfa, profile, reauth
from portal.flows.validation import normalize_email


def user_response(user):
    return UserOut.of(user).model_dump(mode="json")


@operation(bp, "GET", "/users/me", tag="users", response=UserOut, auth=True)
def me():
    """The signed-in account."""
    return user_response(current_user())


@operation(
    bp,
    ("PATCH", "PUT"),
    "/users/me",
    tag="users",
    body=ProfileUpdateRequest,
    response=UserOut,
    auth=True,
    errors=(409, 429),
)
def update_me(data: ProfileUpdateRequest):
    """Change the username and/or ask to change the email (PUT is accepted too).

    Fields left out stay as they are. A new email is not used until confirmed: a code is sent
    to it and it shows as `pending_email` until POST /users/me/email/confirm. A new email
    needs `password` (re-authentication; and `code` when the account has an authenticator
    app); 5 wrong in a row end the session.
    At most 5 codes an hour: 429 `rate_limited`.
    """
    user, session, client = current_user(), current_session(), Client.from_request()
    if data.email is not None:
        # Check the address before changing anything, so a bad one changes nothing.
        _, problem = normalize_email(data.email)
        if problem:
            raise invalid({"email": [problem]})
    new_email = data.email is not None and data.email.strip().lower() != user.email
    password = data.password
    if new_email and data.username is not None:
        # Likewise the password: a refused re-authentication leaves the username as it was.
        reauth.confirm_identity(user, session, password, client, code=data.code)
        password = None  # proven a moment ago on this session
    if data.username is not None:
        profile.change_username(user, data.username, client)
    if new_email:
        profile.request_email_change(user, data.email, password, session, client, code=data.code)
    return user_response(user)


@operation(
    bp,
    "POST",
    "/users/me/email/confirm",
    tag="users",
    body=CodeRequest,
    response=UserOut,
    auth=True,
    errors=(429,),
)
def confirm_email(data: CodeRequest):
    """Confirm the new email with the code sent to it; answers with the changed account.

    Wrong code: 400 `invalid_code` (`code_expired`, `code_used_up` as for sign-up). Wrong
    codes spend the account's guessing budget: 429 `rate_limited` once it is spent.
    """
    user = profile.confirm_email_change(current_user(), data.code, Client.from_request())
    return user_response(user)


@operation(
    bp,
    "POST",
    "/users/me/password",
    tag="users",
    status=204,
    body=ChangePasswordRequest,
    auth=True,
)
def change_password(data: ChangePasswordRequest):
    """Change the password (the current one is required); every other session ends.

    A wrong `current_password` is 422 on that field; 5 wrong in a row end this session
    (401 `session_ended`). With an authenticator app on, `code` is required too.
    """
    profile.change_password(
        current_user(),
        data.current_password,
        data.new_password,
        current_session(),
        Client.from_request(),
        code=data.code,
    )
    return no_content()


@operation(bp, "DELETE", "/users/me", tag="users", status=204, body=PasswordRequest, auth=True)
def delete_me(data: PasswordRequest):
    """Delete the account for good (the password is required); every session ends.

    A wrong `password` is 422 on that field; 5 wrong in a row end this session (401
    `session_ended`). With an authenticator app on, `code` is required too.
    """
    profile.delete_account(
        current_user(), data.password, current_session(), Client.from_request(), code=data.code
    )
    return no_content()


@operation(bp, "DELETE", "/users/<user_id>", tag="admin", status=204, auth=True, errors=(403, 404))
def delete_user(user_id: str):
    """Delete another account (admins only; everyone else gets 403 `forbidden`)."""
    user = current_user()
    if not user.is_admin:
        raise FlowError("forbidden", "Only admins can delete other accounts.")
    if not mfa.admin_may_act(current_session()):
        raise FlowError("forbidden", mfa.ADMIN_NEEDS_MFA)
    admin.delete_user(user, user_id, Client.from_request())
    return no_content()
