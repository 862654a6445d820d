--[[ create tags, seeded

Revision ID: 4d5e6f708192
Revises: 2b3c4d5e6f70
Create Date: 2023-01-04 10:00:00.000000

]]
-- revision identifiers, used by Alembic.
revision = "4d5e6f708192"
down_revision = "2b3c4d5e6f70"
branch_labels = { "tags" }
depends_on = nil
local SEED = { "news", "howto", "it's" } -- kept in step with the app's defaults

function upgrade()
  local tags = op.create_table(
    "tags",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("name", sa.String({ length = 40 }), { nullable = false, unique = true }),
    sa.Column("weight", sa.Integer(), { nullable = false, server_default = "0" })
  )
  op.bulk_insert(
    tags,
    { { ["id"] = 1, ["name"] = "news", ["weight"] = 10 }, { ["id"] = 2, ["name"] = "howto", ["weight"] = 20 }, { ["id"] = 3, ["name"] = SEED[3], ["weight"] = 30 } }
  )
  local tag_table = sa.table("tags", sa.column("name", sa.String), sa.column("weight", sa.Integer))
  op.execute(tag_table:update():where(tag_table.c.name:eq(op.inline_literal("howto"))):values({ ["weight"] = op.inline_literal(25) }))
  op.execute(string.format("UPDATE tags SET weight = weight + %d WHERE name = '%s'", 1, "news"))
  op.execute(("\n        UPDATE tags\n        SET name = 'guide'\n        WHERE name = '" .. tostring("howto") .. "'\n    "))
end

function downgrade()
  op.drop_table("tags")
end
