"""Pydantic schemas: they validate request bodies and are the OpenAPI document's components.

Requests ignore unknown fields (so `is_admin` or `is_verified` in a body changes nothing).
Limits here are the outer shape; the flows own the finer rules (password strength, a taken
username...) and answer 422 `validation_error` the same way.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from portal import problem_codes
from portal.input_rules import (
    MAX_EMAIL,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    USERNAME_MIN,
    USERNAME_PATTERN_ANY_CASE,
)

Email = Field(
    min_length=1,
    max_length=MAX_EMAIL,
    description="An email address.",
    examples=["ada@example.com"],
    json_schema_extra={"format": "email"},
)


ReauthCode = Field(
    default=None,
    min_length=1,
    max_length=64,
    description="When the account has an authenticator app: a code from it, or a recovery "
    "code (re-authentication asks for both the password and a code).",
    examples=["123456"],
)


# What someone types as their password when it is checked, not chosen: any length a
# password could have been typed at (the hash decides).
AccountPassword = Field(min_length=1, max_length=PASSWORD_MAX * 4)

DeviceToken = Field(
    default=None, max_length=128, description="This app's device token, if it has one."
)


class Request(BaseModel):
    """A JSON request body: an object; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value):
        # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded: refuse them
        # here as bad input instead of failing in the database.
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("Must not contain NUL characters.")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("Must be valid Unicode text.") from None
        return value


class RegisterRequest(Request):
    email: str = Email
    username: str = Field(
        min_length=USERNAME_MIN,
        max_length=USERNAME_MAX,
        pattern=USERNAME_PATTERN_ANY_CASE,
        description=f"{USERNAME_MIN} to {USERNAME_MAX} of a-z 0-9 _ . - "
        "(case-insensitive, unique).",
        examples=["ada"],
    )
    password: str = Field(
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters; common passwords and ones "
        "close to the email or username are refused.",
        examples=["purple elephant paints quietly"],
    )


class VerifyRequest(Request):
    email: str = Email
    code: str = Field(
        min_length=1,
        max_length=32,
        description="The 6-digit code from the email.",
        examples=["123456"],
    )
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=PASSWORD_MAX * 4,
        description="The password chosen at sign-up: required when more than one sign-up "
        "is waiting for the address (each has its own code).",
    )
    device_token: str | None = DeviceToken


class EmailRequest(Request):
    email: str = Email


class LoginRequest(Request):
    email: str = Field(
        min_length=1,
        max_length=MAX_EMAIL,
        description="Email address or username.",
        examples=["ada@example.com"],
    )
    password: str = AccountPassword
    device_token: str | None = Field(
        default=None,
        max_length=128,
        description="The `device_token` an earlier sign-in on this app returned: this device "
        "then keeps its own guessing budget and is not announced as a new sign-in.",
    )


class RefreshRequest(Request):
    refresh_token: str = Field(min_length=1, max_length=4096)


class ResetPasswordRequest(Request):
    token: str = Field(
        min_length=1, max_length=256, description="The token from the emailed reset link."
    )
    password: str = Field(
        min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, description="The new password."
    )


class ProfileUpdateRequest(Request):
    username: str | None = Field(
        default=None,
        min_length=USERNAME_MIN,
        max_length=USERNAME_MAX,
        pattern=USERNAME_PATTERN_ANY_CASE,
        description="A new username.",
    )
    email: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_EMAIL,
        description="A new email address: a code is sent to it, and it replaces the current "
        "one only once confirmed (POST /users/me/email/confirm). Until then it is shown as "
        "`pending_email`.",
    )
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=PASSWORD_MAX * 4,
        description="The account's password: required with `email` (re-authentication).",
    )
    code: str | None = ReauthCode


class CodeRequest(Request):
    code: str = Field(min_length=1, max_length=32, description="The 6-digit code from the email.")


class ChangePasswordRequest(Request):
    current_password: str = AccountPassword
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    code: str | None = ReauthCode


# Responses (examples show in the docs page)

