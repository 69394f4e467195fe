"""Bearer tokens (flask-jwt-extended setup): every authenticated request loads its session
and user in one statement, and every flask-jwt-extended failure becomes a 401 problem+json
(some default to 422).

flask-jwt-extended signs every token and decodes the refresh token; an API call's access
token is checked here (`require_access_token`), with the same rules and answers, in one
decode: flask-jwt-extended parses a bearer token four times (unverified claims for the key
loader, the verified decode, the header twice), a tenth of a small API call.
"""

from functools import wraps

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import get_current_user
from jwt import InvalidAudienceError, InvalidIssuerError

from portal.extensions import jwt
from portal.flows.sessions import load_active_session, touch
from portal.models import User, UserSession
from portal.origin import Origin
from portal.problems import problem

BEARER = {"WWW-Authenticate": 'Bearer realm="portal"'}


def unauthorized(code: str, detail: str):
    return problem(401, code, detail, headers=BEARER)


def current_user() -> User:
    return get_current_user()


def current_session() -> UserSession:
    return get_current_user().current_session


@jwt.decode_key_loader
def _key_for_our_tokens(_header: dict, claims: dict) -> str:
    """The signing key, for tokens this portal issued for its API (every decode passes here:
    bearer tokens and the refresh view's decode_token alike).

    `iss` must be PORTAL_BASE_URL and `aud` portal-api when present. Tokens signed before
    they carried them have neither and are accepted until they expire (7 days at most), so
    nobody is signed out by the change. PyJWT's own checks cannot express that: it refuses a
    token without `aud` once an audience is configured, so JWT_DECODE_AUDIENCE stays unset.
    The claims are not verified yet here; the signature is checked right after, and a
    refusal answers 401 invalid_token either way.
    """
    _check_issuer_and_audience(claims)
    return current_app.config["JWT_SECRET_KEY"]


def _check_issuer_and_audience(claims: dict) -> None:
    config = current_app.config
    if "iss" in claims and claims["iss"] != config["PORTAL_BASE_URL"]:
        raise InvalidIssuerError("Invalid issuer")
    if "aud" in claims and claims["aud"] != config["API_TOKEN_AUDIENCE"]:
        raise InvalidAudienceError("Invalid audience")


def require_access_token(view):
    """The view runs for a valid access token of an active API session; otherwise 401
    problem+json: invalid_token (missing, malformed, forged, another issuer or audience, a
    refresh token), token_expired, or session_ended. current_user() and current_session()
    (and flask-jwt-extended's get_jwt(), get_current_user()) work in the view."""

    @wraps(view)
    def guarded(*args, **kwargs):
        token = _bearer_token()
        if token is None:
            return _missing("no bearer token")
        config = current_app.config
        try:
            claims = pyjwt.decode(
                token,
                config["JWT_SECRET_KEY"],
                algorithms=config["JWT_DECODE_ALGORITHMS"],
                leeway=config["JWT_DECODE_LEEWAY"],
                options={"verify_aud": False, "require": ["exp", "sub", "type"]},
            )
            _check_issuer_and_audience(claims)
        except pyjwt.ExpiredSignatureError:
            # Signed by us but expired: told so, unless it was never meant for this API.
            return _expired_or_foreign(token)
        except pyjwt.InvalidTokenError:
            return _invalid("not a token of ours")
        if claims["type"] != "access":
            return _invalid("not an access token")
        user = _load_user(None, claims)
        if user is None:
            return _lookup_failed(None, claims)
        # Where flask-jwt-extended keeps them, so its get_jwt() and get_current_user() work.
        g._jwt_extended_jwt = claims
        g._jwt_extended_jwt_header = {}
        g._jwt_extended_jwt_user = {"loaded_user": user}
        g._jwt_extended_jwt_location = "headers"
        return view(*args, **kwargs)

    return guarded


def _expired_or_foreign(token: str):
    claims = pyjwt.decode(
        token,
        current_app.config["JWT_SECRET_KEY"],
        algorithms=current_app.config["JWT_DECODE_ALGORITHMS"],
        options={"verify_exp": False, "verify_aud": False},
    )
    try:
        _check_issuer_and_audience(claims)
    except pyjwt.InvalidTokenError:
        return _invalid("another issuer or audience")
    return _expired(None, claims)


def _bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>` (other schemes in the header are
    ignored, as flask-jwt-extended does), or None."""
    for value in request.headers.get("Authorization", "").split(","):
        scheme, _, token = value.strip().partition(" ")
        if scheme == "Bearer" and token.strip() and " " not in token.strip():
            return token.strip()
    return None


# The API answers that show the account's second-factor summary (api/schemas.py UserOut).
SHOWS_MFA_SUMMARY = frozenset({"api.me", "api.update_me"})


@jwt.user_lookup_loader
def _load_user(_header: dict, claims: dict) -> User | None:
    """The `sid` session must be active and belong to `sub` (session + user: one SELECT)."""
    loaded = load_active_session(
        claims.get("sid"), mfa_summary=request.endpoint in SHOWS_MFA_SUMMARY
    )
    if loaded is None:
        return None
    session, user = loaded
    if str(user.id) != claims.get("sub") or session.kind != "api":
        return None
    touch(session, Origin.of_request())
    return user


@jwt.user_lookup_error_loader
def _lookup_failed(_header, _claims):
    return unauthorized("session_ended", "This session has ended. Sign in again.")


@jwt.expired_token_loader
def _expired(_header, claims):
    kind = "refresh" if claims.get("type") == "refresh" else "access"
    return unauthorized("token_expired", f"The {kind} token has expired.")


@jwt.invalid_token_loader
def _invalid(reason: str):
    return unauthorized("invalid_token", "The token is not valid.")


@jwt.unauthorized_loader
def _missing(reason: str):
    return unauthorized(
        "invalid_token", "Send an access token: Authorization: Bearer <access_token>."
    )


@jwt.revoked_token_loader
def _revoked(_header, _claims):
    return unauthorized("session_ended", "This session has ended. Sign in again.")


@jwt.needs_fresh_token_loader
def _not_fresh(_header, _claims):
    return unauthorized("invalid_token", "Sign in again to do this.")


@jwt.token_verification_failed_loader
def _verification_failed(_header, _claims):
    return unauthorized("invalid_token", "The token is not valid.")
