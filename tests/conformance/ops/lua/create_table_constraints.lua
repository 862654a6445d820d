--- 9cf221dab132 upgrade
op.create_table(
  "parent",
  sa.Column("id", sa.Integer(), { primary_key = true }),
  sa.Column("code", sa.String(20), { nullable = false }),
  sa.UniqueConstraint("code", { name = "uq_parent_code" })
)
op.create_table(
  "child",
  sa.Column("parent_id", sa.Integer(), { nullable = false }),
  sa.Column("seq", sa.Integer(), { nullable = false }),
  sa.Column("amount", sa.Numeric(12, 2), { nullable = false }),
  sa.Column("parent_code", sa.String(20)),
  sa.PrimaryKeyConstraint("parent_id", "seq", { name = "pk_child" }),
  sa.ForeignKeyConstraint({ "parent_id" }, { "parent.id" }, { name = "fk_child_parent",
                          ondelete = "CASCADE", onupdate = "CASCADE" }),
  sa.ForeignKeyConstraint({ "parent_code" }, { "parent.code" }, { name = "fk_child_parent_code",
                          ondelete = "SET NULL" }),
  sa.CheckConstraint("amount >= 0", { name = "ck_child_amount_positive" }),
  sa.UniqueConstraint("parent_id", "amount", { name = "uq_child_parent_amount" }),
  sa.Index("ix_child_amount", "amount")
)
--- 9cf221dab132 downgrade
op.drop_table("child")
op.drop_table("parent")
