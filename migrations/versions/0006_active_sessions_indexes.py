"""sessions: partial indexes on an account's active sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

The Sessions list (newest first) and the cap of active sessions at sign-in (least recently
used first) read an account's active sessions in order; through (user_id, created_at) they
also walked every ended session of the account, which pile up until pruned. These indexes
hold active sessions only, in both orders (portal/flows/sessions.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ACTIVE = sa.text("revoked_at IS NULL")


def upgrade():
    op.create_index(
        "ix_sessions_active_user_id_created_at",
        "sessions",
        ["user_id", "created_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index(
        "ix_sessions_active_user_id_last_seen_at",
        "sessions",
        ["user_id", "last_seen_at", "created_at"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade():
    op.drop_index("ix_sessions_active_user_id_last_seen_at", table_name="sessions")
    op.drop_index("ix_sessions_active_user_id_created_at", table_name="sessions")
