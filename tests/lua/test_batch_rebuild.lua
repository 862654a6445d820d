-- Batch mode's SQLite rebuild against a real database, including what luamig does better than
-- Alembic 1.8. The live table is read through the C reflection (luamig.inspect with
-- batch = true), so this file runs inside the luamig binary (tests/lua/run_in_luamig.py).
local T = require "helper"
local conn = require "sqlite_conn"
local sa = require "luamig.sa"
local op = require "luamig.op"
local luamig = require "luamig"

local tmpdir = os.getenv("TMPDIR") or "/tmp"
local dbpath = tmpdir .. "/luamig_test_batch_" .. tostring(os.time()) .. "_" .. tostring(math.random(1e6)) .. ".db"

T.test("SQLite rebuild: alter nullable/type/name/default (Alembic's run, rename done natively first)", function()
  local db = conn.context(dbpath)
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
  local db = conn.context(dbpath)
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
  local db = conn.context(dbpath)
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
  local db = conn.context(dbpath)
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
  local db = conn.context(dbpath)
  op.execute("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, v TEXT COLLATE NOCASE, x INTEGER)")
  op.batch_alter_table("t", function(batch_op) batch_op.drop_column("x") end)
  T.eq(db:query("SELECT sql FROM sqlite_master WHERE name = 't'")[1].sql,
       'CREATE TABLE "t" (\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n\tv TEXT COLLATE "NOCASE"\n)')
end)

T.test("batch.reflect reads the live table through the C reflection: checks, references, names, types", function()
  local batch = require "luamig.batch"
  local db = conn.context(dbpath)
  op.execute([[CREATE TABLE "My T" ("a b" INTEGER CONSTRAINT c1 CHECK ("a b" > 0) REFERENCES x(id), c TEXT UNIQUE, n NUMERIC(10, 2), g GEOMETRY, CONSTRAINT pk PRIMARY KEY ("a b"), FOREIGN KEY (c) REFERENCES y (z) DEFERRABLE INITIALLY DEFERRED)]])
  op.execute([[CREATE INDEX "ix g" ON "My T" (g)]])
  op.execute([[CREATE INDEX "ix expr" ON "My T" (lower(c), n)]])
  op.execute([[CREATE TRIGGER "My T ins" AFTER INSERT ON "My T" BEGIN SELECT 1; END]])
  local r = batch.reflect(db, "My T")
  local t = r.table
  T.eq(t.primary_key, { kind = "primary_key", name = "pk", columns = { "a b" } })
  T.eq(t.constraints, {
    { kind = "unique", columns = { "c" } },
    { kind = "check", name = "c1", sqltext = '"a b" > 0' },
    { kind = "foreign_key", columns = { "a b" }, referred_table = "x", referred_columns = { "id" } },
    { kind = "foreign_key", columns = { "c" }, referred_table = "y", referred_columns = { "z" },
      deferrable = true, initially = "DEFERRED" },
  })
  T.eq(t.c.n.type, { kind = "type", name = "NUMERIC", module = "sa", precision = 10, scale = 2 })
  T.eq(t.c.g.type, { kind = "type", name = "GEOMETRY", module = "reflected", sql = "GEOMETRY" })
  T.eq(r.indexes, {
    { name = "ix g", sql = [[CREATE INDEX "ix g" ON "My T" (g)]], columns = { "g" }, expression = false, unique = false },
    { name = "ix expr", sql = [[CREATE INDEX "ix expr" ON "My T" (lower(c), n)]], columns = { "n" }, expression = true,
      unique = false },
  })
  T.eq(r.triggers, { { name = "My T ins", sql = [[CREATE TRIGGER "My T ins" AFTER INSERT ON "My T" BEGIN SELECT 1; END]] } })
  T.eq({ r.views_reference, r.table.mentioned_in }, { false, nil })
  T.raises(function() batch.reflect(db, "my t") end, "No such table: 'my t'")
end)

