-- SQLite: the SQL of each op, pinned to what Alembic 1.8.1 / SQLAlchemy 1.4.46 emit (the
-- offline texts are copied from the recorded conformance scenarios).
local T = require "helper"
local sa = require "luamig.sa"
local op = require "luamig.op"

local function offline(fn)
  local ctx = T.context("sqlite", { as_sql = true })
  fn()
  return T.script(ctx)
end

local function online(fn)
  local ctx = T.context("sqlite")
  fn()
  return ctx.log
end

T.test("create_table with every generic type", function()
  T.eq(offline(function()
    op.create_table("all_types",
      sa.Column("id", sa.Integer(), { primary_key = true }),
      sa.Column("c_bigint", sa.BigInteger()),
      sa.Column("c_smallint", sa.SmallInteger),
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
  end), [[
CREATE TABLE all_types (
    id INTEGER NOT NULL, 
    c_bigint BIGINT, 
    c_smallint SMALLINT, 
    c_string VARCHAR(50), 
    c_string_nolen VARCHAR, 
    c_unicode VARCHAR(20), 
    c_text TEXT, 
    c_bool BOOLEAN, 
    c_date DATE, 
    c_datetime DATETIME, 
    c_datetime_tz DATETIME, 
    c_time TIME, 
    c_float FLOAT, 
    c_numeric NUMERIC(10, 2), 
    c_binary BLOB, 
    c_json JSON, 
    c_enum VARCHAR(5), 
    c_interval DATETIME, 
    PRIMARY KEY (id)
);

DROP TABLE all_types;

]])
end)

T.test("create_table online keeps SQLAlchemy's tab layout", function()
  local log = online(function()
    op.create_table("t", sa.Column("id", sa.Integer, { primary_key = true }),
                    sa.Column("old", sa.String(10)))
  end)
  T.eq(log[1].sql, "CREATE TABLE t (\n\tid INTEGER NOT NULL, \n\told VARCHAR(10), \n\tPRIMARY KEY (id)\n)")
end)

T.test("create_table returns the table model", function()
  T.context("sqlite")
  local t = op.create_table("kv", sa.Column("k", sa.String(20), { primary_key = true }),
                            sa.Column("v", sa.Integer()))
  T.eq(t.kind, "table")
  T.eq(t.name, "kv")
  T.eq(t.primary_key.columns, { "k" })
  T.eq(t.c.v.nullable, true)
  T.eq(t.c.k.nullable, false)
end)

T.test("create_table defaults, unique and index flags, comments ignored", function()
  T.eq(offline(function()
    op.create_table("defaults",
      sa.Column("id", sa.Integer(), { primary_key = true, autoincrement = true }),
      sa.Column("name", sa.String(40), { nullable = false, server_default = "anon" }),
      sa.Column("quote", sa.String(40), { server_default = "it's" }),
      sa.Column("qty", sa.Integer(), { nullable = false, server_default = sa.text("0") }),
      sa.Column("ratio", sa.Float(), { server_default = sa.text("1.5") }),
      sa.Column("active", sa.Boolean(), { nullable = false, server_default = sa.true_() }),
      sa.Column("created_at", sa.DateTime(), { nullable = false, server_default = sa.func.current_timestamp() }),
      sa.Column("note", sa.Text(), { nullable = true, comment = "free text" }),
      sa.Column("code", sa.String(10), { unique = true }),
      sa.Column("tag", sa.String(10), { index = true }),
      sa.Column("client_default", sa.Integer(), { default = 7 }),
      { comment = "table with defaults" })
    op.drop_index("ix_defaults_tag", { table_name = "defaults" })
  end), [[
CREATE TABLE defaults (
    id INTEGER NOT NULL, 
    name VARCHAR(40) DEFAULT 'anon' NOT NULL, 
    quote VARCHAR(40) DEFAULT 'it''s', 
    qty INTEGER DEFAULT 0 NOT NULL, 
    ratio FLOAT DEFAULT 1.5, 
    active BOOLEAN DEFAULT (1) NOT NULL, 
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
    note TEXT, 
    code VARCHAR(10), 
    tag VARCHAR(10), 
    client_default INTEGER, 
    PRIMARY KEY (id), 
    UNIQUE (code)
);

CREATE INDEX ix_defaults_tag ON defaults (tag);

DROP INDEX ix_defaults_tag;

]])
end)

T.test("create_table constraints in creation order", function()
  T.eq(offline(function()
    op.create_table("parent",
      sa.Column("id", sa.Integer(), { primary_key = true }),
      sa.Column("code", sa.String(20), { nullable = false }),
      sa.UniqueConstraint("code", { name = "uq_parent_code" }))
    op.create_table("child",
      sa.Column("parent_id", sa.Integer(), { nullable = false }),
      sa.Column("seq", sa.Integer(), { nullable = false }),
      sa.Column("amount", sa.Numeric(12, 2), { nullable = false }),
      sa.Column("parent_code", sa.String(20)),
      sa.PrimaryKeyConstraint("parent_id", "seq", { name = "pk_child" }),
      sa.ForeignKeyConstraint({ "parent_id" }, { "parent.id" }, { name = "fk_child_parent",
                              ondelete = "CASCADE", onupdate = "CASCADE" }),
      sa.ForeignKeyConstraint({ "parent_code" }, { "parent.code" }, { name = "fk_child_parent_code",
                              ondelete = "SET NULL" }),
      sa.CheckConstraint("amount >= 0", { name = "ck_child_amount_positive" }),
      sa.UniqueConstraint("parent_id", "amount", { name = "uq_child_parent_amount" }),
      sa.Index("ix_child_amount", "amount"))
  end), [[
CREATE TABLE parent (
    id INTEGER NOT NULL, 
    code VARCHAR(20) NOT NULL, 
    PRIMARY KEY (id), 
    CONSTRAINT uq_parent_code UNIQUE (code)
);

CREATE TABLE child (
    parent_id INTEGER NOT NULL, 
    seq INTEGER NOT NULL, 
    amount NUMERIC(12, 2) NOT NULL, 
    parent_code VARCHAR(20), 
    CONSTRAINT pk_child PRIMARY KEY (parent_id, seq), 
    CONSTRAINT fk_child_parent FOREIGN KEY(parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE, 
    CONSTRAINT fk_child_parent_code FOREIGN KEY(parent_code) REFERENCES parent (code) ON DELETE SET NULL, 
    CONSTRAINT ck_child_amount_positive CHECK (amount >= 0), 
    CONSTRAINT uq_child_parent_amount UNIQUE (parent_id, amount)
);

CREATE INDEX ix_child_amount ON child (amount);

]])
end)

T.test("column ForeignKey comes after constraints built before the table", function()
  T.eq(offline(function()
    op.create_table("t",
      sa.Column("id", sa.Integer(), { primary_key = true }),
      sa.Column("ref_id", sa.Integer(), sa.ForeignKey("ref.id", { name = "fk_t_ref" })),
      sa.Column("code", sa.String(10), { nullable = false }),
      sa.Column("n", sa.Integer(), { server_default = "5" }),
      sa.Column("legacy", sa.String(10)),
      sa.UniqueConstraint("code", { name = "uq_t_code" }),
      sa.CheckConstraint("n >= 0", { name = "ck_t_n" }))
    op.create_index("ix_t_n", "t", { "n" })
  end), [[
CREATE TABLE t (
    id INTEGER NOT NULL, 
    ref_id INTEGER, 
    code VARCHAR(10) NOT NULL, 
    n INTEGER DEFAULT '5', 
    legacy VARCHAR(10), 
    PRIMARY KEY (id), 
    CONSTRAINT uq_t_code UNIQUE (code), 
    CONSTRAINT ck_t_n CHECK (n >= 0), 
    CONSTRAINT fk_t_ref FOREIGN KEY(ref_id) REFERENCES ref (id)
);

CREATE INDEX ix_t_n ON t (n);

]])
end)

T.test("sqlite_autoincrement puts PRIMARY KEY AUTOINCREMENT inline", function()
  T.eq(offline(function()
    op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }),
                    sa.Column("v", sa.Text()), { sqlite_autoincrement = true })
  end), [[
CREATE TABLE t (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
    v TEXT
);

]])
end)

