-- render.lua: operations back to Lua source (what autogenerate writes), and round trips:
-- rendering, loading the text again and compiling both gives the same SQL.
local T = require "helper"
local sa = require "luamig.sa"
local op = require "luamig.op"
local render = require "luamig.render"
local postgresql = require "luamig.dialects.postgresql"
local ops = op.ops

-- Loads rendered source with an `op` that builds operations instead of running them.
local function reload(text)
  local built = {}
  local recorder = setmetatable({}, { __index = function(_, k)
    if k == "f" then return op.f end
    if k == "inline_literal" then return op.inline_literal end
    return function(...) built[#built + 1] = ops[k](...) end
  end })
  local env = setmetatable({ op = recorder, sa = sa, postgresql = postgresql }, { __index = _G })
  local chunk = assert(load(text, "=rendered", "t", env))
  chunk()
  return built
end

local function same_sql(operation, dialect)
  local text = render.operation(operation)
  local back = reload(text)
  local a = operation:to_sql(dialect)
  local b = {}
  for _, o in ipairs(back) do for _, s in ipairs(o:to_sql(dialect)) do b[#b + 1] = s end end
  T.eq(b, a, "round trip of:\n" .. text)
  return text
end

-- Alembic sorts the rendered constraints, so a round trip may reorder them inside CREATE TABLE;
-- this case declares them in the sorted order.
T.test("create_table renders columns, then sorted constraints, then indexes", function()
  local o = ops.create_table("tag",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("account_id", sa.Integer()),
    sa.Column("email", sa.String(100), { index = true, server_default = "x" }),
    sa.ForeignKeyConstraint({ "account_id" }, { "account.id" }),
    sa.UniqueConstraint("account_id", { name = "uq_tag_acct" }))
  T.eq(o:to_lua(), [[
op.create_table("tag",
  sa.Column("id", sa.Integer(), { nullable = false }),
  sa.Column("account_id", sa.Integer(), { nullable = true }),
  sa.Column("email", sa.String{ length = 100 }, { server_default = "x", nullable = true }),
  sa.ForeignKeyConstraint({ "account_id" }, { "account.id" }),
  sa.PrimaryKeyConstraint("id"),
  sa.UniqueConstraint("account_id", { name = "uq_tag_acct" })
)
op.create_index(op.f("ix_tag_email"), "tag", { "email" }, { unique = false })]])
  for _, d in ipairs { "sqlite", "postgresql" } do same_sql(o, d) end
end)

T.test("the ops of Alembic's autogenerate example", function()
  T.eq(ops.add_column("account", sa.Column("email", sa.String(100), { nullable = true })):to_lua(),
       'op.add_column("account", sa.Column("email", sa.String{ length = 100 }, { nullable = true }))')
  T.eq(ops.alter_column("account", "name", { existing_type = sa.VARCHAR(50), type_ = sa.String(100),
                                             nullable = true }):to_lua(),
       'op.alter_column("account", "name", { existing_type = sa.VARCHAR{ length = 50 }, type_ = sa.String{ length = 100 }, nullable = true })')
  T.eq(ops.drop_index("ix_old", { table_name = "account" }):to_lua(),
       'op.drop_index("ix_old", { table_name = "account" })')
  T.eq(ops.create_index(op.f("ix_account_email"), "account", { "email" }, { unique = false }):to_lua(),
       'op.create_index(op.f("ix_account_email"), "account", { "email" }, { unique = false })')
  T.eq(ops.drop_column("account", "old"):to_lua(), 'op.drop_column("account", "old")')
end)

T.test("types, defaults and strings render as Lua", function()
  T.eq(render.type(sa.Numeric(10, 2)), "sa.Numeric{ precision = 10, scale = 2 }")
  T.eq(render.type(sa.Enum("a", "b", { name = "mood" })), 'sa.Enum("a", "b", { name = "mood" })')
  T.eq(render.type(postgresql.ARRAY(sa.Integer)), "postgresql.ARRAY{ item_type = sa.Integer() }")
  T.eq(render.type(sa.DateTime { timezone = true }), "sa.DateTime{ timezone = true }")
  T.eq(render.value(sa.func.now()), "sa.func.now()")
  T.eq(render.value(sa.text("it's \"x\"\n")), 'sa.text("it\'s \\"x\\"\\n")')
  T.eq(render.imports("postgresql.JSONB()"), { 'local postgresql = require "luamig.dialects.postgresql"' })
end)

T.test("every op round-trips to the same SQL", function()
  local cases = {
    ops.drop_table("t", { schema = "s" }),
    ops.rename_table("a", "b"),
    ops.add_column("t", sa.Column("x", sa.Boolean(), { nullable = false, server_default = sa.false_(),
                                                       comment = "c" })),
    ops.drop_column("t", "x"),
    ops.alter_column("t", "c", { type_ = sa.BigInteger, postgresql_using = "c::bigint", nullable = false,
                                 server_default = false, comment = "hi", new_column_name = "d" }),
    ops.create_index("ix", "t", { "a", sa.text("lower(b)") }, { unique = true,
                                  postgresql_where = sa.text("a > 0") }),
    ops.create_unique_constraint("uq", "t", { "a", "b" }, { deferrable = true }),
    ops.create_foreign_key("fk", "c", "p", { "p_id" }, { "id" }, { ondelete = "CASCADE", referent_schema = "s" }),
    ops.create_check_constraint("ck", "t", "a > 0"),
    ops.create_primary_key("pk", "t", { "a" }),
    ops.create_exclude_constraint("ex", "t", { "period", "&&" }, { where = sa.text("a > 1") }),
    ops.drop_constraint("uq", "t", "unique"),
    ops.create_table_comment("t", "it's", { existing_comment = "old" }),
    ops.drop_table_comment("t", { existing_comment = "old" }),
    ops.execute("UPDATE t SET a = :a", { a = 1 }),
    ops.create_table("e", sa.Column("id", sa.BigInteger(), { primary_key = true }),
                     sa.Column("m", postgresql.ENUM("x", "y", { name = "m" })),
                     sa.Column("j", postgresql.JSONB()),
                     sa.CheckConstraint("id > 0", { name = "ck_id" }), { comment = "e" }),
  }
  for _, o in ipairs(cases) do same_sql(o, "postgresql") end
end)

T.test("batch operations render inside a function", function()
  local b = ops.batch_alter_table("t", { recreate = "always" }, function(batch_op)
    batch_op.add_column(sa.Column("a", sa.Integer()))
    batch_op.alter_column("b", { nullable = false, existing_type = sa.String(5) })
    batch_op.create_index("ix_t_a", { "a" })
    batch_op.drop_constraint("uq", { type_ = "unique" })
  end)
  T.eq(b:to_lua(), [[
op.batch_alter_table("t", { recreate = "always" }, function(batch_op)
  batch_op.add_column(sa.Column("a", sa.Integer(), { nullable = true }))
  batch_op.alter_column("b", { existing_type = sa.String{ length = 5 }, nullable = false })
  batch_op.create_index("ix_t_a", { "a" }, { unique = false })
  batch_op.drop_constraint("uq", { type_ = "unique" })
end)]])
end)

T.test("reverse() gives the downgrade operation", function()
  T.eq(ops.add_column("t", sa.Column("x", sa.Integer())):reverse():to_lua(), 'op.drop_column("t", "x")')
  T.eq(ops.create_index("ix", "t", { "a" }):reverse():to_lua(), 'op.drop_index("ix", { table_name = "t" })')
  T.eq(ops.alter_column("t", "c", { nullable = false, existing_type = sa.Integer }):reverse():to_lua(),
       'op.alter_column("t", "c", { existing_type = sa.Integer(), nullable = true })')
  T.eq(ops.create_unique_constraint("uq", "t", { "a" }):reverse():to_lua(),
       'op.drop_constraint("uq", "t", { type_ = "unique" })')
  T.eq(ops.rename_table("a", "b"):reverse():to_lua(), 'op.rename_table("b", "a")')
  local ct = ops.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }))
  T.eq(ct:reverse():to_lua(), 'op.drop_table("t")')
  T.eq(ct:reverse():reverse():to_sql("sqlite"), ct:to_sql("sqlite"))
  T.raises(function() ops.drop_column("t", "x"):reverse() end, "original column is not present")
end)

T.run()
