-- luamig.dml: insert/update/delete on sa.table() for op.execute, as SQLAlchemy renders them.
local helper = require "helper"
local T = helper
local sa = require "luamig.sa"
local dialect = require "luamig.sqldialect"


local function sql_of(stmt, name)
  local d = dialect.get(name or "sqlite")
  return stmt:to_sql(d)
end

local account = sa.table("account", sa.column("id", sa.Integer), sa.column("name", sa.String))

T.test("update with a bound WHERE, named as SQLAlchemy names it", function()
  local sql, params = sql_of(account:update():where(account.c.name:eq("account 1")):values({ name = "account 2" }))
  helper.eq(sql, "UPDATE account SET name=:name WHERE account.name = :name_1")
  helper.eq(params.name, "account 2")
  helper.eq(params.name_1, "account 1")
end)

T.test("inline literals render in the text (the offline-safe form)", function()
  local op = require "luamig.op"
  local sql, params = sql_of(account:update()
    :where(account.c.name:eq(op.inline_literal("account 1")))
    :values({ name = op.inline_literal("it's") }))
  helper.eq(sql, "UPDATE account SET name='it''s' WHERE account.name = 'account 1'")
  helper.eq(params, nil)
end)

T.test("insert in column order, delete with combined conditions", function()
  local sql, params = sql_of(account:insert():values({ name = "n", id = 3 }))
  helper.eq(sql, "INSERT INTO account (id, name) VALUES (:id, :name)")
  helper.eq(params.id, 3)
  sql, params = sql_of(account:delete():where(sa.and_(account.c.id:gt(10),
    sa.or_(account.c.name:is_(nil), account.c.name:like("x%")))))
  helper.eq(sql, "DELETE FROM account WHERE account.id > :id_1 AND (account.name IS NULL OR account.name LIKE :name_1)")
  helper.eq(params.id_1, 10)
  sql = sql_of(account:delete():where(account.c.id:in_({ 1, 2 })))
  helper.eq(sql, "DELETE FROM account WHERE account.id IN (:id_1, :id_2)")
  sql = sql_of(account:delete():where(account.c.name:eq(sa.null())))
  helper.eq(sql, "DELETE FROM account WHERE account.name IS NULL")
end)

T.test("a column whose name is no word binds a plain parameter", function()
  -- the parameter parser ends a name at its first other character: the rest would be SQL
  local odd = sa.table("odd", sa.column("x || (SELECT 1))--", sa.String), sa.column("it's", sa.String))
  local sql, params = sql_of(odd:insert():values({ ["x || (SELECT 1))--"] = "a", ["it's"] = "b" }))
  helper.eq(sql, 'INSERT INTO odd ("x || (SELECT 1))--", "it\'s") VALUES (:param, :param_1)')
  helper.eq(params, { param = "a", param_1 = "b" })
end)

T.test("quoting and schemas follow the dialect", function()
  local user = sa.table("User", sa.column("order", sa.Integer), { schema = "app" })
  local sql = sql_of(user:update():values({ order = 1 }):where(user.c.order:eq(0)), "postgresql")
  helper.eq(sql, 'UPDATE app."User" SET "order"=:order WHERE app."User"."order" = :order_1')
end)

T.test("misuse says what is wrong", function()
  helper.raises(function() sql_of(account:update()) end, "update: no values")
  helper.raises(function() sql_of(account:delete():where(account.c.id:lt(nil))) end, "comparison < with NULL")
end)

T.run()
