"""outbox: a digest's counted notices in their own column

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

A digest shows DIGEST_ITEMS notices in full and counts the rest by kind. The counts lived in
the encrypted payload, so every further notice (a storm of sign-ins from new devices) opened
and sealed the whole payload, tens of kilobytes, and wrote it again. The counts are not
secret: they move to a small column that each further notice updates alone.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("outbox", sa.Column("digest_more", sa.JSON(), nullable=True))


def downgrade():
    op.drop_column("outbox", "digest_more")
