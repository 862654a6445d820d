--- d42d21ecfe5c upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("a", sa.String(10)))
--- d42d21ecfe5c downgrade
op.drop_table("t")
--- cf190b094e60 upgrade
op.alter_column("t", "a", { existing_type = sa.String(10), comment = "column a" })
op.create_table_comment("t", "the t table")
--- cf190b094e60 downgrade
op.drop_table_comment("t", { existing_comment = "the t table" })
op.alter_column("t", "a", { existing_type = sa.String(10), comment = false, existing_comment = "column a" })
