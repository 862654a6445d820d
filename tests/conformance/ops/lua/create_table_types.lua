--- d0d4148b5a2d upgrade
op.create_table(
  "all_types",
  sa.Column("id", sa.Integer(), { primary_key = true }),
  sa.Column("c_bigint", sa.BigInteger()),
  sa.Column("c_smallint", sa.SmallInteger()),
  sa.Column("c_string", sa.String{ length = 50 }),
  sa.Column("c_string_nolen", sa.String()),
  sa.Column("c_unicode", sa.Unicode{ length = 20 }),
  sa.Column("c_text", sa.Text()),
  sa.Column("c_bool", sa.Boolean()),
  sa.Column("c_date", sa.Date()),
  sa.Column("c_datetime", sa.DateTime()),
  sa.Column("c_datetime_tz", sa.DateTime{ timezone = true }),
  sa.Column("c_time", sa.Time()),
  sa.Column("c_float", sa.Float()),
  sa.Column("c_numeric", sa.Numeric{ precision = 10, scale = 2 }),
  sa.Column("c_binary", sa.LargeBinary()),
  sa.Column("c_json", sa.JSON()),
  sa.Column("c_enum", sa.Enum("red", "green", "blue", { name = "color" })),
  sa.Column("c_interval", sa.Interval())
)
--- d0d4148b5a2d downgrade
op.drop_table("all_types")
if op.get_context().dialect.name == "postgresql" then
  op.execute("DROP TYPE color")
end
