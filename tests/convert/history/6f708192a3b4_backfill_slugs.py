"""backfill slugs

Revision ID: 6f708192a3b4
Revises: 5e6f708192a3
Create Date: 2023-01-06 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from myapp.models import Post, db
from myapp.text import slugify

# revision identifiers, used by Alembic.
revision = "6f708192a3b4"
down_revision = "5e6f708192a3"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("posts", sa.Column("slug", sa.String(length=200), nullable=True))
    session = db.session
    for post in session.query(Post).all():
        post.slug = slugify(post.title)
    session.commit()
    op.create_index("ix_posts_slug", "posts", ["slug"])


def downgrade():
    op.drop_index("ix_posts_slug", table_name="posts")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("slug")
