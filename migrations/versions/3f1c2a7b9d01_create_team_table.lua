--[[ create team table

Revision ID: 3f1c2a7b9d01
Revises:
Create Date: 2026-11-25 23:10:00.000000

]]

revision = "3f1c2a7b9d01"
down_revision = nil
branch_labels = nil
depends_on = nil

function upgrade()
  op.create_table("team",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(255), { nullable = false }),
    sa.Column("headquarters", sa.String(255), { nullable = false }))
  op.create_index(op.f("ix_team_name"), "team", { "name" })
end

function downgrade()
  op.drop_index(op.f("ix_team_name"), { table_name = "team" })
  op.drop_table("team")
end
