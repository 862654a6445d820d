--[[ create posts

Revision ID: 2b3c4d5e6f70
Revises: 1a2b3c4d5e6f
Create Date: 2023-01-02 10:00:00.000000

]]
local postgresql = require "luamig.dialects.postgresql"
-- revision identifiers, used by Alembic.
revision = "2b3c4d5e6f70"
down_revision = "1a2b3c4d5e6f"
branch_labels = nil
depends_on = nil

function upgrade()
  op.create_table(
    "posts",
    sa.Column("id", sa.Integer(), { nullable = false }),
    sa.Column("user_id", sa.Integer(), { nullable = false }),
    sa.Column("title", sa.String({ length = 200 }), { nullable = false }),
    sa.Column("body", sa.Text(), { nullable = true }),
    sa.Column("status", sa.String({ length = 10 }), { server_default = "draft", nullable = false }),
    sa.CheckConstraint("status IN ('draft', 'published')", { name = "ck_posts_status" }),
    sa.ForeignKeyConstraint({ "user_id" }, { "users.id" }, { name = "fk_posts_user_id_users", ondelete = "CASCADE" }),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("user_id", "title", { name = "uq_posts_user_id_title" })
  )
  op.create_index("ix_posts_user_id", "posts", { "user_id" }, { unique = false })
  if op.get_context().dialect.name == "postgresql" then
    op.add_column("posts", sa.Column("meta", postgresql.JSONB(), { nullable = true }))
  else
    op.add_column("posts", sa.Column("meta", sa.JSON(), { nullable = true }))
  end
end

function downgrade()
  op.drop_index("ix_posts_user_id", { table_name = "posts" })
  op.drop_table("posts")
end
