"""devices: index on user_id

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Every sign-in asks whether the account has a known device (then a new one is announced), and
voiding an account's devices deletes them by account: both read `devices` by user_id, which
only the (token_hash, user_id) index held, second. Without this index each was a scan of
every device of every account.
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_devices_user_id", "devices", ["user_id"])


def downgrade():
    op.drop_index("ix_devices_user_id", table_name="devices")
