--- 49c8953bb5b5 upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("keep", sa.String(10)), sa.Column("legacy", sa.Integer()))
op.execute("INSERT INTO t (id, keep, legacy) VALUES (1, 'k', 5)")
--- 49c8953bb5b5 downgrade
op.drop_table("t")
--- 1d77fc8e0646 upgrade
op.drop_column("t", "legacy")
--- 1d77fc8e0646 downgrade
op.add_column("t", sa.Column("legacy", sa.Integer(), { nullable = true }))
