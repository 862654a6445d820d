-- luamig.sa as real Alembic histories use it (issue 17): DESIGN's keyword rule for the sa.*
-- constructors, constraints given as positional arguments of sa.Column, and the SQL each
-- compiles to on both databases.
local T = require "helper"
local sa = require "luamig.sa"
local op = require "luamig.op"

local function offline(dialect, fn)
  local ctx = T.context(dialect, { as_sql = true })
  fn()
  return T.sql(ctx)
end

T.test("sa.ForeignKey{ column =, name = } is sa.ForeignKey(column, { name = })", function()
  local a = sa.ForeignKey { column = "experiments.experiment_id", name = "fk_x", ondelete = "CASCADE" }
  local b = sa.ForeignKey("experiments.experiment_id", { name = "fk_x", ondelete = "CASCADE" })
  T.eq(a, b)
  T.raises(function() sa.ForeignKey("a.b", { column = "c.d" }) end,
           "got multiple values for argument 'column'")
end)

T.test("sa.Column{ name =, type_ = } and Column(name, { type_ = })", function()
  local t1 = sa.Table("t", sa.MetaData(), sa.Column { name = "x", type_ = sa.Integer(), nullable = false })
  local t2 = sa.Table("t", sa.MetaData(), sa.Column("x", { type_ = sa.Integer(), nullable = false }))
  local t3 = sa.Table("t", sa.MetaData(), sa.Column("x", sa.Integer(), { nullable = false }))
  T.eq(t1.c.x.type, t3.c.x.type)
  T.eq(t2.c.x.type, t3.c.x.type)
  T.eq(t1.c.x.nullable, false)
  T.raises(function() sa.Column("x", sa.Integer(), { type_ = sa.Text() }) end,
           "got multiple values for argument 'type_'")
end)

T.test("sa.Index{ name =, columns in the array part, unique = }", function()
  local md = sa.MetaData()
  local t = sa.Table("t", md, sa.Column("a", sa.Integer), sa.Column("b", sa.Integer),
    sa.Index { name = "ix_ab", "a", "b", unique = true })
  T.eq(t.indexes[1].name, "ix_ab")
  T.eq(t.indexes[1].columns, { "a", "b" })
  T.eq(t.indexes[1].unique, true)
end)

T.test("constraints by keyword: ForeignKeyConstraint, UniqueConstraint, CheckConstraint, PK", function()
  local fk = sa.ForeignKeyConstraint { columns = { "p" }, refcolumns = { "parent.id" }, name = "fk_p" }
  T.eq(fk.columns, { "p" })
  T.eq(fk.referred_table, "parent")
  T.eq(fk.name, "fk_p")
  local uq = sa.UniqueConstraint { "a", "b", name = "uq_ab" }
  T.eq(uq.columns, { "a", "b" })
  T.eq(uq.name, "uq_ab")
  local ck = sa.CheckConstraint { sqltext = "a > 0", name = "ck_a" }
  T.eq(ck.sqltext, "a > 0")
  T.eq(ck.name, "ck_a")
  local pk = sa.PrimaryKeyConstraint { "id", name = "pk_t" }
  T.eq(pk.columns, { "id" })
  T.eq(pk.name, "pk_t")
end)

T.test("sa.Table{ name =, metadata = }, sa.table{ name = }, sa.column{ text =, type_ = }", function()
  local md = sa.MetaData()
  local t = sa.Table { name = "t", metadata = md, sa.Column("id", sa.Integer, { primary_key = true }),
                       comment = "c" }
  T.eq(t.name, "t")
  T.eq(md.tables.t, t)
  T.eq(t.comment, "c")
  local lt = sa.table { name = "lt", sa.column { text = "x", type_ = sa.String() } }
  T.eq(lt.name, "lt")
  T.eq(lt.c.x.type.name, "String")
  T.eq(sa.Enum { "a", "b", name = "mood" }.enums, { "a", "b" })
  T.eq(sa.Enum { "a", "b", name = "mood" }.enum_name, "mood")
end)

T.test("create_table: a CHECK given to sa.Column, both databases", function()
  for _, d in ipairs { "sqlite", "postgresql" } do
    local sql = offline(d, function()
      op.create_table("t", sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")),
        sa.Column("p", sa.Integer(), sa.CheckConstraint("p < 9", { name = "ck_p" })))
    end)
    T.eq(sql, { "CREATE TABLE t (\n    n INTEGER, \n    p INTEGER, \n    CHECK (n > 0), \n    "
      .. "CONSTRAINT ck_p CHECK (p < 9)\n)" }, d)
  end
end)

