-- PostgreSQL: the SQL of each op, pinned to Alembic 1.8.1 / SQLAlchemy 1.4.46 output (recorded
-- conformance scenarios, and MigrationContext(as_sql=True) runs of the real thing).
local T = require "helper"
local sa = require "luamig.sa"
local op = require "luamig.op"
local postgresql = require "luamig.dialects.postgresql"

local function offline(fn, dialect_options)
  local ctx = T.context("postgresql", { as_sql = true, dialect_options = dialect_options })
  fn()
  return T.script(ctx)
end

T.test("create_table with every generic type creates the ENUM type first", function()
  T.eq(offline(function()
    op.create_table("all_types",
      sa.Column("id", sa.Integer(), { primary_key = true }),
      sa.Column("c_bigint", sa.BigInteger()),
      sa.Column("c_smallint", sa.SmallInteger()),
      sa.Column("c_string", sa.String { length = 50 }),
      sa.Column("c_string_nolen", sa.String()),
      sa.Column("c_unicode", sa.Unicode(20)),
      sa.Column("c_text", sa.Text()),
      sa.Column("c_bool", sa.Boolean()),
      sa.Column("c_date", sa.Date()),
      sa.Column("c_datetime", sa.DateTime()),
      sa.Column("c_datetime_tz", sa.DateTime { timezone = true }),
      sa.Column("c_time", sa.Time()),
      sa.Column("c_float", sa.Float()),
      sa.Column("c_numeric", sa.Numeric { precision = 10, scale = 2 }),
      sa.Column("c_binary", sa.LargeBinary()),
      sa.Column("c_json", sa.JSON()),
      sa.Column("c_enum", sa.Enum("red", "green", "blue", { name = "color" })),
      sa.Column("c_interval", sa.Interval()))
    op.drop_table("all_types")
    op.execute("DROP TYPE color")
  end), [[
CREATE TYPE color AS ENUM ('red', 'green', 'blue');

CREATE TABLE all_types (
    id SERIAL NOT NULL, 
    c_bigint BIGINT, 
    c_smallint SMALLINT, 
    c_string VARCHAR(50), 
    c_string_nolen VARCHAR, 
    c_unicode VARCHAR(20), 
    c_text TEXT, 
    c_bool BOOLEAN, 
    c_date DATE, 
    c_datetime TIMESTAMP WITHOUT TIME ZONE, 
    c_datetime_tz TIMESTAMP WITH TIME ZONE, 
    c_time TIME WITHOUT TIME ZONE, 
    c_float FLOAT, 
    c_numeric NUMERIC(10, 2), 
    c_binary BYTEA, 
    c_json JSON, 
    c_enum color, 
    c_interval INTERVAL, 
    PRIMARY KEY (id)
);

DROP TABLE all_types;

DROP TYPE color;

]])
end)

T.test("PostgreSQL types, quoting of reserved and mixed-case names", function()
  T.eq(offline(function()
    op.create_table("x",
      sa.Column("id", sa.BigInteger(), { primary_key = true }),
      sa.Column("j", postgresql.JSONB()),
      sa.Column("u", postgresql.UUID { as_uuid = true }),
      sa.Column("arr", postgresql.ARRAY(sa.String(5))),
      sa.Column("a2", sa.ARRAY(sa.Integer, { dimensions = 2 })),
      sa.Column("ip", postgresql.INET()),
      sa.Column("tsv", postgresql.TSVECTOR),
      sa.Column("mood", postgresql.ENUM("a", "b", { name = "mood" })),
      sa.Column("mood2", sa.Enum("a", "b", { name = "mood" })),
      sa.Column("ts", postgresql.TIMESTAMP { timezone = true, precision = 3 }),
      sa.Column("iv", postgresql.INTERVAL { fields = "DAY" }),
      sa.Column("dp", postgresql.DOUBLE_PRECISION()),
      sa.Column("order", sa.Integer()),
      sa.Column("CamelCase", sa.Integer()),
      sa.Column("user", sa.Integer()),
      sa.Column("e2", sa.Enum("x", { name = "e2", schema = "s" })),
      sa.Column("e3", sa.Enum("x", "yy", { name = "e3", native_enum = false })),
      sa.Column("bs", sa.String(10), { server_default = "a\\b" }))
  end, { backslash_escapes = true }), [[
CREATE TYPE mood AS ENUM ('a', 'b');

CREATE TYPE s.e2 AS ENUM ('x');

CREATE TABLE x (
    id BIGSERIAL NOT NULL, 
    j JSONB, 
    u UUID, 
    arr VARCHAR(5)[], 
    a2 INTEGER[][], 
    ip INET, 
    tsv TSVECTOR, 
    mood mood, 
    mood2 mood, 
    ts TIMESTAMP(3) WITH TIME ZONE, 
    iv INTERVAL DAY, 
    dp DOUBLE PRECISION, 
    "order" INTEGER, 
    "CamelCase" INTEGER, 
    "user" INTEGER, 
    e2 s.e2, 
    e3 VARCHAR(2), 
    bs VARCHAR(10) DEFAULT 'a\\b', 
    PRIMARY KEY (id)
);

]])
end)

