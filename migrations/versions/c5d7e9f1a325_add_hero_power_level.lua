--[[ add hero power level

Revision ID: c5d7e9f1a325
Revises: 8a4e6c0d2b13
Create Date: 2026-11-25 23:12:00.000000

]]

revision = "c5d7e9f1a325"
down_revision = "8a4e6c0d2b13"
branch_labels = nil
depends_on = nil

function upgrade()
  op.add_column("hero", sa.Column("power_level", sa.Integer,
    { nullable = false, server_default = "0" }))
end

function downgrade()
  op.drop_column("hero", "power_level")
end
