--- d9e54b0fe83b upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("a", sa.String(10)), sa.Column("b", sa.Integer(), { server_default = "1" }))
--- d9e54b0fe83b downgrade
op.drop_table("t")
--- 58ce7e61b087 upgrade
op.alter_column("t", "a", { existing_type = sa.String(10), server_default = "hello" })
op.alter_column("t", "b", { existing_type = sa.Integer(), server_default = false,
                            existing_server_default = "1" })
--- 58ce7e61b087 downgrade
op.alter_column("t", "b", { existing_type = sa.Integer(), server_default = "1" })
op.alter_column("t", "a", { existing_type = sa.String(10), server_default = false,
                            existing_server_default = "hello" })