T.test("the reflection's batch fields come only on request", function()
  local db = conn.context(dbpath)
  op.execute("CREATE TABLE t (a VARCHAR(5) CHECK (a <> ''), b GEOMETRY)")
  op.execute("CREATE INDEX ix_t_a ON t (a)")
  op.execute("CREATE VIEW v AS SELECT a FROM t")
  local plain = luamig.inspect(db.connection).tables.t
  T.eq({ plain.triggers, plain.mentioned_in, plain.indexes[1].sql, plain.constraints[1].inline },
       { nil, nil, nil, nil })
  T.eq(plain.c.b.type, { kind = "type", name = "NUMERIC", module = "sa" })
  local md = luamig.inspect(db.connection, { tables = { "t" }, batch = true })
  T.eq(#md.sorted, 1)
  local t = md.tables.t
  T.eq({ t.triggers, t.mentioned_in, t.indexes[1].sql, t.constraints[1].inline },
       { {}, { { type = "view", name = "v" } }, "CREATE INDEX ix_t_a ON t (a)", true })
  T.eq(#luamig.inspect(db.connection, { tables = { "T" } }).sorted, 0, "table names are exact")
  T.raises(function() luamig.inspect(db.connection, { tables = { 1 } }) end,
           "reflect: tables[1] is not a name")
  T.raises(function() luamig.inspect(db.connection, { tables = "t" }) end,
           "reflect: tables must be a list of names")
end)

T.test("SQLite rebuild declares each column's type and default as before", function()
  local db = conn.context(dbpath)
  op.execute([[CREATE TABLE t (a VARCHAR(20), b varchar(20), c INT, d BOOL, e DOUBLE, f DOUBLE PRECISION,
    g GEOMETRY, h NUMERIC(10, 2), k CLOB(10) COLLATE NOCASE, n UNSIGNED BIG INT, o NVARCHAR(5, 3),
    p varchar ( 7 ), q INT DEFAULT 5, r TEXT DEFAULT 'x', s INT DEFAULT (1+2), u TEXT DEFAULT CURRENT_TIMESTAMP,
    v INT DEFAULT NULL, w INT DEFAULT -1, x INT DEFAULT TRUE, y TEXT DEFAULT (datetime('now')), zz INT)]])
  op.batch_alter_table("t", function(batch_op) batch_op.drop_column("zz") end)
  T.eq(db:query("SELECT sql FROM sqlite_master WHERE name = 't'")[1].sql,
       'CREATE TABLE "t" (\n\ta VARCHAR(20), \n\tb VARCHAR(20), \n\tc INTEGER, \n\td BOOL, \n\te DOUBLE, '
       .. '\n\tf DOUBLE PRECISION, \n\tg GEOMETRY, \n\th NUMERIC(10, 2), \n\tk CLOB(10) COLLATE "NOCASE", '
       .. '\n\tn UNSIGNED BIG INT, \n\to NVARCHAR(5, 3), \n\tp VARCHAR(7), \n\tq INTEGER DEFAULT 5, '
       .. "\n\tr TEXT DEFAULT 'x', \n\ts INTEGER DEFAULT (1+2), \n\tu TEXT DEFAULT CURRENT_TIMESTAMP, "
       .. "\n\tv INTEGER DEFAULT NULL, \n\tw INTEGER DEFAULT -1, \n\tx INTEGER DEFAULT (TRUE), "
       .. "\n\ty TEXT DEFAULT (datetime('now'))\n)")
end)

T.test("SQLite rebuild keeps multi-column unique constraints, generated columns, REFERENCES t", function()
  local db = conn.context(dbpath)
  op.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
  op.execute([[CREATE TABLE t (a INT REFERENCES p, b INT, g INT GENERATED ALWAYS AS (a + b), zz INT,
    CONSTRAINT uq_ab UNIQUE (a, b))]])
  op.execute("INSERT INTO p (id) VALUES (1)")
  op.execute("INSERT INTO t (a, b) VALUES (1, 2)")
  db.log = {}
  op.batch_alter_table("t", function(batch_op) batch_op.drop_column("zz") end)
  T.eq(db.log[1], "CREATE TABLE _alembic_tmp_t (\n\ta INTEGER, \n\tb INTEGER, "
    .. "\n\tg INTEGER GENERATED ALWAYS AS (a + b) VIRTUAL, \n\tCONSTRAINT uq_ab UNIQUE (a, b), "
    .. "\n\tFOREIGN KEY(a) REFERENCES p (id)\n)")
  T.eq(db.log[2], "INSERT INTO _alembic_tmp_t (a, b) SELECT t.a, t.b \nFROM t")
  T.eq(db:query("SELECT a, b, g FROM t"), { { 1, 2, 3, a = 1, b = 2, g = 3 } })
end)

T.run(function() os.remove(dbpath) end)