T.test("table without primary key", function()
  T.eq(offline(function()
    op.create_table("t", sa.Column("a", sa.Integer(), { nullable = false }),
                    sa.Column("b", sa.Integer(), { nullable = false }))
  end), "CREATE TABLE t (\n    a INTEGER NOT NULL, \n    b INTEGER NOT NULL\n);\n\n")
end)

T.test("add_column and drop_column", function()
  T.eq(offline(function()
    op.add_column("items", sa.Column("price", sa.Numeric(10, 2), { nullable = true }))
    op.add_column("items", sa.Column("status", sa.String(10), { nullable = false, server_default = "new" }))
    op.add_column("items", sa.Column("flag", sa.Boolean(), { nullable = false, server_default = sa.false_() }))
    op.add_column("items", sa.Column("label", sa.Text(), { server_default = "o'clock" }))
    op.add_column("ev", sa.Column("created_at", sa.DateTime(), { nullable = false,
                                  server_default = sa.func.current_timestamp() }))
    op.drop_column("items", "label")
    op.drop_column({ table_name = "items", column_name = "flag" })
  end), [[
ALTER TABLE items ADD COLUMN price NUMERIC(10, 2);

ALTER TABLE items ADD COLUMN status VARCHAR(10) DEFAULT 'new' NOT NULL;

ALTER TABLE items ADD COLUMN flag BOOLEAN DEFAULT (0) NOT NULL;

ALTER TABLE items ADD COLUMN label TEXT DEFAULT 'o''clock';

ALTER TABLE ev ADD COLUMN created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL;

ALTER TABLE items DROP COLUMN label;

ALTER TABLE items DROP COLUMN flag;

]])
end)

