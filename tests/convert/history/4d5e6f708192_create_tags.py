"""create tags, seeded

Revision ID: 4d5e6f708192
Revises: 2b3c4d5e6f70
Create Date: 2023-01-04 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.sql import table, column

# revision identifiers, used by Alembic.
revision = '4d5e6f708192'
down_revision = '2b3c4d5e6f70'
branch_labels = ('tags',)
depends_on = None

SEED = ("news", "howto", "it's")  # kept in step with the app's defaults


def upgrade():
    tags = op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=40), nullable=False, unique=True),
        sa.Column("weight", sa.Integer(), nullable=False, server_default="0"),
    )
    op.bulk_insert(
        tags,
        [
            {"id": 1, "name": "news", "weight": 10},
            {"id": 2, "name": "howto", "weight": 20},
            {"id": 3, "name": SEED[2], "weight": 30},
        ],
    )
    tag_table = table("tags", column("name", sa.String), column("weight", sa.Integer))
    op.execute(
        tag_table.update()
        .where(tag_table.c.name == op.inline_literal("howto"))
        .values({"weight": op.inline_literal(25)})
    )
    op.execute("UPDATE tags SET weight = weight + %d WHERE name = '%s'" % (1, "news"))
    op.execute("""
        UPDATE tags
        SET name = 'guide'
        WHERE name = '{}'
    """.format("howto"))


def downgrade():
    op.drop_table("tags")