T.test("the ck naming convention sees the column of a column-level CHECK", function()
  local md = sa.MetaData { naming_convention = { ck = "ck_%(table_name)s_%(column_0_name)s" } }
  local t = sa.Table("t", md, sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")))
  T.eq(t.constraints[1].name, "ck_t_n")
end)

T.test("add_column with its own CHECK and ForeignKey: inline on SQLite, ADD CONSTRAINT on PostgreSQL", function()
  local function run()
    op.add_column("t", sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")))
    op.add_column("t", sa.Column("p", sa.Integer(), sa.ForeignKey("parent.id")))
  end
  T.eq(offline("sqlite", run), {
    "ALTER TABLE t ADD COLUMN n INTEGER CHECK (n > 0)",
    "ALTER TABLE t ADD COLUMN p INTEGER REFERENCES parent (id)",
  })
  T.eq(offline("postgresql", run), {
    "ALTER TABLE t ADD COLUMN n INTEGER",
    "ALTER TABLE t ADD CHECK (n > 0)",
    "ALTER TABLE t ADD COLUMN p INTEGER",
    "ALTER TABLE t ADD FOREIGN KEY(p) REFERENCES parent (id)",
  })
end)

T.test("a column-level CHECK renders back as a positional argument", function()
  local o = op.ops.add_column("t", sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")))
  local text = o:to_lua()
  T.eq(text:find('sa.CheckConstraint("n > 0")', 1, true) ~= nil, true, text)
end)

T.test("op.register_operation: SQL per dialect, reverse by name, rendering", function()
  op.register_operation("create_sequence", {
    sql = { postgresql = function(d, name) return "CREATE SEQUENCE " .. d:quote(name) end },
    reverse = "drop_sequence" })
  op.register_operation("drop_sequence", {
    sql = { default = function(d, name) return { "DROP SEQUENCE " .. d:quote(name) } end },
    reverse = function(name) return "create_sequence", name end })
  T.eq(offline("postgresql", function() op.create_sequence("seq") end), { "CREATE SEQUENCE seq" })
  T.raises(function() offline("sqlite", function() op.create_sequence("seq") end) end,
           "operation create_sequence has no SQL for sqlite")
  local o = op.ops.create_sequence("seq")
  T.eq(o:reverse():to_sql("postgresql"), { "DROP SEQUENCE seq" })
  T.eq(o:reverse():reverse():to_sql("postgresql"), { "CREATE SEQUENCE seq" })
  T.eq(o:to_lua(), 'op.create_sequence("seq")')
  T.raises(function() op.register_operation("add_column", { sql = function() end }) end,
           "op.add_column already exists")
  op.implementation_for("create_sequence", function(d, name) return "CREATE SEQUENCE " .. name .. " CYCLE" end)
  T.eq(offline("sqlite", function() op.create_sequence("s") end), { "CREATE SEQUENCE s CYCLE" })
  T.raises(function() op.implementation_for("nope", function() end) end,
           "op.implementation_for: no registered operation nope")
end)

T.test("the names PostgreSQL gives unnamed constraints (answers of PostgreSQL 15)", function()
  -- CREATE TABLE "<31 x é>_x" (id int, "ülongcolumnnameüüüüüüüüüüü" int, k int,
  --   CHECK (id > 0 AND k > 0), CHECK (k > 1), FOREIGN KEY (id, k) REFERENCES p (id, k),
  --   UNIQUE (id, "ülongcolumnnameüüüüüüüüüüü", k)): pg_constraint.conname
  local d = require("luamig.sqldialect").get("postgresql")
  local e = string.rep("é", 31)
  local long = "ülongcolumnnameüüüüüüüüüüü"
  local t = { name = e .. "_", c = { id = true, [long] = true, k = true } }
  local taken = {}
  T.eq(d:implicit_constraint_name({ kind = "check", sqltext = "id > 0 AND k > 0" }, t, taken),
       string.rep("é", 28) .. "_check")
  T.eq(d:implicit_constraint_name({ kind = "check", sqltext = "k > 1" }, t, taken),
       string.rep("é", 27) .. "_k_check")
  T.eq(d:implicit_constraint_name({ kind = "foreign_key", columns = { "id", "k" } }, t, taken),
       string.rep("é", 26) .. "_id_k_fkey")
  T.eq(d:implicit_constraint_name({ kind = "unique", columns = { "id", long, "k" } }, t, taken),
       string.rep("é", 14) .. "_id_ülongcolumnnameüüüüü_key")
  -- a taken name gets a number after the label
  T.eq(d:implicit_constraint_name({ kind = "foreign_key", columns = { "id", "k" } }, t, taken),
       string.rep("é", 26) .. "_id_k_fkey1")
  T.eq(require("luamig.sqldialect").get("sqlite"):implicit_constraint_name(
       { kind = "foreign_key", columns = { "id" } }, t, {}), nil)
end)

T.test("lint: CREATE TYPE / DROP TYPE (autogenerate's ENUM statements) take no table lock", function()
  local facts = require "luamig.sqldialect.postgresql_lint"
  T.eq(facts.classify_sql("DROP TYPE IF EXISTS mood", {}).lock, "none")
  T.eq(facts.classify_sql("CREATE TYPE mood AS ENUM ('a')", {}).lock, "none")
  T.eq(facts.classify_sql("DROP TYPE IF EXISTS mood", {}).unknown, nil)
end)

T.run()
