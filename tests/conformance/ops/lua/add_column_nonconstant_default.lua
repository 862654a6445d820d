--- 777e5316c3a1 upgrade
op.create_table("ev", sa.Column("id", sa.Integer(), { primary_key = true }))
op.execute("INSERT INTO ev (id) VALUES (1)")
--- 777e5316c3a1 downgrade
op.drop_table("ev")
--- 833088d6fcda upgrade
op.add_column("ev", sa.Column("created_at", sa.DateTime(), { nullable = false,
                              server_default = sa.func.current_timestamp() }))
--- 833088d6fcda downgrade
op.drop_column("ev", "created_at")
