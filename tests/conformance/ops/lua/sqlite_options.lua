--- 6a66ed488248 upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("v", sa.Text()),
                { sqlite_autoincrement = true })
op.execute("INSERT INTO t (v) VALUES ('a')")
--- 6a66ed488248 downgrade
op.drop_table("t")
