--- d2bd55dff987 upgrade
op.create_table("t", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("n", sa.Integer()))
--- d2bd55dff987 downgrade
op.drop_table("t")
--- 54e6e22c15ff upgrade
op.create_check_constraint("ck_t_n_range", "t", "n BETWEEN 0 AND 100")
--- 54e6e22c15ff downgrade
op.drop_constraint("ck_t_n_range", "t", { type_ = "check" })
