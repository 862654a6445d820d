--- b540a0cce7c3 upgrade
op.create_table("kv", sa.Column("k", sa.String(20), { primary_key = true }), sa.Column("v", sa.Integer()))
--- b540a0cce7c3 downgrade
op.drop_table("kv")
--- eb16949714d7 upgrade
op.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
op.execute(sa.text("INSERT INTO kv (k, v) VALUES ('b', 2), ('c', 3)"))
-- luamig has no Core update()/delete() constructs: the statements SQLAlchemy compiles them
-- to, with the values bound (rendered as literals offline, as inline_literal does).
op.execute("UPDATE kv SET v=:v WHERE kv.k = :k", { v = 20, k = "b" })
op.execute("DELETE FROM kv WHERE kv.k = :k", { k = "c" })
op.execute("UPDATE kv SET v = v + 100 WHERE k = 'a'")
--- eb16949714d7 downgrade
op.execute("DELETE FROM kv")
