-- Batch mode ("move and copy"): the plain path and the offline copy_from path (exact Alembic
-- output). The SQLite rebuild against a real database, which reads the live table through the
-- C reflection, is in test_batch_rebuild.lua (run inside the luamig binary).
local T = require "helper"
local cli = require "sqlite_cli"
local sa = require "luamig.sa"
local op = require "luamig.op"

local tmpdir = os.getenv("TMPDIR") or "/tmp"
local dbpath = tmpdir .. "/luamig_test_batch_" .. tostring(os.time()) .. "_" .. tostring(math.random(1e6)) .. ".db"

T.test("auto on SQLite: add_column and create_index run as plain ALTERs", function()
  local ctx = T.context("sqlite", { as_sql = true })
  op.batch_alter_table("t", function(batch_op)
    batch_op.add_column(sa.Column("a", sa.String(10), { server_default = "z" }))
    batch_op.create_index("ix_t_a", { "a" })
  end)
  T.eq(T.script(ctx), "ALTER TABLE t ADD COLUMN a VARCHAR(10) DEFAULT 'z';\n\nCREATE INDEX ix_t_a ON t (a);\n\n")
end)

T.test("offline rebuild without copy_from raises Alembic's message", function()
  T.context("sqlite", { as_sql = true })
  T.raises(function()
    op.batch_alter_table("t", { recreate = "always" }, function(batch_op)
      batch_op.add_column(sa.Column("b", sa.Integer(), { nullable = false, server_default = "0" }))
    end)
  end, 'This operation cannot proceed in --sql mode; batch mode with dialect sqlite requires a live '
    .. 'database connection with which to reflect the table "t". To generate a batch SQL migration '
    .. 'script using table "move and copy", a complete Table object should be passed to the '
    .. '"copy_from" argument of the batch_alter_table() method so that table reflection can be skipped.')
end)

T.test("offline rebuild with copy_from matches Alembic", function()
  local ctx = T.context("sqlite", { as_sql = true })
  local t = sa.Table("t", sa.MetaData(),
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("a", sa.String(10)),
    sa.Column("b", sa.Integer()))
  op.batch_alter_table("t", { copy_from = t }, function(batch_op)
    batch_op.alter_column("a", { existing_type = sa.String(10), nullable = false })
    batch_op.drop_column("b")
  end)
  T.eq(T.script(ctx), [[
CREATE TABLE _alembic_tmp_t (
    id INTEGER NOT NULL, 
    a VARCHAR(10) NOT NULL, 
    PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_t (id, a) SELECT t.id, t.a 
FROM t;

DROP TABLE t;

ALTER TABLE _alembic_tmp_t RENAME TO t;

]])
  local t2 = sa.Table("t", sa.MetaData(),
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("a", sa.String(10), { nullable = false }))
  ctx.log = {}
  op.batch_alter_table("t", { copy_from = t2 }, function(batch_op)
    batch_op.add_column(sa.Column("b", sa.Integer()))
    batch_op.alter_column("a", { existing_type = sa.String(10), nullable = true })
  end)
  T.eq(T.script(ctx), [[
CREATE TABLE _alembic_tmp_t (
    id INTEGER NOT NULL, 
    a VARCHAR(10), 
    b INTEGER, 
    PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_t (id, a) SELECT t.id, t.a 
FROM t;

DROP TABLE t;

ALTER TABLE _alembic_tmp_t RENAME TO t;

]])
end)

T.test("on PostgreSQL batch operations are plain ALTERs", function()
  local ctx = T.context("postgresql", { as_sql = true })
  op.batch_alter_table("t", function(batch_op)
    batch_op.alter_column("name", { existing_type = sa.String(20), nullable = false })
    batch_op.alter_column("qty", { existing_type = sa.Integer(), type_ = sa.BigInteger() })
    batch_op.alter_column("old_name", { new_column_name = "new_name", existing_type = sa.String(10) })
    batch_op.alter_column("d", { existing_type = sa.String(10), server_default = "dflt" })
    batch_op.create_unique_constraint("uq_t_a", { "a" })
    batch_op.drop_constraint("uq_t_a", { type_ = "unique" })
  end)
  T.eq(T.script(ctx), [[
ALTER TABLE t ALTER COLUMN name SET NOT NULL;

ALTER TABLE t ALTER COLUMN qty TYPE BIGINT;

ALTER TABLE t RENAME old_name TO new_name;

ALTER TABLE t ALTER COLUMN d SET DEFAULT 'dflt';

ALTER TABLE t ADD CONSTRAINT uq_t_a UNIQUE (a);

ALTER TABLE t DROP CONSTRAINT uq_t_a;

]])
end)

T.test("batch_op refuses create_table", function()
  T.context("sqlite")
  T.raises(function()
    op.batch_alter_table("t", function(b) b.create_table("x") end)
  end, "create_table() not allowed in batch mode")
end)

T.test("create_table statements executed by the real sqlite3", function()
  local db = cli.context(dbpath)
  op.create_table("defaults",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("name", sa.String(40), { nullable = false, server_default = "anon" }),
    sa.Column("quote", sa.String(40), { server_default = "it's" }),
    sa.Column("active", sa.Boolean(), { nullable = false, server_default = sa.true_() }),
    sa.Column("created_at", sa.DateTime(), { nullable = false, server_default = sa.func.current_timestamp() }),
    sa.Column("code", sa.String(10), { unique = true }),
    sa.Column("tag", sa.String(10), { index = true }))
  op.execute("INSERT INTO defaults (code, tag) VALUES ('c1', 't1')")
  local row = db:query("SELECT name, quote, active FROM defaults")[1]
  T.eq({ row.name, row.quote, row.active }, { "anon", "it's", 1 })
  T.eq(db:query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")[1].name, "ix_defaults_tag")
end)

T.run(function() os.remove(dbpath) end)
