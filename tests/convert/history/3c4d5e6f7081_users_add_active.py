"""users: add active, name not null

Revision ID: 3c4d5e6f7081
Revises: 2b3c4d5e6f70
Create Date: 2023-01-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "3c4d5e6f7081"
down_revision = "2b3c4d5e6f70"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE users SET name = '' WHERE name IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.alter_column("name", existing_type=sa.String(length=50), nullable=False)
        batch_op.create_index("ix_users_active", ["active"], unique=False)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_active")
        batch_op.alter_column("name", existing_type=sa.String(length=50), nullable=True)
        batch_op.drop_column("active")
