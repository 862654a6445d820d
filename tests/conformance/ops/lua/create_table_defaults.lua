--- d007ae43924e upgrade
op.create_table(
  "defaults",
  sa.Column("id", sa.Integer(), { primary_key = true, autoincrement = true }),
  sa.Column("name", sa.String(40), { nullable = false, server_default = "anon" }),
  sa.Column("quote", sa.String(40), { server_default = "it's" }),
  sa.Column("qty", sa.Integer(), { nullable = false, server_default = sa.text("0") }),
  sa.Column("ratio", sa.Float(), { server_default = sa.text("1.5") }),
  sa.Column("active", sa.Boolean(), { nullable = false, server_default = sa.true_() }),
  sa.Column("created_at", sa.DateTime(), { nullable = false, server_default = sa.func.current_timestamp() }),
  sa.Column("note", sa.Text(), { nullable = true, comment = "free text" }),
  sa.Column("code", sa.String(10), { unique = true }),
  sa.Column("tag", sa.String(10), { index = true }),
  sa.Column("client_default", sa.Integer(), { default = 7 }),
  { comment = "table with defaults" }
)
op.execute("INSERT INTO defaults (code, tag) VALUES ('c1', 't1')")
--- d007ae43924e downgrade
op.drop_index("ix_defaults_tag", { table_name = "defaults" })
op.drop_table("defaults")
