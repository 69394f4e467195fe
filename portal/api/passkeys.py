"""/users/me/passkeys and /auth/passkey: manage passkeys, sign in with one (WebAuthn JSON)."""

from portal.api import bp
from portal.api.auth import AUTH_RATE_LIMIT_SETTING, no_content, signed_in, with_proof
from portal.api.bearer import current_session, current_user
from portal.api.schemas import (
    CreationOptionsOut,
    PasskeyAddRequest,
    PasskeyList,
    PasskeyOut,
    PasskeyRenameRequest,
    PasskeySignInRequest,
    ReauthRequest,
    RequestOptionsOut,
    TokensOut,
)
from portal.api.spec import operation
from portal.flows import passkeys
from portal.origin import Origin


@operation(
    bp,
    "POST",
    "/users/me/passkeys/options",
    tag="passkeys",
    body=ReauthRequest,
    response=CreationOptionsOut,
    auth=True,
)
def passkey_creation_options(data: ReauthRequest):
    """Options to create a passkey (navigator.credentials.create or a platform API).

    Needs re-authentication (`password`, and `code` with an authenticator app on). The
    challenge inside is good for 5 minutes, once, for this session.
    """
    options = with_proof(passkeys.registration_options, data)
    return CreationOptionsOut(publicKey=options).model_dump(mode="json")


@operation(
    bp,
    "POST",
    "/users/me/passkeys",
    tag="passkeys",
    status=201,
    body=PasskeyAddRequest,
    response=PasskeyOut,
    auth=True,
)
def add_passkey(data: PasskeyAddRequest):
    """Add the passkey the authenticator created from the options; answers with it.

    A credential that does not verify (wrong origin or RP ID, no user verification, an
    expired or used challenge) is 422 on `credential`. The owner is emailed
    (`passkey_added`).
    """
    passkey = passkeys.add_passkey(
        current_user(), current_session(), data.credential, data.name, Origin.of_request()
    )
    return PasskeyOut.of(passkey).model_dump(mode="json"), 201


@operation(bp, "GET", "/users/me/passkeys", tag="passkeys", response=PasskeyList, auth=True)
def list_passkeys():
    """The account's passkeys, oldest first."""
    items = [PasskeyOut.of(p) for p in passkeys.list_passkeys(current_user())]
    return PasskeyList(passkeys=items).model_dump(mode="json")


@operation(
    bp,
    "PATCH",
    "/users/me/passkeys/<uuid:passkey_id>",
    tag="passkeys",
    body=PasskeyRenameRequest,
    response=PasskeyOut,
    auth=True,
    errors=(404,),
)
def rename_passkey(passkey_id, data: PasskeyRenameRequest):
    """Rename a passkey (anyone else's is 404)."""
    passkey = passkeys.rename_passkey(current_user(), passkey_id, data.name, Origin.of_request())
    return PasskeyOut.of(passkey).model_dump(mode="json")


@operation(
    bp,
    "DELETE",
    "/users/me/passkeys/<uuid:passkey_id>",
    tag="passkeys",
    status=204,
    body=ReauthRequest,
    auth=True,
    errors=(404,),
)
def remove_passkey(passkey_id, data: ReauthRequest):
    """Remove a passkey: it no longer signs in (anyone else's is 404).

    Needs re-authentication (`password`, and `code` with an authenticator app on).
    """
    with_proof(passkeys.remove_passkey, data, passkey_id)
    return no_content()


@operation(
    bp,
    "POST",
    "/auth/passkey/options",
    tag="auth",
    response=RequestOptionsOut,
    limit=AUTH_RATE_LIMIT_SETTING,
)
def passkey_request_options():
    """Options to sign in with a passkey (navigator.credentials.get or a platform API).

    No account is named: the authenticator offers the passkeys it holds for this site. Send
    the assertion with `challenge_id` to POST /auth/passkey within 5 minutes.
    """
    challenge_id, options = passkeys.authentication_options()
    return RequestOptionsOut(publicKey=options, challenge_id=challenge_id).model_dump(mode="json")


@operation(
    bp,
    "POST",
    "/auth/passkey",
    tag="auth",
    body=PasskeySignInRequest,
    response=TokensOut,
    errors=(401, 403),
    limit=AUTH_RATE_LIMIT_SETTING,
)
def passkey_sign_in(data: PasskeySignInRequest):
    """Sign in with a passkey (user verification required: no second step); tokens.

    A passkey that is unknown, does not verify, or whose sign count did not move forward (a
    copied authenticator; recorded): 401 `invalid_credentials`. Never held back by the
    guessing budget of password sign-in.
    """
    return signed_in(
        passkeys.sign_in_with_passkey,
        data.challenge_id,
        data.credential,
        device_token=data.device_token,
    )
