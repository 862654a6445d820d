--- 231477b58604 upgrade
op.create_table("ref", sa.Column("id", sa.Integer(), { primary_key = true }))
op.create_table(
  "t",
  sa.Column("id", sa.Integer(), { primary_key = true }),
  sa.Column("ref_id", sa.Integer(), sa.ForeignKey("ref.id", { name = "fk_t_ref" })),
  sa.Column("code", sa.String(10), { nullable = false }),
  sa.Column("n", sa.Integer(), { server_default = "5" }),
  sa.Column("legacy", sa.String(10)),
  sa.UniqueConstraint("code", { name = "uq_t_code" }),
  sa.CheckConstraint("n >= 0", { name = "ck_t_n" })
)
op.create_index("ix_t_n", "t", { "n" })
op.execute("INSERT INTO ref (id) VALUES (1)")
op.execute("INSERT INTO t (id, ref_id, code, n, legacy) VALUES (1, 1, 'a', 3, 'old'), (2, NULL, 'b', 0, NULL)")
--- 231477b58604 downgrade
op.drop_index("ix_t_n", { table_name = "t" })
op.drop_table("t")
op.drop_table("ref")
--- 44278c2a5489 upgrade
op.batch_alter_table("t", function(batch_op)
  batch_op.drop_column("legacy")
end)
--- 44278c2a5489 downgrade
op.batch_alter_table("t", function(batch_op)
  batch_op.add_column(sa.Column("legacy", sa.String(10), { nullable = true }))
end)
