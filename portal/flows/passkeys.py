"""Passkeys (WebAuthn): add, name, remove; sign in; prove it's you (README "Two-step sign-in").

Discoverable credentials with user verification required: a passkey sign-in is both factors
at once, needs no username, and is never held back by the guessing budget (nothing is
guessed: a signature either verifies or not). py_webauthn checks every ceremony; here live
the rules around it: challenges are single use, minutes long and bound to their purpose (and
for adding a passkey or re-authenticating, to the account and session); a sign count that
does not move forward betrays a cloned authenticator, so it is refused and recorded.

The RP ID is the host of PORTAL_BASE_URL (or WEBAUTHN_RP_ID); allowed origins are the base
URL's plus WEBAUTHN_ORIGINS (native apps)."""

import json
import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import webauthn
from flask import current_app
from sqlalchemy import select
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal import clock
from portal.extensions import db
from portal.flows import FlowError, events, invalid, reauth
from portal.flows.accounts import notify
from portal.models import Passkey, User, UserSession, WebAuthnChallenge, forget_mfa_summary
from portal.origin import Origin

CHALLENGE_LIFETIME = timedelta(minutes=5)
TIMEOUT_MS = 5 * 60 * 1000
NAME_MAX = 64
SIGN_IN, REGISTER, REAUTH = "sign_in", "register", "reauth"
METHOD = "passkey"


# -- where passkeys work ----------------------------------------------------------------------


def rp_id() -> str:
    config = current_app.config
    return (config["WEBAUTHN_RP_ID"] or urlsplit(config["PORTAL_BASE_URL"]).hostname or "").lower()


def origins() -> list[str]:
    """The base URL's origin, then WEBAUTHN_ORIGINS (apps, sibling sites)."""
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    extra = [o.strip().rstrip("/") for o in current_app.config["WEBAUTHN_ORIGINS"].split(",")]
    return [f"{base.scheme}://{base.netloc}", *[o for o in extra if o]]


def _expected(parsed, row) -> dict:
    """What every credential must match: the challenge this site issued, this site's RP ID
    and origins, and user verification (a passkey alone is both factors)."""
    return {
        "credential": parsed,
        "expected_challenge": row.challenge,
        "expected_rp_id": rp_id(),
        "expected_origin": origins(),
        "require_user_verification": True,
    }


# -- challenges -------------------------------------------------------------------------------


def _new_challenge(purpose: str, user: User | None, session: UserSession | None):
    now = clock.utcnow()
    row = WebAuthnChallenge(
        id=uuid.uuid4(),
        purpose=purpose,
        user_id=user.id if user is not None else None,
        session_id=session.id if session is not None else None,
        challenge=secrets.token_bytes(32),
        created_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    db.session.add(row)
    return row


def _spend_challenge(
    purpose: str,
    *,
    challenge: bytes | None = None,
    challenge_id=None,
    user: User | None = None,
    session: UserSession | None = None,
):
    """The live challenge, locked and marked used (the caller commits), or None."""
    query = select(WebAuthnChallenge).where(
        WebAuthnChallenge.purpose == purpose,
        WebAuthnChallenge.used_at.is_(None),
        WebAuthnChallenge.expires_at > clock.utcnow(),
    )
    if challenge_id is not None:
        try:
            query = query.where(WebAuthnChallenge.id == uuid.UUID(str(challenge_id)))
        except ValueError:
            return None
    if challenge is not None:
        query = query.where(WebAuthnChallenge.challenge == challenge)
    if user is not None:
        query = query.where(WebAuthnChallenge.user_id == user.id)
    if session is not None:
        query = query.where(WebAuthnChallenge.session_id == session.id)
    row = db.session.scalar(query.with_for_update().execution_options(populate_existing=True))
    if row is not None:
        row.used_at = clock.utcnow()
    return row


def _options_json(options) -> dict:
    return json.loads(webauthn.options_to_json(options))


# -- adding and managing ----------------------------------------------------------------------


def clean_name(name, origin: Origin | None = None) -> str:
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        return f"Passkey on {origin.device}"[:NAME_MAX] if origin is not None else "Passkey"
    if len(name) > NAME_MAX:
        raise invalid({"name": [f"Keep the name under {NAME_MAX} characters."]})
    return name


def registration_options(
    user: User, session: UserSession | None, password, origin: Origin, *, code=None
) -> dict:
    """After re-authentication: creation options (WebAuthn JSON) for a new passkey of this
    account, its challenge bound to this session. Commits."""
    reauth.confirm_identity(user, session, password, origin, code=code)
    row = _new_challenge(REGISTER, user, session)
    existing = db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)).all()
    options = webauthn.generate_registration_options(
        rp_id=rp_id(),
        rp_name=current_app.config["WEBAUTHN_RP_NAME"],
        user_id=user.id.bytes,  # the user handle: random, says nothing about the person
        user_name=user.email,
        user_display_name=user.username,
        challenge=row.challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in existing],
    )
    db.session.commit()
    return _options_json(options)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for value in passkey.transports or []:
        try:
            transports.append(AuthenticatorTransport(value))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports or None)


