"""The data model (docs/architecture.md): users, their sessions, one-time codes, events."""

import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime, TypeDecorator

from portal import clock
from portal.extensions import db


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        return clock.aware(value)

    def result_processor(self, dialect, coltype):
        # PostgreSQL's timestamptz already comes back aware (psycopg): nothing to do for each
        # value read, and lists read many (a page of 100 sessions, 300 of them).
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


class uuid_text(FunctionElement):  # noqa: N801 (an SQL function, named like one)
    """A UUID column as text, written as Python's str(uuid) writes it (keys made in SQL that
    must equal keys made in Python: flows/accounts.py `find_for_sign_in`)."""

    type = String()
    inherit_cache = True


@compiles(uuid_text)
def _uuid_text_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(uuid_text, "sqlite")
def _uuid_text_sqlite(element, compiler, **kw):
    # SQLAlchemy keeps a UUID in SQLite as 32 hex digits: the hyphens go back in.
    column = compiler.process(element.clauses, **kw)
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return " || '-' || ".join(f"substr({column}, {start}, {length})" for start, length in parts)


# Expression indexes (COLLATE "C", for admin search) are written by hand in migration 0005:
# autogenerate cannot compare them, so it must not see them either (migrations/env.py, and
# the test that the models match the migrations).
HAND_WRITTEN_INDEXES = {"ix_users_email_c", "ix_users_username_c"}


