--- 28dfe517e94b upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("name", sa.String(50)))
op.execute("INSERT INTO t (id, name) VALUES (1, 'x')")
--- 28dfe517e94b downgrade
op.drop_table("t")
--- 258fb9ca0e97 upgrade
op.alter_column("t", "name", { existing_type = sa.String(50), nullable = false })
--- 258fb9ca0e97 downgrade
op.alter_column("t", "name", { existing_type = sa.String(50), nullable = true })