USER_EXAMPLE = {
    "id": "5f0c8a9e-2b1d-4c3e-9f7a-0d6e1b2c3a4f",
    "email": "ada@example.com",
    "username": "ada",
    "is_verified": True,
    "is_admin": False,
    "created_at": "2026-01-31T09:30:00Z",
    "pending_email": None,
    "mfa": {"totp": False, "passkeys": 1, "recovery_codes_left": 0},
}


class MfaOut(BaseModel):
    totp: bool = Field(description="Whether sign-in asks for an authenticator app code.")
    passkeys: int = Field(description="How many passkeys can sign in to the account.")
    recovery_codes_left: int = Field(description="Unused recovery codes.")


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    id: UUID
    email: str
    username: str
    is_verified: bool
    is_admin: bool
    created_at: datetime
    pending_email: str | None = Field(
        description="A new address waiting for its confirmation code, or null."
    )
    mfa: MfaOut = Field(description="Second factors: authenticator app, passkeys, codes left.")

    @classmethod
    def of(cls, user) -> "UserOut":
        return cls(
            id=user.id,
            email=user.email,
            username=user.username,
            is_verified=user.is_verified,
            is_admin=user.is_admin,
            created_at=user.created_at,
            pending_email=user.pending_email,
            # Loaded with the user, in the same statement (portal/models.py).
            mfa=MfaOut(
                totp=bool(user.totp_enabled),
                passkeys=user.passkey_count or 0,
                recovery_codes_left=user.recovery_codes_left or 0,
            ),
        )


class TokensOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "Bearer",
                    "expires_in": 1800,
                    "user": USER_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    user: UserOut
    device_token: str | None = Field(
        default=None,
        description="Keep it and send it back with each sign-in (POST /auth/login): this app "
        "is then a known device of the account.",
    )


class SessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7e4c1a-6d2f-4e8b-a3c5-9f1d2e3b4a5c",
                    "kind": "api",
                    "device": "PortalApp on iOS",
                    "ip_address": "203.0.113.7",
                    "created_at": "2026-01-31T09:30:00Z",
                    "last_seen_at": "2026-01-31T10:02:00Z",
                    "expires_at": "2026-02-07T09:30:00Z",
                    "is_current": True,
                }
            ]
        }
    )

    id: UUID
    kind: Literal["web", "api"]
    device: str
    ip_address: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    is_current: bool

    @classmethod
    def of(cls, session, current_id) -> "SessionOut":
        return cls(
            id=session.id,
            kind=session.kind,
            device=session.device_label,
            ip_address=session.ip_address,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
            is_current=session.id == current_id,
        )


class SessionList(BaseModel):
    sessions: list[SessionOut] = Field(description="Active sessions, newest first.")
    next_cursor: str | None = Field(
        default=None,
        description="Null on the last page; otherwise GET /sessions?cursor=<this> for more.",
    )


def session_list_json(rows, current_id, next_cursor: str | None) -> bytes:
    """GET /sessions's body from the list's rows (flows/sessions.py `_ACTIVE_SESSIONS_OF`):
    byte for byte what `SessionList.model_dump_json` writes (tests/api/
    test_api_sessions_pages.py), written by orjson without validating again what the
    database just gave. A page holds up to 100 sessions; through pydantic they were a third
    of the request. Rows are read by position, their names once (a row's attributes by name
    cost as much as the rest of it)."""
    sessions = []
    if rows:
        names = tuple(_SESSION_FIELDS.get(name, name) for name in rows[0]._fields)
        current = str(current_id)  # ids are text already (uuid_text)
        for row in rows:
            session = dict(zip(names, row, strict=True))
            session["is_current"] = session["id"] == current
            sessions.append(session)
    return orjson.dumps({"sessions": sessions, "next_cursor": next_cursor}, option=_AS_PYDANTIC)


# A session row's column names that SessionOut calls otherwise.
_SESSION_FIELDS = {"device_label": "device"}
# orjson writes aware UTC times with "Z" and microseconds only when there are some, as
# pydantic does (and naive ones, from SQLite, as UTC).
_AS_PYDANTIC = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


class Accepted(BaseModel):
    detail: str


