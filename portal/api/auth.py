"""/auth: register, verify, sign in, refresh, sign out, forgotten password."""

from flask import current_app
from flask_jwt_extended import decode_token

from portal.api import bp
from portal.api.bearer import current_session, current_user, unauthorized
from portal.api.schemas import (
    Accepted,
    EmailRequest,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    TokensOut,
    UserOut,
    VerifyRequest,
)
from portal.api.spec import operation
from portal.flows import password_reset, signin, signup, token_pairs
from portal.origin import Origin

AUTH_RATE_LIMIT_SETTING = "API_AUTH_RATE_LIMIT"


def tokens_response(pair: token_pairs.TokenPair) -> TokensOut:
    # The model itself: the view's `operation` writes it as JSON in one go (api/spec.py).
    return TokensOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=UserOut.of(pair.user),
        device_token=pair.session.device_token,
    )


def signed_in(flow, *args, device_token: str | None, **kwargs):
    """Run a sign-in flow for this app (an API session on its device) and answer with the new
    session's tokens."""
    session = flow(*args, Origin.of_request(), kind="api", device_token=device_token, **kwargs)
    return tokens_response(token_pairs.issue_tokens(session))


def with_proof(flow, data, *args):
    """Call a flow that asks for re-authentication: as this token's account and session, with
    `args`, then the password and code the body gives (ReauthRequest)."""
    return flow(
        current_user(),
        current_session(),
        *args,
        data.password,
        Origin.of_request(),
        code=data.code,
    )


def accepted(detail: str):
    return Accepted(detail=detail).model_dump(mode="json"), 202


def no_content():
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]  # there is no body to describe
    return response


@operation(
    bp,
    "POST",
    "/auth/register",
    tag="auth",
    status=202,
    body=RegisterRequest,
    response=Accepted,
    errors=(409,),
    limit=AUTH_RATE_LIMIT_SETTING,
)
def register(data: RegisterRequest):
    """Create an account; a 6-digit code is emailed to confirm it.

    A taken email gets the same 202 (its owner is emailed instead), so this never tells who
    has an account. A taken username is 409 `username_taken`.
    """
    signup.sign_up(data.email, data.username, data.password, Origin.of_request())
    return accepted("Check your email for a 6-digit code, then POST it to /auth/verify.")


@operation(
    bp,
    "POST",
    "/auth/verify",
    tag="auth",
    body=VerifyRequest,
    response=TokensOut,
    errors=(429,),
    limit=AUTH_RATE_LIMIT_SETTING,
)
def verify(data: VerifyRequest):
    """Confirm a sign-up with its emailed code; the account is created, with tokens.

    Each sign-up has its own code. When more than one sign-up is waiting for the address,
    send the `password` chosen at sign-up too (422 on `password` otherwise). Wrong, expired
    or used-up code: 400 `invalid_code` (with the password: `code_expired` and
    `code_used_up` are told apart). Wrong codes spend the address's guessing budget: 429.
    """
    return signed_in(
        signup.verify_email,
        data.email,
        data.code,
        password=data.password,
        device_token=data.device_token,
    )


@operation(
    bp,
    "POST",
    "/auth/verify/resend",
    tag="auth",
    status=202,
    body=EmailRequest,
    response=Accepted,
    limit=AUTH_RATE_LIMIT_SETTING,
)
def resend_verification(data: EmailRequest):
    """Email fresh codes to the address's waiting sign-ups (one a minute; each replaces the
    previous one). Always 202, whether or not anything is waiting.
    """
    signup.resend_verification(data.email, Origin.of_request())
    return accepted("If that address is waiting for a code, a new one is on its way.")


@operation(
    bp,
    "POST",
    "/auth/login",
    tag="auth",
    body=LoginRequest,
    response=TokensOut,
    errors=(401, 403, 429),
    limit=AUTH_RATE_LIMIT_SETTING,
)
def login(data: LoginRequest):
    """Sign in with email or username and password; answers with tokens and a device token.

    Wrong email/username or password: 401 `invalid_credentials` (the same answer for both).
    The right password of a sign-up not confirmed yet: 403 `email_not_verified`, and a fresh
    code is emailed. 10 failures in 15 minutes for one account: 429 `rate_limited` with
    Retry-After, unless `device_token` names a device that signed in to it before.
    An account with an authenticator app answers 403 `mfa_required` with `mfa_token` and
    `methods` (["totp", "recovery_code"]): finish at POST /auth/mfa.
    """
    return signed_in(signin.sign_in, data.email, data.password, device_token=data.device_token)


@operation(
    bp,
    "POST",
    "/auth/refresh",
    tag="auth",
    body=RefreshRequest,
    response=TokensOut,
    errors=(401,),
    limit="API_REFRESH_RATE_LIMIT",
)
def refresh(data: RefreshRequest):
    """Exchange the refresh token for a new pair (rotation: the old one stops working).

    Presenting the previous refresh token within 10 seconds answers with the current pair;
    later, it counts as reuse: the session ends (401 `session_ended`) and the owner is emailed.
    """
    # Signature, algorithm and expiry are checked here; errors become 401 problem+json.
    claims = decode_token(data.refresh_token)
    if claims.get("type") != "refresh":
        return unauthorized("invalid_token", "Send a refresh token, not an access token.")
    return tokens_response(token_pairs.refresh_tokens(claims, Origin.of_request()))


@operation(bp, "POST", "/auth/logout", tag="auth", status=204, auth=True)
def logout():
    """Sign out: this session ends, its tokens stop working."""
    signin.sign_out(current_user(), current_session(), Origin.of_request())
    return no_content()


@operation(bp, "POST", "/auth/logout/all", tag="auth", status=204, auth=True)
def logout_all():
    """Sign out everywhere: every session of the account ends, web ones included."""
    signin.sign_out_everywhere(current_user(), Origin.of_request())
    return no_content()


@operation(
    bp,
    "POST",
    "/auth/forgot-password",
    tag="auth",
    status=202,
    body=EmailRequest,
    response=Accepted,
    limit=AUTH_RATE_LIMIT_SETTING,
)
def forgot_password(data: EmailRequest):
    """Email a password-reset link (valid 30 minutes, single use). Always 202.

    The link opens the web page; a client that reads the token from the link can also POST
    it to /auth/reset-password.
    """
    password_reset.request_password_reset(data.email, Origin.of_request())
    return accepted("If that address has an account, a reset link is on its way.")


@operation(
    bp,
    "POST",
    "/auth/reset-password",
    tag="auth",
    status=204,
    body=ResetPasswordRequest,
    limit=AUTH_RATE_LIMIT_SETTING,
)
def reset_password(data: ResetPasswordRequest):
    """Set a new password with the emailed token; every session ends (no sign-in).

    A wrong, used or expired token: 400 `invalid_reset_token`.
    """
    password_reset.reset_password(data.token, data.password, Origin.of_request())
    return no_content()