T.test("SERIAL only for the autoincrement column; IDENTITY and Computed", function()
  T.eq(offline(function()
    op.create_table("x", sa.Column("id", sa.SmallInteger(), { primary_key = true }))
    op.create_table("y", sa.Column("id", sa.Integer(), { primary_key = true, autoincrement = false }))
    op.create_table("z", sa.Column("a", sa.Integer(), { primary_key = true }),
                    sa.Column("b", sa.Integer(), { primary_key = true }))
    op.create_table("w", sa.Column("id", sa.Integer(), sa.ForeignKey("z.a"), { primary_key = true }))
    op.create_table("v", sa.Column("id", sa.Integer(), sa.Identity { start = 5, increment = 2 },
                                   { primary_key = true }))
    op.create_table("u", sa.Column("id", sa.Integer(), sa.Identity { always = true }),
                    sa.Column("c", sa.Integer(), sa.Computed("id * 2")))
    op.create_table("m", sa.Column("id", sa.Integer(), { primary_key = true, server_default = sa.text("1") }))
  end), [[
CREATE TABLE x (
    id SMALLSERIAL NOT NULL, 
    PRIMARY KEY (id)
);

CREATE TABLE y (
    id INTEGER NOT NULL, 
    PRIMARY KEY (id)
);

CREATE TABLE z (
    a INTEGER NOT NULL, 
    b INTEGER NOT NULL, 
    PRIMARY KEY (a, b)
);

CREATE TABLE w (
    id INTEGER NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(id) REFERENCES z (a)
);

CREATE TABLE v (
    id INTEGER GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 2 START WITH 5), 
    PRIMARY KEY (id)
);

CREATE TABLE u (
    id INTEGER GENERATED ALWAYS AS IDENTITY, 
    c INTEGER GENERATED ALWAYS AS (id * 2) STORED
);

CREATE TABLE m (
    id INTEGER DEFAULT 1 NOT NULL, 
    PRIMARY KEY (id)
);

]])
end)

T.test("create_table with comments and index=true", function()
  T.eq(offline(function()
    op.create_table("defaults",
      sa.Column("id", sa.Integer(), { primary_key = true, autoincrement = true }),
      sa.Column("active", sa.Boolean(), { nullable = false, server_default = sa.true_() }),
      sa.Column("created_at", sa.DateTime(), { nullable = false, server_default = sa.func.current_timestamp() }),
      sa.Column("note", sa.Text(), { nullable = true, comment = "free text" }),
      sa.Column("code", sa.String(10), { unique = true }),
      sa.Column("tag", sa.String(10), { index = true }),
      { comment = "table with defaults" })
  end), [[
CREATE TABLE defaults (
    id SERIAL NOT NULL, 
    active BOOLEAN DEFAULT true NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, 
    note TEXT, 
    code VARCHAR(10), 
    tag VARCHAR(10), 
    PRIMARY KEY (id), 
    UNIQUE (code)
);

CREATE INDEX ix_defaults_tag ON defaults (tag);

COMMENT ON TABLE defaults IS 'table with defaults';

COMMENT ON COLUMN defaults.note IS 'free text';

]])
end)