def _bad_credential(message: str = "This passkey could not be checked. Try again.") -> FlowError:
    return invalid({"credential": [message]})


def add_passkey(
    user: User, session: UserSession | None, credential, name, origin: Origin
) -> Passkey:
    """Keep the passkey the authenticator made for the options this session asked for (the
    re-authentication happened then). The owner is emailed. Commits."""
    name = clean_name(name, origin)
    try:
        parsed = parse_registration_credential_json(credential)
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
    except Exception:  # any malformed input is one kind of refusal here
        raise _bad_credential() from None
    row = _spend_challenge(REGISTER, challenge=challenge, user=user, session=session)
    if row is None:
        raise _bad_credential("This request has expired. Start adding the passkey again.")
    try:
        verified = webauthn.verify_registration_response(**_expected(parsed, row))
    except Exception:
        db.session.commit()  # the challenge stays spent
        raise _bad_credential() from None
    taken = db.session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if taken is not None:
        db.session.commit()
        raise _bad_credential("This passkey is already added.")
    passkey = Passkey(
        id=uuid.uuid4(),
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        aaguid=verified.aaguid,
        transports=[t.value for t in (parsed.response.transports or [])],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        created_at=clock.utcnow(),
    )
    db.session.add(passkey)
    forget_mfa_summary(user)
    if session is not None:
        session.second_factor = METHOD
    events.record("passkey_added", user, origin=origin, session=session, name=name)
    notify(user, "passkey_added", origin=origin, name=name, device=origin.device)
    db.session.commit()
    return passkey


def list_passkeys(user: User) -> list[Passkey]:
    return list(
        db.session.scalars(
            select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at)
        )
    )


def get_own_passkey(user: User, passkey_id) -> Passkey:
    """One passkey of this account; anyone else's is 'not found', never 'forbidden'."""
    try:
        pid = passkey_id if isinstance(passkey_id, uuid.UUID) else uuid.UUID(str(passkey_id))
    except ValueError:
        raise FlowError("not_found", "That passkey does not exist.") from None
    passkey = db.session.scalar(
        select(Passkey).where(Passkey.id == pid, Passkey.user_id == user.id)
    )
    if passkey is None:
        raise FlowError("not_found", "That passkey does not exist.")
    return passkey


def rename_passkey(user: User, passkey_id, name, origin: Origin) -> Passkey:
    passkey = get_own_passkey(user, passkey_id)
    if not isinstance(name, str) or not name.strip():
        raise invalid({"name": ["Give the passkey a name."]})
    old, passkey.name = passkey.name, clean_name(name)
    events.record("passkey_renamed", user, origin=origin, old=old, new=passkey.name)
    db.session.commit()
    return passkey


def remove_passkey(
    user: User, session: UserSession | None, passkey_id, password, origin: Origin, *, code=None
) -> None:
    """After re-authentication: the passkey no longer signs in. Commits."""
    passkey = get_own_passkey(user, passkey_id)
    reauth.confirm_identity(user, session, password, origin, code=code)
    name = passkey.name
    db.session.delete(passkey)
    forget_mfa_summary(user)
    events.record("passkey_removed", user, origin=origin, session=session, name=name)
    db.session.commit()


