--- 2d10efc7491a upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("a", sa.String(10)), sa.Column("b", sa.Integer()))
op.execute("INSERT INTO t (id, a, b) VALUES (1, 'x', 2)")
--- 2d10efc7491a downgrade
op.drop_table("t")
--- 2e81cc3340d5 upgrade
local t = sa.Table("t", sa.MetaData(),
                   sa.Column("id", sa.Integer(), { primary_key = true }),
                   sa.Column("a", sa.String(10)),
                   sa.Column("b", sa.Integer()))
op.batch_alter_table("t", { copy_from = t }, function(batch_op)
  batch_op.alter_column("a", { existing_type = sa.String(10), nullable = false })
  batch_op.drop_column("b")
end)
--- 2e81cc3340d5 downgrade
local t = sa.Table("t", sa.MetaData(),
                   sa.Column("id", sa.Integer(), { primary_key = true }),
                   sa.Column("a", sa.String(10), { nullable = false }))
op.batch_alter_table("t", { copy_from = t }, function(batch_op)
  batch_op.add_column(sa.Column("b", sa.Integer()))
  batch_op.alter_column("a", { existing_type = sa.String(10), nullable = true })
end)