T.test("expression server defaults", function()
  T.eq(offline(function()
    op.create_table("d",
      sa.Column("a", sa.Integer(), { server_default = sa.func.coalesce(1, 2) }),
      sa.Column("b", sa.String(5), { server_default = sa.null() }),
      sa.Column("c", sa.Float(), { server_default = sa.literal_column("2.5") }),
      sa.Column("e", sa.DateTime(), { server_default = sa.func.now() }),
      sa.Column("f", sa.Boolean(), { server_default = sa.false_() }),
      sa.Column("g", sa.String(5), { server_default = sa.func.lower("ABC") }),
      sa.UniqueConstraint("a", "b", { deferrable = true, initially = "DEFERRED" }),
      sa.CheckConstraint("a > 0"),
      sa.ForeignKeyConstraint({ "a" }, { "o.s.id" }))
  end), [[
CREATE TABLE d (
    a INTEGER DEFAULT coalesce(1, 2), 
    b VARCHAR(5) DEFAULT NULL, 
    c FLOAT DEFAULT 2.5, 
    e TIMESTAMP WITHOUT TIME ZONE DEFAULT now(), 
    f BOOLEAN DEFAULT false, 
    g VARCHAR(5) DEFAULT lower('ABC'), 
    UNIQUE (a, b) DEFERRABLE INITIALLY DEFERRED, 
    CHECK (a > 0), 
    FOREIGN KEY(a) REFERENCES o.s (id)
);

]])
end)

T.test("alter_column: TYPE ... USING first, rename last; quoting", function()
  T.eq(offline(function()
    op.alter_column("account", "name", { type_ = sa.String(100), nullable = false, server_default = "x",
      new_column_name = "full_name", comment = "c", postgresql_using = "name::varchar(100)" })
    op.alter_column("t", "qty", { type_ = sa.BigInteger(), existing_type = sa.Integer() })
    op.alter_column("t", "d", { server_default = sa.func.now() })
    op.alter_column("t", "d", { server_default = sa.text("now()"), schema = "s" })
    op.alter_column("t", "Old", { new_column_name = "order" })
    op.alter_column("t", "old", { new_column_name = "new", existing_type = sa.String(10) })
    op.alter_column("t", "a", { existing_type = sa.String(10), comment = false, existing_comment = "column a" })
  end), [[
ALTER TABLE account ALTER COLUMN name TYPE VARCHAR(100) USING name::varchar(100);

ALTER TABLE account ALTER COLUMN name SET NOT NULL;

ALTER TABLE account ALTER COLUMN name SET DEFAULT 'x';

COMMENT ON COLUMN account.name IS 'c';

ALTER TABLE account RENAME name TO full_name;

ALTER TABLE t ALTER COLUMN qty TYPE BIGINT;

ALTER TABLE t ALTER COLUMN d SET DEFAULT now();

ALTER TABLE s.t ALTER COLUMN d SET DEFAULT now();

ALTER TABLE t RENAME "Old" TO "order";

ALTER TABLE t RENAME "old" TO "new";

COMMENT ON COLUMN t.a IS NULL;

]])
end)

T.test("alter_column TYPE online keeps Alembic's trailing space", function()
  local ctx = T.context("postgresql")
  op.alter_column("t", "qty", { type_ = sa.BigInteger })
  T.eq(ctx.log[1].sql, "ALTER TABLE t ALTER COLUMN qty TYPE BIGINT ")
end)

T.test("postgresql_using needs type_", function()
  T.context("postgresql")
  T.raises(function() op.alter_column("t", "c", { postgresql_using = "c::int" }) end,
           "postgresql_using must be used with the type_ parameter")
end)

T.test("indexes with PostgreSQL options", function()
  T.eq(offline(function()
    op.create_index("ix1", "t", { "a", "b" }, { unique = true, postgresql_using = "GIN",
      postgresql_where = sa.text("a > 1"), postgresql_include = { "c" }, postgresql_concurrently = true })
    op.create_index("ix2", "t", { "a" }, { postgresql_with = { fillfactor = 50 },
                                           postgresql_ops = { a = "text_pattern_ops" } })
    op.drop_index("ix1", { table_name = "t", postgresql_concurrently = true })
    op.create_index("ix3", "t", { sa.text("lower(a)"), "b" }, { schema = "s" })
    op.drop_index("ix3", { table_name = "t", schema = "s" })
  end), [[
CREATE UNIQUE INDEX CONCURRENTLY ix1 ON t USING gin (a, b) INCLUDE (c) WHERE a > 1;

CREATE INDEX ix2 ON t (a text_pattern_ops) WITH (fillfactor = 50);

DROP INDEX CONCURRENTLY ix1;

CREATE INDEX ix3 ON s.t (lower(a), b);

DROP INDEX s.ix3;

]])
end)

