--- 9444a030c0dc upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("old", sa.String(10)))
op.execute("INSERT INTO t (id, old) VALUES (1, 'v')")
--- 9444a030c0dc downgrade
op.drop_table("t")
--- e3d8183a623f upgrade
op.alter_column("t", "old", { new_column_name = "new", existing_type = sa.String(10) })
--- e3d8183a623f downgrade
op.alter_column("t", "new", { new_column_name = "old", existing_type = sa.String(10) })
