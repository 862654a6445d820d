--- 47b5aa9d7887 upgrade
op.create_table("old_name", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("v", sa.String(10)))
op.create_index("ix_old_name_v", "old_name", { "v" })
op.execute("INSERT INTO old_name (id, v) VALUES (1, 'x')")
--- 47b5aa9d7887 downgrade
op.drop_index("ix_old_name_v", { table_name = "old_name" })
op.drop_table("old_name")
--- 959bc7cb21e4 upgrade
op.rename_table("old_name", "new_name")
--- 959bc7cb21e4 downgrade
op.rename_table("new_name", "old_name")