class Problem(BaseModel):
    """An error (RFC 9457 application/problem+json)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://portal.invalid/problems/validation-error",
                    "title": "Unprocessable content",
                    "status": 422,
                    "detail": "Use 3 to 32 characters.",
                    "code": "validation_error",
                    "errors": {"username": ["Use 3 to 32 characters."]},
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(
        description="Stable, machine-readable error code: "
        + ", ".join(problem_codes.CODES)
        + f" ({problem_codes.OTHER} for any other HTTP error)."
    )
    errors: dict[str, list[str]] | None = Field(
        default=None, description="Messages per field (validation_error only)."
    )
    mfa_token: str | None = Field(
        default=None,
        description="mfa_required only: spend it at POST /auth/mfa within 5 minutes.",
    )
    methods: list[str] | None = Field(
        default=None,
        description='mfa_required only: what /auth/mfa accepts, ["totp", "recovery_code"].',
    )


# Second factor and passkeys (README "Two-step sign-in")

WebAuthnJSON = dict[str, Any]


class ReauthRequest(Request):
    """Re-authentication: the password, and a code when the account has an authenticator
    app. Both may be left out within 10 minutes of a proof given on this session."""

    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=PASSWORD_MAX * 4,
        description="The account's password.",
    )
    code: str | None = ReauthCode


class PasswordRequest(ReauthRequest):
    password: str = AccountPassword


class TotpCodeRequest(Request):
    code: str = Field(
        min_length=1,
        max_length=16,
        description="The 6-digit code the authenticator app shows.",
        examples=["123456"],
    )


class TotpSetupOut(BaseModel):
    secret: str = Field(description="Base32 secret, for typing into the app by hand.")
    otpauth_uri: str = Field(description="otpauth://totp/... for a QR code.")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="10 single-use codes, shown only now: ask the person to keep them."
    )


class MfaRequest(Request):
    mfa_token: str = Field(
        min_length=1, max_length=256, description="From the 403 mfa_required answer of login."
    )
    code: str | None = Field(
        default=None, min_length=1, max_length=16, description="Authenticator app code."
    )
    recovery_code: str | None = Field(
        default=None, min_length=1, max_length=64, description="Or one recovery code."
    )
    device_token: str | None = DeviceToken


class CreationOptionsOut(BaseModel):
    publicKey: WebAuthnJSON = Field(
        description="PublicKeyCredentialCreationOptions as WebAuthn JSON (base64url binary): "
        "for PublicKeyCredential.parseCreationOptionsFromJSON or a platform passkey API."
    )


class RequestOptionsOut(BaseModel):
    publicKey: WebAuthnJSON = Field(
        description="PublicKeyCredentialRequestOptions as WebAuthn JSON (base64url binary)."
    )
    challenge_id: str = Field(description="Send it back with the assertion.")


class PasskeyAddRequest(Request):
    credential: WebAuthnJSON = Field(
        description="The new credential as WebAuthn JSON (RegistrationResponseJSON: id, "
        "rawId, type, response.clientDataJSON, response.attestationObject, "
        "response.transports)."
    )
    name: str | None = Field(
        default=None, max_length=64, description='What to call it ("MacBook Touch ID").'
    )


class PasskeySignInRequest(Request):
    challenge_id: str = Field(min_length=1, max_length=64)
    credential: WebAuthnJSON = Field(
        description="The assertion as WebAuthn JSON (AuthenticationResponseJSON: id, rawId, "
        "type, response.clientDataJSON, response.authenticatorData, response.signature, "
        "response.userHandle)."
    )
    device_token: str | None = DeviceToken


class PasskeyRenameRequest(Request):
    name: str = Field(min_length=1, max_length=64)


class PasskeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7d3f1c2a-9b8e-4f6d-a1c0-3e2b5d4f6a7c",
                    "name": "MacBook Touch ID",
                    "created_at": "2026-01-31T09:30:00Z",
                    "last_used_at": None,
                }
            ]
        }
    )

    id: UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, passkey) -> "PasskeyOut":
        return cls(
            id=passkey.id,
            name=passkey.name,
            created_at=passkey.created_at,
            last_used_at=passkey.last_used_at,
        )


class PasskeyList(BaseModel):
    passkeys: list[PasskeyOut] = Field(description="The account's passkeys, oldest first.")
