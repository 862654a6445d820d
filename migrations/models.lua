-- The models of the SQLModel tutorial's heroes and teams, as luamig reads
-- them for autogenerate: env.lua hands this MetaData to context.configure.
local sa = require "luamig.sa"

local metadata = sa.MetaData()

sa.Table("team", metadata,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(255), { nullable = false, index = true }),
  sa.Column("headquarters", sa.String(255), { nullable = false }))

sa.Table("hero", metadata,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(255), { nullable = false, index = true }),
  sa.Column("secret_name", sa.String(255), { nullable = false }),
  sa.Column("age", sa.Integer, { index = true }),
  sa.Column("team_id", sa.Integer, sa.ForeignKey("team.id")),
  sa.Column("power_level", sa.Integer, { nullable = false, server_default = "0" }))

return metadata
