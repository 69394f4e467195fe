"""/users/me/mfa and /auth/mfa: the authenticator app, recovery codes, the second step."""

from portal.api import bp
from portal.api.auth import AUTH_RATE_LIMIT_SETTING, no_content, signed_in, with_proof
from portal.api.bearer import current_session, current_user
from portal.api.schemas import (
    MfaRequest,
    ReauthRequest,
    RecoveryCodesOut,
    TokensOut,
    TotpCodeRequest,
    TotpSetupOut,
)
from portal.api.spec import operation
from portal.flows import mfa, totp
from portal.origin import Origin


@operation(
    bp,
    "POST",
    "/users/me/mfa/totp",
    tag="mfa",
    body=ReauthRequest,
    response=TotpSetupOut,
    auth=True,
    errors=(409,),
)
def start_totp(data: ReauthRequest):
    """Start setting up an authenticator app: a new secret and its otpauth:// URI.

    Needs re-authentication (`password`). Nothing changes until POST
    /users/me/mfa/totp/confirm with a first code; starting again replaces the secret. TOTP
    already on: 409 `totp_already_enabled`.
    """
    secret, uri = with_proof(totp.begin_setup, data)
    return TotpSetupOut(secret=secret, otpauth_uri=uri).model_dump(mode="json")


@operation(
    bp,
    "POST",
    "/users/me/mfa/totp/confirm",
    tag="mfa",
    body=TotpCodeRequest,
    response=RecoveryCodesOut,
    auth=True,
    errors=(409,),
)
def confirm_totp(data: TotpCodeRequest):
    """Turn the authenticator app on with a first code; answers with 10 recovery codes.

    The codes are shown only in this answer. A wrong code is 422 on `code`. The owner is
    emailed (`mfa_enabled`).
    """
    codes = totp.confirm_setup(current_user(), current_session(), data.code, Origin.of_request())
    return RecoveryCodesOut(recovery_codes=codes).model_dump(mode="json")


@operation(
    bp,
    "DELETE",
    "/users/me/mfa/totp",
    tag="mfa",
    status=204,
    body=ReauthRequest,
    auth=True,
    errors=(409,),
)
def disable_totp(data: ReauthRequest):
    """Turn the authenticator app off; its recovery codes stop working too.

    Needs re-authentication: `password` and `code` (a code from the app or a recovery code).
    Off already: 409 `totp_not_enabled`. The owner is emailed (`mfa_disabled`).
    """
    with_proof(totp.disable, data)
    return no_content()


@operation(
    bp,
    "POST",
    "/users/me/mfa/recovery-codes",
    tag="mfa",
    body=ReauthRequest,
    response=RecoveryCodesOut,
    auth=True,
    errors=(409,),
)
def new_recovery_codes(data: ReauthRequest):
    """Make 10 new recovery codes; the old ones stop working.

    Needs re-authentication (`password` and `code`). Without an authenticator app: 409
    `totp_not_enabled`.
    """
    codes = with_proof(totp.new_recovery_codes, data)
    return RecoveryCodesOut(recovery_codes=codes).model_dump(mode="json")


@operation(
    bp,
    "POST",
    "/auth/mfa",
    tag="auth",
    body=MfaRequest,
    response=TokensOut,
    errors=(400, 401, 429),
    limit=AUTH_RATE_LIMIT_SETTING,
)
def second_step(data: MfaRequest):
    """Finish a sign-in that answered 403 `mfa_required`: the `mfa_token` and a `code` from
    the authenticator app (or a `recovery_code`); answers with tokens.

    Wrong code: 400 `invalid_code` (it spends the account's guessing budget: 429 once
    spent; the owner is emailed after the first). The token is single use, lives 5 minutes
    and dies after 3 wrong codes or a password change: then 401 `invalid_token`, and the
    sign-in starts again at /auth/login.
    """
    return signed_in(
        mfa.complete_second_step,
        data.mfa_token,
        code=data.code,
        recovery_code=data.recovery_code,
        device_token=data.device_token,
    )
