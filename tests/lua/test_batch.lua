-- Batch mode ("move and copy"): the plain path, the offline copy_from path (exact Alembic
-- output) and the SQLite rebuild against a real database (sqlite3 shell), including what luamig
-- does better than Alembic 1.8.
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

T.test("SQLite rebuild: alter nullable/type/name/default (Alembic's run, rename done natively first)", function()
  local db = cli.context(dbpath)
  op.create_table("t",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("name", sa.String(20)),
    sa.Column("qty", sa.Integer()),
    sa.Column("old_name", sa.String(10)),
    sa.Column("d", sa.String(10)))
  op.execute("INSERT INTO t (id, name, qty, old_name, d) VALUES (1, 'n1', 5, 'o1', 'd1'), (2, 'n2', 7, NULL, NULL)")
  db.log = {}
  op.batch_alter_table("t", function(batch_op)
    batch_op.alter_column("name", { existing_type = sa.String(20), nullable = false })
    batch_op.alter_column("qty", { existing_type = sa.Integer(), type_ = sa.BigInteger() })
    batch_op.alter_column("old_name", { new_column_name = "new_name", existing_type = sa.String(10) })
    batch_op.alter_column("d", { existing_type = sa.String(10), server_default = "dflt" })
  end)
  T.eq(db.log, {
    "ALTER TABLE t RENAME old_name TO new_name",
    "CREATE TABLE _alembic_tmp_t (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(20) NOT NULL, \n\tqty BIGINT, \n\tnew_name VARCHAR(10), \n\td VARCHAR(10) DEFAULT 'dflt', \n\tPRIMARY KEY (id)\n)",
    "INSERT INTO _alembic_tmp_t (id, name, qty, new_name, d) SELECT t.id, t.name, t.qty, t.new_name, t.d \nFROM t",
    "DROP TABLE t",
    "ALTER TABLE _alembic_tmp_t RENAME TO t",
  })
  T.eq(db:query("SELECT id, name, qty, new_name, d FROM t ORDER BY id"),
       { { 1, "n1", 5, "o1", "d1", id = 1, name = "n1", qty = 5, new_name = "o1", d = "d1" },
         { 2, "n2", 7, id = 2, name = "n2", qty = 7 } })
  -- and back
  op.batch_alter_table("t", function(batch_op)
    batch_op.alter_column("d", { existing_type = sa.String(10), server_default = false })
    batch_op.alter_column("new_name", { new_column_name = "old_name", existing_type = sa.String(10) })
    batch_op.alter_column("qty", { existing_type = sa.BigInteger(), type_ = sa.Integer() })
    batch_op.alter_column("name", { existing_type = sa.String(20), nullable = true })
  end)
  T.eq(db:query("SELECT sql FROM sqlite_master WHERE name = 't'")[1].sql,
       'CREATE TABLE "t" (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(20), \n\tqty INTEGER, \n\told_name VARCHAR(10), \n\td VARCHAR(10), \n\tPRIMARY KEY (id)\n)')
end)

