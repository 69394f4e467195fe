"""admin search: byte-wise (COLLATE "C") indexes for prefix match and order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The pattern-ops indexes served the prefix match but not the order, so a search matching
many users sorted all of them; these serve both (portal/flows/admin.py search_users).
PostgreSQL only: SQLite compares byte-wise already.
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('CREATE INDEX ix_users_email_c ON users (email COLLATE "C")')
    op.execute('CREATE INDEX ix_users_username_c ON users (username COLLATE "C")')
    op.drop_index("ix_users_email_pattern", table_name="users")
    op.drop_index("ix_users_username_pattern", table_name="users")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index("ix_users_email_pattern", "users", ["email"], postgresql_ops={"email": "varchar_pattern_ops"})
    op.create_index("ix_users_username_pattern", "users", ["username"], postgresql_ops={"username": "varchar_pattern_ops"})
    op.drop_index("ix_users_username_c", table_name="users")
    op.drop_index("ix_users_email_c", table_name="users")