def remove_by_admin(admin: User, user: User, passkey_id, reason, origin: Origin) -> str:
    """An admin removes one passkey of an account (lost device); recorded, naming the admin.
    Returns its name. Commits."""
    from portal.flows.admin import clean_reason

    reason = clean_reason(reason, required=False)
    passkey = get_own_passkey(user, passkey_id)
    name = passkey.name
    db.session.delete(passkey)
    forget_mfa_summary(user)
    events.record(
        "passkey_removed", user, origin=origin, actor=admin, name=name, reason=reason or None
    )
    db.session.commit()
    return name


# -- signing in and proving it's you ------------------------------------------------------


def authentication_options(
    purpose: str = SIGN_IN, user: User | None = None, session: UserSession | None = None
) -> tuple[str, dict]:
    """(challenge_id, request options as WebAuthn JSON). For sign-in no account is named: the
    browser offers whichever passkeys it holds for this site. Commits."""
    row = _new_challenge(purpose, user, session)
    allow = []
    if purpose == REAUTH and user is not None:
        allow = [_descriptor(p) for p in list_passkeys(user)]
    options = webauthn.generate_authentication_options(
        rp_id=rp_id(),
        challenge=row.challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    db.session.commit()
    return str(row.id), _options_json(options)


def _refused(message: str = "That passkey could not sign you in.") -> FlowError:
    return FlowError("invalid_credentials", message)


def _verify_assertion(
    purpose: str, challenge_id, credential, origin: Origin, *, user=None, session=None
) -> Passkey:
    """A verified assertion for a live challenge: the passkey, its counter moved on (caller
    commits). Refusals raise 401 `invalid_credentials`; a counter that did not move forward
    is recorded (a cloned authenticator, or a replay)."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except Exception:
        raise _refused() from None
    row = _spend_challenge(purpose, challenge_id=challenge_id, user=user, session=session)
    if row is None:
        db.session.commit()
        raise _refused("This passkey request has expired. Try again.")
    passkey = db.session.scalar(
        select(Passkey)
        .where(Passkey.credential_id == parsed.raw_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if passkey is None or (user is not None and passkey.user_id != user.id):
        events.record("passkey_sign_in_failed", user, origin=origin, reason="unknown passkey")
        db.session.commit()
        raise _refused("This passkey is not (or no longer) linked to an account here.")
    owner = db.session.get(User, passkey.user_id)
    handle = parsed.response.user_handle
    try:
        # The counter is checked below, after the signature, so that only the real
        # authenticator's assertions are recorded as a cloned one's.
        verified = webauthn.verify_authentication_response(
            **_expected(parsed, row),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
        )
    except Exception:
        verified = None
    if verified is None or (handle and handle != owner.id.bytes):
        events.record("passkey_sign_in_failed", owner, origin=origin, name=passkey.name)
        db.session.commit()
        raise _refused()
    presented, stored = verified.new_sign_count, passkey.sign_count
    if (presented or stored) and presented <= stored:
        events.record(
            "passkey_counter_refused",
            owner,
            origin=origin,
            name=passkey.name,
            stored=stored,
            presented=presented,
        )
        db.session.commit()
        raise _refused(
            "This passkey was refused: its use counter went back, which happens when an "
            "authenticator was copied. Use another way to sign in."
        )
    passkey.sign_count = presented
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = clock.utcnow()
    return passkey


def sign_in_with_passkey(
    challenge_id, credential, origin: Origin, *, kind: str = "web", device_token=None
):
    """A passkey with user verification: both factors, a session at once. Commits."""
    from portal.flows.signin import complete_sign_in

    passkey = _verify_assertion(SIGN_IN, challenge_id, credential, origin)
    user = db.session.get(User, passkey.user_id)
    if not user.is_active:
        db.session.commit()
        raise FlowError(
            "account_disabled", "This account has been disabled. Contact support for help."
        )
    return complete_sign_in(
        user, kind, origin, device_token, second_factor=METHOD, method=METHOD, name=passkey.name
    )


def confirm_identity_with_passkey(
    user: User, session: UserSession | None, challenge_id, credential, origin: Origin
) -> None:
    """Re-authentication with one of the account's passkeys (user verified). Commits."""
    try:
        passkey = _verify_assertion(
            REAUTH, challenge_id, credential, origin, user=user, session=session
        )
    except FlowError as error:
        reauth.refuse(user, session, origin, {"credential": [error.message]})
    reauth.proven(session)
    events.record("reauthenticated", user, origin=origin, session=session, name=passkey.name)
    db.session.commit()
