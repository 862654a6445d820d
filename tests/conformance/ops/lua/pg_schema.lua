--- 5610120cc75c upgrade
op.execute("CREATE SCHEMA app")
op.create_table("acct", sa.Column("id", sa.Integer(), { primary_key = true }), { schema = "app" })
op.create_table("ledger", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("acct_id", sa.Integer(), sa.ForeignKey("app.acct.id", { name = "fk_ledger_acct" })))
op.add_column("acct", sa.Column("name", sa.String(20)), { schema = "app" })
op.create_index("ix_app_acct_name", "acct", { "name" }, { schema = "app" })
--- 5610120cc75c downgrade
op.drop_table("ledger")
op.drop_index("ix_app_acct_name", { table_name = "acct", schema = "app" })
op.drop_table("acct", { schema = "app" })
op.execute("DROP SCHEMA app")
