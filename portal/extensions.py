"""Extensions, created once and attached to the app in create_app()."""

from flask import request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

from portal.db_session import PortalSession

# Named constraints keep migrations portable between PostgreSQL and SQLite.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(
    metadata=MetaData(naming_convention=naming_convention),
    session_options={"class_": PortalSession},
)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
jwt = JWTManager()


def client_ip() -> str:
    """The caller's address (behind a proxy, ProxyFix has already put it in remote_addr)."""
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[])


def commit_keeping_loaded() -> None:
    """Commit without expiring the objects this session holds. A commit normally expires them
    so the next read sees other transactions' changes; rows this transaction has just written
    (a new session and its account, at sign-in) cannot have changed since, and reading them
    back to answer (the tokens, the account) would cost a round trip each."""
    session = db.session()
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring
