--- 8a0c2b40edfe upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }))
op.execute("INSERT INTO t (id) VALUES (1)")
--- 8a0c2b40edfe downgrade
op.drop_table("t")
--- 53756e096a54 upgrade
op.batch_alter_table("t", function(batch_op)
  batch_op.add_column(sa.Column("a", sa.String(10), { server_default = "z" }))
  batch_op.create_index("ix_t_a", { "a" })
end)
--- 53756e096a54 downgrade
op.batch_alter_table("t", function(batch_op)
  batch_op.drop_index("ix_t_a")
  batch_op.drop_column("a")
end)
--- 4f73084c9c3b upgrade
op.batch_alter_table("t", { recreate = "always" }, function(batch_op)
  batch_op.add_column(sa.Column("b", sa.Integer(), { nullable = false, server_default = "0" }))
end)
--- 4f73084c9c3b downgrade
op.batch_alter_table("t", { recreate = "always" }, function(batch_op)
  batch_op.drop_column("b")
end)