T.test("add_column with a ForeignKey writes it in the column (Alembic raises here)", function()
  local ctx = T.context("sqlite")
  op.add_column("t", sa.Column("p_id", sa.Integer(), sa.ForeignKey("p.id", { ondelete = "CASCADE" })))
  T.eq(T.sql(ctx), { "ALTER TABLE t ADD COLUMN p_id INTEGER REFERENCES p (id) ON DELETE CASCADE" })
end)

T.test("add_column with unique = true raises Alembic's SQLite message", function()
  local ctx = T.context("sqlite")
  T.raises(function()
    op.add_column("t", sa.Column("p_id", sa.Integer(), { unique = true }))
  end, "No support for ALTER of constraints in SQLite dialect. Please refer to the batch mode "
    .. "feature which allows for SQLite migrations using a copy-and-move strategy.")
  T.eq(#ctx.log, 0, "nothing ran")
end)

T.test("indexes: plain, unique, several columns, op.f, partial, expression", function()
  T.eq(offline(function()
    op.create_index("ix_t_a", "t", { "a" })
    op.create_index("ux_t_b", "t", { "b" }, { unique = true })
    op.create_index("ix_t_b_c", "t", { "b", "c" })
    op.create_index(op.f("ix_t_c"), "t", { "c" }, { unique = false })
    op.create_index("ix_t_a_partial", "t", { "a" }, { postgresql_where = sa.text("b > 0"),
                                                      sqlite_where = sa.text("b > 0") })
    op.create_index("ix_t_email_lower", "t", { sa.text("lower(email)") })
    op.create_index("ix_if", "t", { "a" }, { if_not_exists = true })
    op.drop_index("ix_t_email_lower", { table_name = "t" })
    op.drop_index(op.f("ix_t_c"), "t")
    op.drop_index("ix_if", "t", { if_exists = true })
  end), [[
CREATE INDEX ix_t_a ON t (a);

CREATE UNIQUE INDEX ux_t_b ON t (b);

CREATE INDEX ix_t_b_c ON t (b, c);

CREATE INDEX ix_t_c ON t (c);

CREATE INDEX ix_t_a_partial ON t (a) WHERE b > 0;

CREATE INDEX ix_t_email_lower ON t (lower(email));

CREATE INDEX IF NOT EXISTS ix_if ON t (a);

DROP INDEX ix_t_email_lower;

DROP INDEX ix_t_c;

DROP INDEX IF EXISTS ix_if;

]])
end)

T.test("rename_table and rename column", function()
  T.eq(offline(function()
    op.rename_table("old_name", "new_name")
    op.alter_column("t", "old", { new_column_name = "new", existing_type = sa.String(10) })
  end), "ALTER TABLE old_name RENAME TO new_name;\n\nALTER TABLE t RENAME old TO new;\n\n")
end)

T.test("alter_column nullable and server_default emit ALTER COLUMN as Alembic does", function()
  T.eq(offline(function()
    op.alter_column("t", "name", { existing_type = sa.String(50), nullable = false })
    op.alter_column("t", "name", { existing_type = sa.String(50), nullable = true })
    op.alter_column("t", "a", { existing_type = sa.String(10), server_default = "hello" })
    op.alter_column("t", "b", { existing_type = sa.Integer(), server_default = false,
                                existing_server_default = "1" })
  end), [[
ALTER TABLE t ALTER COLUMN name SET NOT NULL;

ALTER TABLE t ALTER COLUMN name DROP NOT NULL;

ALTER TABLE t ALTER COLUMN a SET DEFAULT 'hello';

ALTER TABLE t ALTER COLUMN b DROP DEFAULT;

]])
end)

T.test("comments are not supported on SQLite", function()
  T.context("sqlite")
  T.raises(function() op.create_table_comment("t", "the t table") end, "can't render element")
  T.raises(function()
    op.alter_column("t", "a", { existing_type = sa.String(10), comment = "column a" })
  end, "can't render element of type ColumnComment")
end)

T.test("constraint ops outside batch raise on SQLite", function()
  T.context("sqlite")
  local msg = "No support for ALTER of constraints in SQLite dialect."
  T.raises(function() op.create_check_constraint("ck_t_n_range", "t", "n BETWEEN 0 AND 100") end, msg)
  T.raises(function() op.drop_constraint("ck_t_n_range", "t", "check") end, msg)
  T.raises(function() op.create_unique_constraint("uq_t_a_b", "t", { "a", "b" }) end, msg)
  T.raises(function()
    op.create_foreign_key("fk_c_p", "c", "p", { "p_id" }, { "id" }, { ondelete = "CASCADE" })
  end, msg)
  T.raises(function() op.create_primary_key("pk_t", "t", { "a", "b" }) end, msg)
  T.raises(function() op.drop_constraint { constraint_name = "pk_t", table_name = "t", type_ = "primary" } end, msg)
end)

T.test("execute: strings, sa.text, bound parameters", function()
  local ctx = T.context("sqlite")
  op.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
  op.execute(sa.text("INSERT INTO kv (k, v) VALUES ('b', 2), ('c', 3)"))
  op.execute("UPDATE kv SET v = :v WHERE k = :k", { v = 20, k = "b" })
  T.eq(ctx.log, {
    { sql = "INSERT INTO kv (k, v) VALUES ('a', 1)" },
    { sql = "INSERT INTO kv (k, v) VALUES ('b', 2), ('c', 3)" },
    { sql = "UPDATE kv SET v = :v WHERE k = :k", params = { v = 20, k = "b" } },
  })
end)

T.test("bulk_insert offline renders literals, one INSERT per row", function()
  local acct = sa.table("acct", sa.column("id", sa.Integer), sa.column("name", sa.String),
                        sa.column("opened", sa.Date), sa.column("seen", sa.DateTime),
                        sa.column("active", sa.Boolean), sa.column("balance", sa.Numeric(10, 2)))
  T.eq(offline(function()
    op.bulk_insert(acct, {
      { id = 1, name = "alice", opened = "2020-01-02", seen = "2021-03-04 05:06:07.000000",
        active = true, balance = sa.text("10.50") },
      { id = 2, name = "bob's", active = false, balance = -3.25 },
      { id = 3, name = "carol", opened = "1999-12-31" },
    })
    op.bulk_insert(acct, { { id = 4, name = "dave", active = true, balance = 0 } }, { multiinsert = false })
  end), [[
INSERT INTO acct (id, name, opened, seen, active, balance) VALUES (1, 'alice', '2020-01-02', '2021-03-04 05:06:07.000000', 1, 10.50);

INSERT INTO acct (id, name, opened, seen, active, balance) VALUES (2, 'bob''s', NULL, NULL, 0, -3.25);

INSERT INTO acct (id, name, opened, seen, active, balance) VALUES (3, 'carol', '1999-12-31', NULL, NULL, NULL);

INSERT INTO acct (id, name, active, balance) VALUES (4, 'dave', 1, 0);

]])
end)

T.test("bulk_insert online binds parameters", function()
  -- named by position: a column's name is no parameter name
  local t = sa.table("kv", sa.column("k", sa.String), sa.column("v", sa.Integer))
  local log = online(function()
    op.bulk_insert(t, { { k = "a", v = 1 }, { k = "b" }, { k = "c", v = op.inline_literal(3) } })
  end)
  T.eq(log, {
    { sql = "INSERT INTO kv (k, v) VALUES (:p1, :p2)", params = { p1 = "a", p2 = 1 } },
    { sql = "INSERT INTO kv (k, v) VALUES (:p1, NULL)", params = { p1 = "b" } },
    { sql = "INSERT INTO kv (k, v) VALUES (:p1, 3)", params = { p1 = "c" } },
  })
end)

T.test("bulk_insert rejects unknown columns", function()
  T.context("sqlite")
  local t = sa.table("kv", sa.column("k", sa.String))
  T.raises(function() op.bulk_insert(t, { { x = 1 } }) end, "Unconsumed column names: x")
end)

T.test("bulk_insert into the table create_table returned", function()
  local ctx = T.context("sqlite", { as_sql = true })
  local t = op.create_table("kv", sa.Column("k", sa.String(20), { primary_key = true }),
                            sa.Column("v", sa.Integer()))
  op.bulk_insert(t, { { k = "a", v = 1 } })
  T.eq(ctx.log[2].sql, "INSERT INTO kv (k, v) VALUES ('a', 1)")
end)

T.test("identifiers are quoted like SQLAlchemy's sqlite preparer", function()
  local d = require("luamig.sqldialect").get("sqlite")
  T.eq(d:quote("old"), "old")
  T.eq(d:quote("order"), '"order"')
  T.eq(d:quote("Mixed"), '"Mixed"')
  T.eq(d:quote("with space"), '"with space"')
  T.eq(d:quote("1abc"), '"1abc"')
  T.eq(d:quote("a$b"), "a$b")
  T.eq(d:quote('q"t'), '"q""t"')
end)

T.test("literals", function()
  local d = require("luamig.sqldialect").get("sqlite")
  T.eq(d:literal("it's"), "'it''s'")
  T.eq(d:literal(5), "5")
  T.eq(d:literal(1.5), "1.5")
  T.eq(d:literal(0.1), "0.1")
  T.eq(d:literal(2.0), "2.0")
  T.eq(d:literal(true), "1")
  T.eq(d:literal(nil), "NULL")
  T.eq(d:literal(sa.text("now()")), "now()")
  T.eq(d:literal(sa.null()), "NULL")
end)

T.test("schema-qualified tables and indexes", function()
  T.eq(offline(function()
    op.create_table("acct", sa.Column("id", sa.Integer(), { primary_key = true }), { schema = "app" })
    op.create_index("ix_app_acct_name", "acct", { "name" }, { schema = "app" })
    op.drop_index("ix_app_acct_name", { table_name = "acct", schema = "app" })
  end), [[
CREATE TABLE app.acct (
    id INTEGER NOT NULL, 
    PRIMARY KEY (id)
);

CREATE INDEX app.ix_app_acct_name ON acct (name);

DROP INDEX app.ix_app_acct_name;

]])
end)

T.test("misuse raises with the op name", function()
  T.context("sqlite")
  T.raises(function() op.add_column("t") end, "op.add_column: missing argument 'column'")
  T.raises(function() op.add_column("t", "x") end, "op.add_column: expected a sa.Column")
  T.raises(function() op.alter_column("t", "c", { nulable = true }) end, "unknown option 'nulable'")
  T.raises(function() op.create_table("t", sa.Column("x")) end, "Can't generate DDL for NullType()")
  T.raises(function() op.drop_constraint("x", "t", "bogus") end, "type_ must be one of")
end)

T.run()
