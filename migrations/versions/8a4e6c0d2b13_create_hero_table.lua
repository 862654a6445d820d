--[[ create hero table

Revision ID: 8a4e6c0d2b13
Revises: 3f1c2a7b9d01
Create Date: 2026-11-25 23:11:00.000000

]]

revision = "8a4e6c0d2b13"
down_revision = "3f1c2a7b9d01"
branch_labels = nil
depends_on = nil

function upgrade()
  op.create_table("hero",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(255), { nullable = false }),
    sa.Column("secret_name", sa.String(255), { nullable = false }),
    sa.Column("age", sa.Integer),
    sa.Column("team_id", sa.Integer),
    sa.ForeignKeyConstraint({ "team_id" }, { "team.id" }))
  op.create_index(op.f("ix_hero_name"), "hero", { "name" })
  op.create_index(op.f("ix_hero_age"), "hero", { "age" })
end

function downgrade()
  op.drop_index(op.f("ix_hero_age"), { table_name = "hero" })
  op.drop_index(op.f("ix_hero_name"), { table_name = "hero" })
  op.drop_table("hero")
end
