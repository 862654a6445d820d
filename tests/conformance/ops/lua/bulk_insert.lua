--- 56995ad15026 upgrade
op.create_table(
  "acct",
  sa.Column("id", sa.Integer(), { primary_key = true }),
  sa.Column("name", sa.String(50), { nullable = false }),
  sa.Column("opened", sa.Date()),
  sa.Column("seen", sa.DateTime()),
  sa.Column("active", sa.Boolean()),
  sa.Column("balance", sa.Numeric(10, 2))
)
--- 56995ad15026 downgrade
op.drop_table("acct")
--- f1b14788e63d upgrade
-- Python's datetime.date / datetime.datetime become the text SQLAlchemy stores for them;
-- decimal.Decimal("10.50") becomes SQL text (Lua has no decimal number); a None that is the
-- only value of its column in a call becomes sa.null(), so that the column stays listed.
local acct = sa.table(
  "acct",
  sa.column("id", sa.Integer),
  sa.column("name", sa.String),
  sa.column("opened", sa.Date),
  sa.column("seen", sa.DateTime),
  sa.column("active", sa.Boolean),
  sa.column("balance", sa.Numeric(10, 2))
)
op.bulk_insert(acct, {
  { id = 1, name = "alice", opened = "2020-01-02",
    seen = "2021-03-04 05:06:07.000000", active = true,
    balance = sa.literal_column("10.50") },
  { id = 2, name = "bob's", opened = nil, seen = nil, active = false,
    balance = -3.25 },
  { id = 3, name = "carol", opened = "1999-12-31",
    seen = nil, active = nil, balance = nil },
})
op.bulk_insert(acct, {
  { id = 4, name = "dave", opened = sa.null(), seen = sa.null(), active = true, balance = 0 },
  { id = 5, name = "erin", opened = sa.null(), seen = sa.null(), active = true, balance = 1 },
}, { multiinsert = false })
--- f1b14788e63d downgrade
op.execute("DELETE FROM acct")