T.test("SQLite rebuild keeps named and unnamed constraints, FKs and indexes", function()
  local db = cli.context(dbpath)
  op.create_table("ref", sa.Column("id", sa.Integer(), { primary_key = true }))
  op.create_table("t",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("ref_id", sa.Integer(), sa.ForeignKey("ref.id", { name = "fk_t_ref", ondelete = "CASCADE" })),
    sa.Column("code", sa.String(10), { nullable = false }),
    sa.Column("n", sa.Integer(), { server_default = "5" }),
    sa.Column("legacy", sa.String(10)),
    sa.UniqueConstraint("code", { name = "uq_t_code" }),
    sa.CheckConstraint("n >= 0", { name = "ck_t_n" }),
    sa.CheckConstraint("length(code) < 9"))
  op.create_index("ix_t_n", "t", { "n" })
  op.create_index("ix_t_legacy", "t", { "legacy" })
  op.create_index("ix_t_code_n", "t", { sa.text("lower(code)") }, { sqlite_where = sa.text("n > 0") })
  op.execute("INSERT INTO ref (id) VALUES (1)")
  op.execute("INSERT INTO t (id, ref_id, code, n, legacy) VALUES (1, 1, 'a', 3, 'old'), (2, NULL, 'b', 0, NULL)")
  db.log = {}
  op.batch_alter_table("t", function(batch_op)
    batch_op.drop_column("legacy")
  end)
  T.eq(db.log, {
    "CREATE TABLE _alembic_tmp_t (\n\tid INTEGER NOT NULL, \n\tref_id INTEGER, \n\tcode VARCHAR(10) NOT NULL, \n\tn INTEGER DEFAULT '5', \n\tPRIMARY KEY (id), \n\tCONSTRAINT uq_t_code UNIQUE (code), \n\tCONSTRAINT ck_t_n CHECK (n >= 0), \n\tCHECK (length(code) < 9), \n\tCONSTRAINT fk_t_ref FOREIGN KEY(ref_id) REFERENCES ref (id) ON DELETE CASCADE\n)",
    "INSERT INTO _alembic_tmp_t (id, ref_id, code, n) SELECT t.id, t.ref_id, t.code, t.n \nFROM t",
    "DROP TABLE t",
    "ALTER TABLE _alembic_tmp_t RENAME TO t",
    "CREATE INDEX ix_t_n ON t (n)",
    "CREATE INDEX ix_t_code_n ON t (lower(code)) WHERE n > 0",
  })
  T.eq(#db:query("SELECT * FROM t"), 2)
  T.raises(function() op.execute("INSERT INTO t (id, code, n) VALUES (3, 'toolongcode', 1)") end,
           "CHECK constraint failed")
end)

T.test("SQLite rebuild: views, triggers and referencing foreign keys survive", function()
  local db = cli.context(dbpath)
  op.create_table("p", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("v", sa.String(5)))
  op.create_table("c", sa.Column("id", sa.Integer(), { primary_key = true }),
                  sa.Column("p_id", sa.Integer(), sa.ForeignKey("p.id", { ondelete = "CASCADE" })))
  op.create_table("audit", sa.Column("p_id", sa.Integer()))
  op.execute("CREATE VIEW pv AS SELECT id, v FROM p")
  op.execute("CREATE TRIGGER p_ins AFTER INSERT ON p BEGIN INSERT INTO audit (p_id) VALUES (new.id); END")
  op.execute("INSERT INTO p (id, v) VALUES (1, 'a')")
  op.execute("INSERT INTO c (id, p_id) VALUES (10, 1)")
  op.batch_alter_table("p", function(batch_op)
    batch_op.alter_column("v", { new_column_name = "val", type_ = sa.Integer() })
  end)
  local copy
  for _, sql in ipairs(db.log) do if sql:match("^INSERT INTO _alembic_tmp_p") then copy = sql end end
  T.eq(copy, "INSERT INTO _alembic_tmp_p (id, val) SELECT p.id, CAST(p.val AS INTEGER) AS anon_1 \nFROM p")
  T.eq(db.log[#db.log], "PRAGMA legacy_alter_table=OFF")
  T.eq(#db:query("SELECT * FROM c"), 1, "child row kept")
  T.eq(db:query("SELECT name FROM sqlite_master WHERE type = 'trigger'")[1].name, "p_ins")
  op.execute("INSERT INTO p (id, val) VALUES (2, 5)")
  T.eq(#db:query("SELECT * FROM audit"), 2, "trigger recreated")
  T.eq(#db:query("SELECT * FROM pv"), 2, "view works")
  T.eq(#db:query("PRAGMA foreign_key_check"), 0)
end)

T.test("SQLite rebuild: constraints added and dropped in batch", function()
  local db = cli.context(dbpath)
  op.create_table("t", sa.Column("a", sa.Integer(), { nullable = false }),
                  sa.Column("b", sa.Integer(), { nullable = false }), sa.Column("c", sa.String(5)))
  op.batch_alter_table("t", function(batch_op)
    batch_op.create_primary_key("pk_t", { "a", "b" })
    batch_op.create_unique_constraint("uq_t_c", { "c" })
    batch_op.create_check_constraint("ck_t_a", "a > 0")
    batch_op.create_foreign_key("fk_t_self", "t", { "c" }, { "c" })
  end)
  T.eq(db:query("SELECT sql FROM sqlite_master WHERE name = 't'")[1].sql,
       'CREATE TABLE "t" (\n\ta INTEGER NOT NULL, \n\tb INTEGER NOT NULL, \n\tc VARCHAR(5), \n\tCONSTRAINT pk_t PRIMARY KEY (a, b), \n\tCONSTRAINT uq_t_c UNIQUE (c), \n\tCONSTRAINT ck_t_a CHECK (a > 0), \n\tCONSTRAINT fk_t_self FOREIGN KEY(c) REFERENCES t (c)\n)')
  op.batch_alter_table("t", function(batch_op)
    batch_op.drop_constraint("fk_t_self", { type_ = "foreignkey" })
    batch_op.drop_constraint { constraint_name = "pk_t", type_ = "primary" }
    batch_op.drop_constraint("ck_t_a", "check")
  end)
  T.eq(db:query("SELECT sql FROM sqlite_master WHERE name = 't'")[1].sql,
       'CREATE TABLE "t" (\n\ta INTEGER NOT NULL, \n\tb INTEGER NOT NULL, \n\tc VARCHAR(5), \n\tCONSTRAINT uq_t_c UNIQUE (c)\n)')
  T.raises(function()
    op.batch_alter_table("t", function(batch_op) batch_op.drop_constraint("nope") end)
  end, "No such constraint: 'nope'")
end)

T.test("SQLite rebuild keeps sqlite_autoincrement and COLLATE", function()
  local db = cli.context(dbpath)
  op.execute("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, v TEXT COLLATE NOCASE, x INTEGER)")
  op.batch_alter_table("t", function(batch_op) batch_op.drop_column("x") end)
  T.eq(db:query("SELECT sql FROM sqlite_master WHERE name = 't'")[1].sql,
       'CREATE TABLE "t" (\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n\tv TEXT COLLATE "NOCASE"\n)')
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

T.test("reflection parser: column checks, inline references, quoted names", function()
  local batch = require "luamig.batch"
  local info = batch._parse_create_table([[CREATE TABLE "My T" ("a b" INTEGER CONSTRAINT c1 CHECK ("a b" > 0) REFERENCES x(id), c TEXT UNIQUE, CONSTRAINT pk PRIMARY KEY ("a b"), FOREIGN KEY (c) REFERENCES y (z) DEFERRABLE INITIALLY DEFERRED)]])
  T.eq(info.columns["a b"].checks, { { kind = "check", name = "c1", sqltext = '"a b" > 0' } })
  T.eq(info.pk, { name = "pk", columns = { "a b" } })
  T.eq(info.columns.c.unique, { kind = "unique", columns = { "c" } })
  T.eq(info.fks[2], { columns = { "c" }, deferrable = true, initially = "DEFERRED" })
  T.eq(batch.parse_type("NUMERIC(10, 2)"), { kind = "type", name = "NUMERIC", module = "sa", precision = 10, scale = 2 })
  T.eq(batch.parse_type("GEOMETRY"), { kind = "type", name = "GEOMETRY", module = "reflected", sql = "GEOMETRY" })
end)

T.run()
