--- 6bf5d58ef282 upgrade
op.create_table("t", sa.Column("a", sa.Integer(), { nullable = false }), sa.Column("b", sa.Integer(), { nullable = false }))
--- 6bf5d58ef282 downgrade
op.drop_table("t")
--- 0139ded4acea upgrade
op.create_primary_key("pk_t", "t", { "a", "b" })
--- 0139ded4acea downgrade
op.drop_constraint("pk_t", "t", { type_ = "primary" })
