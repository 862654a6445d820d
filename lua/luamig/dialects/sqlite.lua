--[[ luamig.dialects.sqlite — SQLite's types for revision files and models, as
`from sqlalchemy.dialects import sqlite` gives them:

  local sqlite = require "luamig.dialects.sqlite"    -- or sa.dialects.sqlite
  sa.Column("at", sqlite.DATETIME())

SQLAlchemy's sqlite module re-exports the generic uppercase types (its DATE, DATETIME and
TIME only add Python-side storage formats, which luamig does not need), so each name here is
the same value as sa.<NAME> and compiles on every database.
]]

local sa = require "luamig.sa"

local sqlite = {}

for _, n in ipairs { "BLOB", "BOOLEAN", "CHAR", "DATE", "DATETIME", "DECIMAL", "FLOAT", "INTEGER",
                     "NUMERIC", "REAL", "SMALLINT", "TEXT", "TIME", "TIMESTAMP", "VARCHAR" } do
  sqlite[n] = sa[n]
end
sqlite.JSON = sa.JSON

sa._register_dialect_types("sqlite", sqlite)

return sqlite
