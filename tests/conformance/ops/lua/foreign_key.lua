--- 397fe47a94fb upgrade
op.create_table("p", sa.Column("id", sa.Integer(), { primary_key = true }))
op.create_table("c", sa.Column("id", sa.Integer(), { primary_key = true }), sa.Column("p_id", sa.Integer()))
--- 397fe47a94fb downgrade
op.drop_table("c")
op.drop_table("p")
--- c38b6814cf08 upgrade
op.create_foreign_key("fk_c_p", "c", "p", { "p_id" }, { "id" }, { ondelete = "CASCADE", onupdate = "SET NULL" })
--- c38b6814cf08 downgrade
op.drop_constraint("fk_c_p", "c", { type_ = "foreignkey" })