def include_in_autogenerate(object, name, type_, reflected, compare_to) -> bool:  # noqa: A002
    return not (type_ == "index" and name in HAND_WRITTEN_INDEXES)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Stored lower-cased, so plain unique indexes give case-insensitive uniqueness and
    # prefix search (admin) can use an index.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_verified: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # A new address waiting for its confirmation code (profile: change email).
    pending_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock.utcnow, onupdate=clock.utcnow
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Admin search (portal/flows/admin.py) is a case-insensitive prefix match on stored
        # lower-case values, read in order: byte-wise (COLLATE "C") indexes serve both the
        # prefix range and the order under any database collation. PostgreSQL only (SQLite
        # compares byte-wise already and has no "C" collation).
        Index("ix_users_email_c", text('email COLLATE "C"')).ddl_if(dialect="postgresql"),
        Index("ix_users_username_c", text('username COLLATE "C"')).ddl_if(dialect="postgresql"),
    )

    sessions: Mapped[list["UserSession"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # The session this request is signed in with (set by the web and API loaders).
    current_session = None  # type: UserSession | None

    def get_id(self) -> str:
        """Flask-Login keeps the *session* id in the cookie, so ending the row signs out."""
        if self.current_session is None:
            raise RuntimeError("a user is signed in through a UserSession")
        return str(self.current_session.id)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserSession(db.Model):
    """One sign-in on one device: what users and admins see and end."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # "web" | "api"
    refresh_jti: Mapped[str | None] = mapped_column(String(64))
    previous_refresh_jti: Mapped[str | None] = mapped_column(String(64))
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    device_label: Mapped[str] = mapped_column(String(128), default="Unknown device")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    # Proof of identity given on this session (password, ...): sensitive changes need it
    # within the last few minutes (portal/flows/reauth.py). Wrong tries in a row end it.
    reauthenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reauth_failures: Mapped[int] = mapped_column(default=0)
    # The known device (browser cookie or API device token) this sign-in came from.
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )
    # The second factor this session proved ("totp", "recovery_code", "passkey"), at sign-in
    # or by setting one up: ADMIN_REQUIRE_MFA opens the admin pages only to such sessions.
    second_factor: Mapped[str | None] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="sessions")

    # The device token of a sign-in that just completed, for the view to hand back (never
    # stored: the devices table keeps its hash).
    device_token = None  # type: str | None

    __table_args__ = (
        Index("ix_sessions_user_id_created_at", "user_id", "created_at"),
        # An account's active sessions only, in the two orders they are read in: newest
        # first (the Sessions list) and least recently used (the cap at sign-in). Ended
        # sessions pile up (until pruned) but are never read through these.
        Index(
            "ix_sessions_active_user_id_created_at",
            "user_id",
            "created_at",
            "id",
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ix_sessions_active_user_id_last_seen_at",
            "user_id",
            "last_seen_at",
            "created_at",
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > clock.utcnow()

    @classmethod
    def active_clause(cls, now=None):
        """Not ended and not expired as of `now` (the clock's time; statements built once pass
        `bindparam("now")` and bind it at each execution)."""
        return (cls.revoked_at.is_(None)) & (
            cls.expires_at > (clock.utcnow() if now is None else now)
        )


class OneTimeCode(db.Model):
    """A secret sent by email: a 6-digit code or a reset token; only its keyed hash is kept."""

    __tablename__ = "one_time_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64), index=True)
    # What the code confirms beyond the account itself (the new address of an email change).
    target: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_one_time_codes_user_id_purpose", "user_id", "purpose"),)


class SecurityEvent(db.Model):
    """Who did what, when and from where; users see their own, admins see all."""

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    # The account's email at the time, so the record still reads after a deletion.
    email: Mapped[str] = mapped_column(String(254), default="")
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    device_label: Mapped[str] = mapped_column(String(128), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow, index=True)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    __table_args__ = (Index("ix_security_events_user_id_created_at", "user_id", "created_at"),)


class PendingSignUp(db.Model):
    """A sign-up waiting for its emailed code: not an account yet. Only its own code turns it
    into one, so nobody's earlier or later sign-up for the same address can leave their
    password or username on the account the mailbox owner confirms."""

    __tablename__ = "pending_signups"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), index=True)
    username: Mapped[str] = mapped_column(String(32), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    device_label: Mapped[str] = mapped_column(String(128), default="Unknown device")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class GuessBudget(db.Model):
    """Failed guesses of secrets (passwords, codes) for one account, one device of an account,
    or one login as typed that matches no account (portal/flows/budget.py)."""

    __tablename__ = "guess_budgets"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    failures: Mapped[int] = mapped_column(default=0)
    day_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    day_failures: Mapped[int] = mapped_column(default=0)
    # Times the budget tripped today: each trip waits twice as long as the one before.
    strikes: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Device(db.Model):
    """A browser or app that completed a sign-in to an account (all factors). It holds the
    random token whose hash is kept here, so strangers' failures never lock it out and a
    sign-in from anywhere else is announced to the owner."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # "web" | "api"
    device_label: Mapped[str] = mapped_column(String(128), default="Unknown device")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)

    __table_args__ = (
        Index("ix_devices_token_hash_user_id", "token_hash", "user_id", unique=True),
        # Whether an account has devices (every sign-in) and voiding them, by account.
        Index("ix_devices_user_id", "user_id"),
    )


class EmailSend(db.Model):
    """One email handed to the mail service: counted by the caps on what anyone can trigger
    for an address or from an IP. The address is kept only as a keyed hash."""

    __tablename__ = "email_sends"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    recipient_hash: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)

    __table_args__ = (
        Index("ix_email_sends_recipient_hash_created_at", "recipient_hash", "created_at"),
        Index("ix_email_sends_ip_address_created_at", "ip_address", "created_at"),
    )


class OutboxMessage(db.Model):
    """An email (or a job that decides which email) queued in the transaction of the change
    that causes it, delivered by `flask --app portal mail worker` (README "Operations").
    The rendered message is encrypted at rest and erased once delivered."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # An email kind (verify_email, ...), "security_digest" for merged notices, or "job:<name>".
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254), default="")
    payload: Mapped[str | None] = mapped_column(Text)  # encrypted JSON; None once done
    status: Mapped[str] = mapped_column(String(12), default="pending")  # sent failed dropped
    attempts: Mapped[int] = mapped_column(default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    # A message carrying a code or link that has expired by then is dropped, not sent late.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    # Security notices to one address within 10 minutes merge into one digest.
    merge_key: Mapped[str | None] = mapped_column(String(64))
    # A digest holding DIGEST_ITEMS notices in full counts the rest here, by kind (no secret
    # in a count): a storm of notices adds to a small column instead of opening and sealing
    # the whole encrypted payload again on every one (outbox.enqueue_notice).
    digest_more: Mapped[dict | None] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbox_status_available_at", "status", "available_at"),
        Index("ix_outbox_merge_key_created_at", "merge_key", "created_at"),
    )


# Second factor and passkeys (README "Two-step sign-in") ------------------------------------


class TotpSecret(db.Model):
    """An account's authenticator app: the shared secret, encrypted at rest (portal/crypto.py,
    keys rotate). Active once confirmed with a first code; the last time step accepted is
    kept so that no code is accepted twice."""

    __tablename__ = "totp_secrets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_step: Mapped[int] = mapped_column(BigInteger, default=0)


class RecoveryCode(db.Model):
    """A single-use code for when the authenticator app is lost; only its keyed hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_recovery_codes_user_id_code_hash", "user_id", "code_hash"),)


