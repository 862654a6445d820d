--- ff5fe19ee91a upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("a", sa.String(10)), sa.Column("b", sa.String(10)))
--- ff5fe19ee91a downgrade
op.drop_table("t")
--- 48714fd67359 upgrade
op.create_unique_constraint("uq_t_a_b", "t", { "a", "b" })
--- 48714fd67359 downgrade
op.drop_constraint("uq_t_a_b", "t", { type_ = "unique" })