T.test("constraints, comments, table ops", function()
  T.eq(offline(function()
    op.create_foreign_key("fk_a_b", "a", "b", { "b_id" }, { "id" }, { ondelete = "CASCADE",
      deferrable = true, initially = "DEFERRED", match = "FULL", source_schema = "s1", referent_schema = "s2" })
    op.create_foreign_key("fk_c_p", "c", "p", { "p_id" }, { "id" }, { ondelete = "CASCADE", onupdate = "SET NULL" })
    op.create_unique_constraint("uq_a", "a", { "x", "y" }, { deferrable = false })
    op.create_unique_constraint(nil, "a", { "x" })
    op.create_check_constraint("ck_a", "a", "x > 5")
    op.create_primary_key("pk_a", "a", { "id" }, { schema = "s" })
    op.drop_constraint("uq_a", "a", { type_ = "unique", schema = "s" })
    op.create_exclude_constraint("ex_a", "a", { "period", "&&" }, { "room", "=" },
                                 { where = sa.text("room > 1"), using = "gist" })
    op.create_table_comment("t", "it's", { schema = "s" })
    op.drop_table_comment("t")
    op.drop_table("t", { schema = "s" })
    op.rename_table("a", "b", { schema = "s" })
    op.add_column("t", sa.Column("x", sa.Integer(), sa.ForeignKey("o.id"),
                                 { unique = true, index = true, comment = "cc" }))
    op.drop_column("t", "x", { schema = "s" })
  end), [[
ALTER TABLE s1.a ADD CONSTRAINT fk_a_b FOREIGN KEY(b_id) REFERENCES s2.b (id) MATCH FULL ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE c ADD CONSTRAINT fk_c_p FOREIGN KEY(p_id) REFERENCES p (id) ON DELETE CASCADE ON UPDATE SET NULL;

ALTER TABLE a ADD CONSTRAINT uq_a UNIQUE (x, y) NOT DEFERRABLE;

ALTER TABLE a ADD UNIQUE (x);

ALTER TABLE a ADD CONSTRAINT ck_a CHECK (x > 5);

ALTER TABLE s.a ADD CONSTRAINT pk_a PRIMARY KEY (id);

ALTER TABLE s.a DROP CONSTRAINT uq_a;

ALTER TABLE a ADD CONSTRAINT ex_a EXCLUDE USING gist (period WITH &&, room WITH =) WHERE (room > 1);

COMMENT ON TABLE s.t IS 'it''s';

COMMENT ON TABLE t IS NULL;

DROP TABLE s.t;

ALTER TABLE s.a RENAME TO b;

ALTER TABLE t ADD COLUMN x INTEGER;

ALTER TABLE t ADD FOREIGN KEY(x) REFERENCES o (id);

CREATE UNIQUE INDEX ix_t_x ON t (x);

COMMENT ON COLUMN t.x IS 'cc';

ALTER TABLE s.t DROP COLUMN x;

]])
end)

T.test("schema-qualified create, cross-schema FK, add_column", function()
  T.eq(offline(function()
    op.execute("CREATE SCHEMA app")
    op.create_table("acct", sa.Column("id", sa.Integer(), { primary_key = true }), { schema = "app" })
    op.create_table("ledger", sa.Column("id", sa.Integer(), { primary_key = true }),
      sa.Column("acct_id", sa.Integer(), sa.ForeignKey("app.acct.id", { name = "fk_ledger_acct" })))
    op.add_column("acct", sa.Column("name", sa.String(20)), { schema = "app" })
    op.create_index("ix_app_acct_name", "acct", { "name" }, { schema = "app" })
    op.drop_index("ix_app_acct_name", { table_name = "acct", schema = "app" })
  end), [[
CREATE SCHEMA app;

CREATE TABLE app.acct (
    id SERIAL NOT NULL, 
    PRIMARY KEY (id)
);

CREATE TABLE ledger (
    id SERIAL NOT NULL, 
    acct_id INTEGER, 
    PRIMARY KEY (id), 
    CONSTRAINT fk_ledger_acct FOREIGN KEY(acct_id) REFERENCES app.acct (id)
);

ALTER TABLE app.acct ADD COLUMN name VARCHAR(20);

CREATE INDEX ix_app_acct_name ON app.acct (name);

DROP INDEX app.ix_app_acct_name;

]])
end)

