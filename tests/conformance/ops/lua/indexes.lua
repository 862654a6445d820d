--- 3f262fadb7a8 upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }),
                sa.Column("a", sa.String(10)), sa.Column("b", sa.Integer()),
                sa.Column("c", sa.Integer()), sa.Column("email", sa.String(100)))
--- 3f262fadb7a8 downgrade
op.drop_table("t")
--- 49d568fc8335 upgrade
op.create_index("ix_t_a", "t", { "a" })
op.create_index("ux_t_b", "t", { "b" }, { unique = true })
op.create_index("ix_t_b_c", "t", { "b", "c" })
op.create_index(op.f("ix_t_c"), "t", { "c" }, { unique = false })
op.create_index("ix_t_a_partial", "t", { "a" }, { postgresql_where = sa.text("b > 0"),
                sqlite_where = sa.text("b > 0") })
op.create_index("ix_t_email_lower", "t", { sa.text("lower(email)") })
--- 49d568fc8335 downgrade
op.drop_index("ix_t_email_lower", { table_name = "t" })
op.drop_index("ix_t_a_partial", { table_name = "t" })
op.drop_index(op.f("ix_t_c"), { table_name = "t" })
op.drop_index("ix_t_b_c", { table_name = "t" })
op.drop_index("ux_t_b", { table_name = "t" })
op.drop_index("ix_t_a", { table_name = "t" })
--- 20c27ae1ee6f upgrade
op.drop_index("ix_t_b_c", { table_name = "t" })
--- 20c27ae1ee6f downgrade
op.create_index("ix_t_b_c", "t", { "b", "c" })
