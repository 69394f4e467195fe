"""/users: the signed-in account (read, change, delete) and admin deletion of others."""

from portal.api import bp
from portal.api.auth import no_content
from portal.api.bearer import current_session, current_user
from portal.api.schemas import (
    ChangePasswordRequest,
    CodeRequest,
    PasswordRequest,
    ProfileUpdateRequest,
    UserOut,
)
from portal.api.spec import operation
from portal.flows import FlowError, admin, mfa, profile
from portal.origin import Origin


def user_response(user) -> UserOut:
    return UserOut.of(user)


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

    Fields left out stay as they are; both change or neither does. A new email is not used
    until confirmed: a code is sent to it and it shows as `pending_email` until POST
    /users/me/email/confirm. A new email (the current one in another case is no change)
    needs `password` (re-authentication; and `code` when the account has an authenticator
    app); 5 wrong in a row end the session. Every bad field is named in one 422; a taken
    username alone is 409 `username_taken`.
    At most 5 codes an hour: 429 `rate_limited`.
    """
    user = profile.update_profile(
        current_user(),
        current_session(),
        Origin.of_request(),
        username=data.username,
        email=data.email,
        password=data.password,
        code=data.code,
    )
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
    user = profile.confirm_email_change(current_user(), data.code, Origin.of_request())
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
        Origin.of_request(),
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
        current_user(), data.password, current_session(), Origin.of_request(), code=data.code
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
    admin.delete_user(user, user_id, Origin.of_request())
    return no_content()
