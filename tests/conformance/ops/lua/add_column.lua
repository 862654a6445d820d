--- 2aaa5faf4bd6 upgrade
op.create_table("items", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("name", sa.String(30)))
op.execute("INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b')")
--- 2aaa5faf4bd6 downgrade
op.drop_table("items")
--- 2fcf6f97233b upgrade
op.add_column("items", sa.Column("price", sa.Numeric(10, 2), { nullable = true }))
op.add_column("items", sa.Column("status", sa.String(10), { nullable = false, server_default = "new" }))
op.add_column("items", sa.Column("flag", sa.Boolean(), { nullable = false, server_default = sa.false_() }))
op.add_column("items", sa.Column("label", sa.Text(), { server_default = "o'clock" }))
--- 2fcf6f97233b downgrade
op.drop_column("items", "label")
op.drop_column("items", "flag")
op.drop_column("items", "status")
op.drop_column("items", "price")
