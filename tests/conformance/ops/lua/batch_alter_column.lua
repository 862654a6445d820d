--- 2b9002851ac8 upgrade
op.create_table(
  "t",
  sa.Column("id", sa.Integer(), { primary_key = true }),
  sa.Column("name", sa.String(20)),
  sa.Column("qty", sa.Integer()),
  sa.Column("old_name", sa.String(10)),
  sa.Column("d", sa.String(10))
)
op.execute("INSERT INTO t (id, name, qty, old_name, d) VALUES (1, 'n1', 5, 'o1', 'd1'), (2, 'n2', 7, NULL, NULL)")
--- 2b9002851ac8 downgrade
op.drop_table("t")
--- 47763824a4c4 upgrade
op.batch_alter_table("t", function(batch_op)
  batch_op.alter_column("name", { existing_type = sa.String(20), nullable = false })
  batch_op.alter_column("qty", { existing_type = sa.Integer(), type_ = sa.BigInteger() })
  batch_op.alter_column("old_name", { new_column_name = "new_name", existing_type = sa.String(10) })
  batch_op.alter_column("d", { existing_type = sa.String(10), server_default = "dflt" })
end)
--- 47763824a4c4 downgrade
op.batch_alter_table("t", function(batch_op)
  batch_op.alter_column("d", { existing_type = sa.String(10), server_default = false })
  batch_op.alter_column("new_name", { new_column_name = "old_name", existing_type = sa.String(10) })
  batch_op.alter_column("qty", { existing_type = sa.BigInteger(), type_ = sa.Integer() })
  batch_op.alter_column("name", { existing_type = sa.String(20), nullable = true })
end)