T.test("bulk_insert renders true/false on PostgreSQL", function()
  local t = sa.table("kv", sa.column("k", sa.String), sa.column("b", sa.Boolean))
  T.eq(offline(function()
    op.bulk_insert(t, { { k = "a", b = true }, { k = "b", b = false } })
  end), "INSERT INTO kv (k, b) VALUES ('a', true);\n\nINSERT INTO kv (k, b) VALUES ('b', false);\n\n")
end)

T.test("drop_table from a reversed create_table drops its ENUM types", function()
  T.context("postgresql")
  local create = op.ops.create_table("t", sa.Column("m", sa.Enum("a", { name = "m" })))
  T.eq(create:reverse():to_sql("postgresql"), { "DROP TABLE t", "DROP TYPE m" })
end)

T.test("create_exclude_constraint takes where= as SQL text, as SQLAlchemy does", function()
  T.eq(offline(function()
    op.create_exclude_constraint("ex_b", "booking", { "room", "=" }, { "during", "&&" },
                                 { using = "gist", where = "room > 0" })
  end), "ALTER TABLE booking ADD CONSTRAINT ex_b EXCLUDE USING gist (room WITH =, during WITH &&) "
        .. "WHERE (room > 0);\n\n")
end)

-- Hostile text takes linear time: a run of whitespace inside a statement (the trim pattern
-- "^%s*(.-)%s*$" took 50 s on a run of 80,000) and a default's long name (a pattern that
-- started again inside every name it failed on: 38 s on 40,000 letters). Each finishes in well
-- under the bound; the old code took minutes.
T.test("offline statements are trimmed in linear time", function()
  local gap = string.rep(" ", 100000)
  local start = os.clock()
  local out = offline(function()
    op.execute("\n\t SELECT 1" .. gap .. "+ 1\n\t ")
    op.execute(" \t\n ")
  end)
  T.eq(os.clock() - start < 10, true, "took " .. (os.clock() - start) .. " s")
  T.eq(out, "SELECT 1" .. gap .. "+ 1;\n\n;\n\n")
end)

T.test("lint reads a default's function names in linear time", function()
  local lint = require "luamig.sqldialect.postgresql_lint"
  local dialect = require("luamig.sqldialect").get("postgresql")
  local st = { existing = function() return true end }
  local function finding(default)
    local o = op.ops.add_column("t", sa.Column("c", sa.Integer, { server_default = sa.text(default) }))
    local d = lint.check(o, st, dialect)
    return d.findings[1] and d.findings[1].message or "none"
  end
  local long = "f" .. string.rep("ab", 40000)
  local start = os.clock()
  T.eq(finding(long .. " + 1"), "none")
  T.eq(os.clock() - start < 10, true, "took " .. (os.clock() - start) .. " s")
  T.eq(finding("x." .. long .. " (1) + 'now()'"), "column c added to existing table t with default "
    .. "x." .. long .. " (1) + 'now()' (the volatility of " .. long .. "() is not known): every "
    .. "row is rewritten under ACCESS EXCLUSIVE")
  T.eq(finding("random() * 2"), "column c added to existing table t with volatile default "
    .. "random() * 2: every row is rewritten under ACCESS EXCLUSIVE")
  T.eq(finding("abs (1)"), "none")
  T.eq(finding("x.(1)"), "none")
end)

T.test("lint reads a NOT NULL check in linear time", function()
  local lint = require "luamig.sqldialect.postgresql_lint"
  local dialect = require("luamig.sqldialect").get("postgresql")
  local function column_of(cond)
    local got = false
    local st = { existing = function() return false end,
                 note_not_null_check = function(_, _, _, _, col) got = col end }
    lint.check(op.ops.create_check_constraint("ck", "t", cond), st, dialect)
    return got
  end
  local gap = string.rep(" ", 100000)
  local start = os.clock()
  T.eq(column_of("(c IS NOT NULL" .. gap .. "x"), false)
  T.eq(os.clock() - start < 10, true, "took " .. (os.clock() - start) .. " s")
  T.eq(column_of("( \"c\" IS NOT NULL )  "), "c")
  T.eq(column_of("c is not null"), "c")
  T.eq(column_of("c IS NOT NULL   "), false)   -- as before: trailing blanks only after a ")"
  T.eq(column_of("c > 0"), false)
end)

T.run()
