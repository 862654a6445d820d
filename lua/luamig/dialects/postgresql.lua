--[[ luamig.dialects.postgresql — PostgreSQL types for revision files and models, as
`from sqlalchemy.dialects import postgresql` gives them:

  local postgresql = require "luamig.dialects.postgresql"    -- or sa.dialects.postgresql
  sa.Column("data", postgresql.JSONB())
  sa.Column("tags", postgresql.ARRAY(sa.String(20)))
  sa.Column("mood", postgresql.ENUM("sad", "ok", { name = "mood", create_type = false }))

Each is a schema-model type ({ kind = "type", module = "postgresql", name = ... }) that
luamig.sqldialect.postgresql renders; other dialects raise when asked to render them.  The generic
uppercase types (INTEGER, VARCHAR, ...) are re-exported as SQLAlchemy's module does.
]]

local sa = require "luamig.sa"

local pg = {}

local function deftype(name, params)
  return sa._deftype(name, params or {}, nil, "postgresql")
end

pg.JSON = deftype("JSON", { "none_as_null", "astext_type" })
pg.JSONB = deftype("JSONB", { "none_as_null", "astext_type" })
pg.UUID = deftype("UUID", { "as_uuid" })
pg.ARRAY = deftype("ARRAY", { "item_type", "as_tuple", "dimensions", "zero_indexes" })
pg.HSTORE = deftype("HSTORE", { "text_type" })
pg.INET = deftype("INET")
pg.CIDR = deftype("CIDR")
pg.MACADDR = deftype("MACADDR")
pg.MACADDR8 = deftype("MACADDR8")
pg.MONEY = deftype("MONEY")
pg.OID = deftype("OID")
pg.REGCLASS = deftype("REGCLASS")
pg.TSVECTOR = deftype("TSVECTOR")
pg.CITEXT = deftype("CITEXT")
pg.BYTEA = deftype("BYTEA", { "length" })
pg.DOUBLE_PRECISION = deftype("DOUBLE_PRECISION", { "precision", "asdecimal", "decimal_return_scale" })
pg.REAL = deftype("REAL", { "precision", "asdecimal", "decimal_return_scale" })
pg.INTERVAL = deftype("INTERVAL", { "precision", "fields" })
pg.TIMESTAMP = deftype("TIMESTAMP", { "timezone", "precision" })
pg.TIME = deftype("TIME", { "timezone", "precision" })
pg.BIT = deftype("BIT", { "length", "varying" })
pg.INT4RANGE = deftype("INT4RANGE")
pg.INT8RANGE = deftype("INT8RANGE")
pg.NUMRANGE = deftype("NUMRANGE")
pg.DATERANGE = deftype("DATERANGE")
pg.TSRANGE = deftype("TSRANGE")
pg.TSTZRANGE = deftype("TSTZRANGE")

-- ENUM("a", "b", { name = "mood", create_type = true, schema = ... })
do
  local generic = sa.Enum
  local function enum(...)
    local t = generic(...)
    t.name = "ENUM"
    t.module = "postgresql"
    return t
  end
  pg.ENUM = enum()
  sa._register_ctor(pg.ENUM, enum)
end

-- The uppercase generic types, as sqlalchemy.dialects.postgresql re-exports them.
for _, n in ipairs { "INTEGER", "BIGINT", "SMALLINT", "VARCHAR", "CHAR", "TEXT", "BOOLEAN", "DATE",
                     "FLOAT", "NUMERIC", "DECIMAL" } do
  pg[n] = sa[n]
end

sa._register_dialect_types("postgresql", pg)

return pg