class Passkey(db.Model):
    """A WebAuthn credential (discoverable, user-verifying): its public key and the state a
    cloned authenticator would betray (the sign count)."""

    __tablename__ = "passkeys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    transports: Mapped[list] = mapped_column(JSON, default=list)
    # Backup eligible (a synced, multi-device passkey) and backed up, as the authenticator says.
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    backed_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MfaToken(db.Model):
    """The right password of an account with TOTP: what the second step spends. Opaque to the
    client, stored hashed, single use, short-lived; it dies after a few wrong codes or when
    the password changes (the hash it was issued under is remembered, keyed)."""

    __tablename__ = "mfa_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "web" | "api"
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )
    password_marker: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebAuthnChallenge(db.Model):
    """A challenge handed to a browser or app for one WebAuthn ceremony: single use, minutes
    long. `user_id` is set for adding a passkey and for re-authentication, never for sign-in
    (discoverable credentials name their account)."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(16))  # "sign_in" | "register" | "reauth"
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE")
    )
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The `mfa` summary of an account (scalar subqueries), loaded with the user by the statements
# of the requests that read it (`undefer_group(MFA_GROUP)`: sign-in, the account's own API
# answers, the profile pages), so those cost no extra query; any other read loads all three
# at once. It is as of that load (flows/totp.py reads the table when it must be current):
# writing the user's own columns (a sign-in's last_login_at) changes none of it, so a flush
# does not expire it either.
MFA_GROUP = "mfa_summary"
User.totp_enabled = column_property(
    select(TotpSecret.user_id)
    .where(TotpSecret.user_id == User.id, TotpSecret.confirmed_at.is_not(None))
    .exists()
    .correlate_except(TotpSecret),
    deferred=True,
    group=MFA_GROUP,
    expire_on_flush=False,
)
User.passkey_count = column_property(
    select(func.count(Passkey.id))
    .where(Passkey.user_id == User.id)
    .correlate_except(Passkey)
    .scalar_subquery(),
    deferred=True,
    group=MFA_GROUP,
    expire_on_flush=False,
)
User.recovery_codes_left = column_property(
    select(func.count(RecoveryCode.id))
    .where(RecoveryCode.user_id == User.id, RecoveryCode.used_at.is_(None))
    .correlate_except(RecoveryCode)
    .scalar_subquery(),
    deferred=True,
    group=MFA_GROUP,
    expire_on_flush=False,
)

MFA_SUMMARY = ("totp_enabled", "passkey_count", "recovery_codes_left")

# Whether the account has a known device (flows/devices.py: a sign-in from a new device is
# announced only then). Deferred: only the sign-in's own look-up of the account loads it, in
# the same statement (accounts.find_for_sign_in); anywhere else, reading it costs a query.
User.has_devices = column_property(
    select(Device.id).where(Device.user_id == User.id).exists().correlate_except(Device),
    deferred=True,
    expire_on_flush=False,
)


def forget_mfa_summary(user: User) -> None:
    """A second factor of `user` changed: its summary is read again when next used (flows
    that add or remove one call this; a commit would too, but a sign-in's commit keeps what
    it loaded: extensions.commit_keeping_loaded)."""
    if user in db.session:
        db.session.expire(user, MFA_SUMMARY)
