"""Round trips of every operation: on a fresh database, a base revision builds
a small schema with data; a second revision applies one operation; then

    upgrade base -> dump A      (Project.schema(): all of sqlite_master, or
                                 pg_catalog's tables, columns, constraints,
                                 indexes, comments, sequences, views, enums)
    upgrade op   -> dump B      B != A: the operation changed something
    downgrade -1 -> dump A'     A' == A exactly, and the rows are A's
    upgrade op   -> dump B'     B' == B: the downgrade left nothing behind

on each database where the operation exists (SQLite rejects constraint
ALTERs outside batch mode, as Alembic does; there they run in batch mode).
"""
import re
import unittest

from luamigtest import Project, backends, main

BASE_UP = '''  op.create_table("parent",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("code", sa.String(10), { nullable = false }),
    sa.UniqueConstraint("code", { name = "uq_parent_code" }))
  op.create_table("t",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(20), { nullable = false, server_default = "x" }),
    sa.Column("qty", sa.Integer),
    sa.Column("parent_id", sa.Integer),
    sa.Column("note", sa.Text))
  op.create_table("nopk",
    sa.Column("a", sa.Integer, { nullable = false }),
    sa.Column("b", sa.Integer, { nullable = false }))
  op.execute("INSERT INTO parent (id, code) VALUES (1, 'p1'), (2, 'p2')")
  op.execute("INSERT INTO t (id, name, qty, parent_id, note) VALUES (1, 'a', 5, 1, 'n1'), (2, 'b', 7, NULL, NULL)")
  op.execute("INSERT INTO nopk (a, b) VALUES (1, 2)")
%s'''

BASE_DOWN = '''%s
  op.drop_table("nopk")
  op.drop_table("t")
  op.drop_table("parent")'''

# SQLite rewrites a table's stored SQL on a rebuild (ALTER TABLE ... RENAME quotes the name):
# batch cases start from a table that has been rebuilt once already.
REBUILT = '''  if op.get_context().dialect.name == "sqlite" then
    op.batch_alter_table("t", { recreate = "always" }, function(batch_op) end)
  end'''
REBUILT_NOPK = REBUILT.replace('"t"', '"nopk"')

BOTH = ("sqlite", "postgresql")
PG = ("postgresql",)
SQLITE = ("sqlite",)

ALL_TYPES = '''  op.create_table("all_types",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("k", sa.Integer, { primary_key = true, autoincrement = false }),
    sa.Column("c_bigint", sa.BigInteger),
    sa.Column("c_smallint", sa.SmallInteger),
    sa.Column("c_string", sa.String(50), { nullable = false, server_default = "it's" }),
    sa.Column("c_string_nolen", sa.String),
    sa.Column("c_unicode", sa.Unicode(20), { unique = true }),
    sa.Column("c_unicode_text", sa.UnicodeText),
    sa.Column("c_text", sa.Text, { comment = "free text" }),
    sa.Column("c_bool", sa.Boolean, { server_default = sa.true_() }),
    sa.Column("c_date", sa.Date),
    sa.Column("c_datetime", sa.DateTime, { server_default = sa.func.current_timestamp() }),
    sa.Column("c_datetime_tz", sa.DateTime{ timezone = true }),
    sa.Column("c_time", sa.Time),
    sa.Column("c_interval", sa.Interval),
    sa.Column("c_float", sa.Float, { server_default = sa.text("1.5") }),
    sa.Column("c_numeric", sa.Numeric(10, 2)),
    sa.Column("c_binary", sa.LargeBinary),
    sa.Column("c_json", sa.JSON),
    sa.Column("c_uuid", sa.Uuid),
    sa.Column("c_enum", sa.Enum("red", "green", { name = "color" })),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id", { ondelete = "CASCADE" })),
    sa.Column("parent_code", sa.String(10)),
    sa.Column("tag", sa.String(10), { index = true }),
    sa.PrimaryKeyConstraint("id", "k", { name = "pk_all_types" }),
    sa.UniqueConstraint("c_string", "c_date", { name = "uq_all_types_s_d" }),
    sa.UniqueConstraint("c_bigint"),
    sa.ForeignKeyConstraint({ "parent_code" }, { "parent.code" }, { name = "fk_all_types_code",
                            onupdate = "CASCADE", ondelete = "SET NULL" }),
    sa.CheckConstraint("c_smallint > 0", { name = "ck_all_types_small" }),
    sa.CheckConstraint("c_bigint <> 13"),
    sa.Index("ix_all_types_num", "c_numeric", "c_float", { unique = true }),
    { comment = "every type" })'''

ALL_TYPES_DOWN = '''  op.drop_table("all_types")
  if op.get_context().dialect.name == "postgresql" then op.execute("DROP TYPE color") end'''

T_AGAIN = '''  op.create_table("t",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(20), { nullable = false, server_default = "x" }),
    sa.Column("qty", sa.Integer),
    sa.Column("parent_id", sa.Integer),
    sa.Column("note", sa.Text))
  op.execute("INSERT INTO t (id, name, qty, parent_id, note) VALUES (1, 'a', 5, 1, 'n1'), (2, 'b', 7, NULL, NULL)")'''


def batch(body, opts=""):
    return '  op.batch_alter_table("t", %sfunction(batch_op)\n%s\n  end)' % (
        opts and opts + ", ", body)


# name -> (dialects, up, down, options)
#   options: base = extra base statements (with their own drop in base_down),
#            rebuilt = start from a rebuilt "t" (SQLite batch cases),
#            same_schema = the op changes rows only; data = compare all rows too
CASES = {
    "create_table_every_type_and_constraint": (BOTH, ALL_TYPES, ALL_TYPES_DOWN, {}),
    "create_table_sqlite_autoincrement": (SQLITE, '''  op.create_table("auto",
    sa.Column("id", sa.Integer, { primary_key = true }), sa.Column("v", sa.Text),
    { sqlite_autoincrement = true })
  op.execute("INSERT INTO auto (v) VALUES ('a')")''', '  op.drop_table("auto")', {}),
    "drop_table": (BOTH, '  op.drop_table("t")', T_AGAIN, {}),
    "rename_table": (BOTH, '  op.rename_table("t", "t2")', '  op.rename_table("t2", "t")', {}),
    "add_column": (BOTH, '''  op.add_column("t", sa.Column("extra", sa.String(10)))
  op.add_column("t", sa.Column("flag", sa.Boolean, { nullable = false, server_default = sa.false_() }))
  op.add_column("t", sa.Column("price", sa.Numeric(8, 2), { server_default = "1.50" }))''',
                   '''  op.drop_column("t", "price")
  op.drop_column("t", "flag")
  op.drop_column("t", "extra")''', {}),
    "add_column_with_foreign_key": (PG, '''  op.add_column("t", sa.Column("p2", sa.Integer,
    sa.ForeignKey("parent.id", { name = "fk_t_p2", ondelete = "SET NULL" })))''',
                                    '''  op.drop_constraint("fk_t_p2", "t", { type_ = "foreignkey" })
  op.drop_column("t", "p2")''', {}),
    "drop_column": (BOTH, '  op.drop_column("t", "note")',
                    '  op.add_column("t", sa.Column("note", sa.Text))', {"data_except": ["note"]}),
    "alter_column_rename": (BOTH, '  op.alter_column("t", "qty", { new_column_name = "quantity", existing_type = sa.Integer })',
                            '  op.alter_column("t", "quantity", { new_column_name = "qty", existing_type = sa.Integer })', {}),
    "alter_column_nullable": (PG, '  op.alter_column("t", "qty", { existing_type = sa.Integer, nullable = false })',
                              '  op.alter_column("t", "qty", { existing_type = sa.Integer, nullable = true })', {}),
    "alter_column_type": (PG, '''  op.alter_column("t", "qty", { existing_type = sa.Integer, type_ = sa.BigInteger })
  op.alter_column("t", "name", { existing_type = sa.String(20), type_ = sa.String(40), existing_server_default = "x" })''',
                          '''  op.alter_column("t", "name", { existing_type = sa.String(40), type_ = sa.String(20), existing_server_default = "x" })
  op.alter_column("t", "qty", { existing_type = sa.BigInteger, type_ = sa.Integer })''', {}),
    "alter_column_type_using": (PG, '''  op.alter_column("t", "note", { existing_type = sa.Text, type_ = sa.Integer, postgresql_using = "length(note)" })''',
                                '''  op.alter_column("t", "note", { existing_type = sa.Integer, type_ = sa.Text })''',
                                {"data_except": ["note"]}),
    "alter_column_server_default": (PG, '''  op.alter_column("t", "qty", { existing_type = sa.Integer, server_default = "3" })
  op.alter_column("t", "name", { existing_type = sa.String(20), server_default = false, existing_server_default = "x" })''',
                                    '''  op.alter_column("t", "name", { existing_type = sa.String(20), server_default = "x" })
  op.alter_column("t", "qty", { existing_type = sa.Integer, server_default = false, existing_server_default = "3" })''', {}),
    "alter_column_comment": (PG, '  op.alter_column("t", "note", { existing_type = sa.Text, comment = "a note" })',
                             '  op.alter_column("t", "note", { existing_type = sa.Text, comment = false, existing_comment = "a note" })', {}),
    "alter_column_everything": (PG, '''  op.alter_column("t", "qty", { existing_type = sa.Integer, type_ = sa.BigInteger, nullable = false,
    server_default = "0", comment = "how many", new_column_name = "n" })''',
                                '''  op.alter_column("t", "n", { existing_type = sa.BigInteger, type_ = sa.Integer, nullable = true,
    server_default = false, comment = false, new_column_name = "qty" })''', {}),
    "table_comment": (PG, '''  op.create_table_comment("t", "the t table")''',
                      '''  op.drop_table_comment("t", { existing_comment = "the t table" })''', {}),
    "table_comment_change": (PG, '''  op.create_table_comment("parent", "second", { existing_comment = "first" })''',
                             '''  op.create_table_comment("parent", "first", { existing_comment = "second" })''',
                             {"base": ('  op.create_table_comment("parent", "first")', "")}),
    "create_index": (BOTH, '''  op.create_index("ix_t_name", "t", { "name" })
  op.create_index("ux_t_qty", "t", { "qty" }, { unique = true })
  op.create_index("ix_t_name_qty", "t", { "name", "qty" })
  op.create_index(op.f("ix_t_parent_id"), "t", { "parent_id" })
  op.create_index("ix_t_partial", "t", { "name" }, { postgresql_where = sa.text("qty > 0"), sqlite_where = sa.text("qty > 0") })
  op.create_index("ix_t_lower", "t", { sa.text("lower(name)") })''',
                     '''  op.drop_index("ix_t_lower", { table_name = "t" })
  op.drop_index("ix_t_partial", { table_name = "t" })
  op.drop_index(op.f("ix_t_parent_id"), { table_name = "t" })
  op.drop_index("ix_t_name_qty", { table_name = "t" })
  op.drop_index("ux_t_qty", { table_name = "t" })
  op.drop_index("ix_t_name", { table_name = "t" })''', {}),
    "drop_index": (BOTH, '  op.drop_index("ix_t_note", { table_name = "t" })',
                   '  op.create_index("ix_t_note", "t", { "note" }, { unique = true })',
                   {"base": ('  op.create_index("ix_t_note", "t", { "note" }, { unique = true })', "")}),
    "unique_constraint": (PG, '  op.create_unique_constraint("uq_t_name_qty", "t", { "name", "qty" })',
                          '  op.drop_constraint("uq_t_name_qty", "t", { type_ = "unique" })', {}),
    "foreign_key": (PG, '''  op.create_foreign_key("fk_t_parent", "t", "parent", { "parent_id" }, { "id" },
    { ondelete = "CASCADE", onupdate = "SET NULL" })''',
                    '  op.drop_constraint("fk_t_parent", "t", { type_ = "foreignkey" })', {}),
    "check_constraint": (PG, '  op.create_check_constraint("ck_t_qty", "t", "qty BETWEEN 0 AND 100")',
                         '  op.drop_constraint("ck_t_qty", "t", { type_ = "check" })', {}),
    "primary_key": (PG, '  op.create_primary_key("pk_nopk", "nopk", { "a", "b" })',
                    '  op.drop_constraint("pk_nopk", "nopk", { type_ = "primary" })', {}),
    "exclude_constraint": (PG, '''  op.create_exclude_constraint("ex_booking", "booking", { "room", "=" }, { "during", "&&" },
    { using = "gist", where = "room > 0" })''',
                           '  op.drop_constraint("ex_booking", "booking")',
                           {"base": ('''  op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
  local postgresql = require "luamig.dialects.postgresql"
  op.create_table("booking", sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("room", sa.Integer), sa.Column("during", postgresql.TSRANGE))''',
                                     '  op.drop_table("booking")')}),
    "execute_ddl": (BOTH, '''  op.execute("CREATE VIEW v_t AS SELECT id, name FROM t")''',
                    '''  op.execute("DROP VIEW v_t")''', {}),
    "execute_dml_with_parameters": (BOTH, '''  op.execute("UPDATE t SET note = :n WHERE id = :id", { n = "it's; DROP TABLE t; --", id = 2 })
  op.execute(sa.text("INSERT INTO parent (id, code) VALUES (3, 'p3')"))''',
                                    '''  op.execute("DELETE FROM parent WHERE id = 3")
  op.execute("UPDATE t SET note = NULL WHERE id = :id", { id = 2 })''', {"same_schema": True}),
    "bulk_insert": (BOTH, '''  local tt = sa.table("t", sa.column("id", sa.Integer), sa.column("name", sa.String),
    sa.column("qty", sa.Integer), sa.column("note", sa.Text))
  op.bulk_insert(tt, { { id = 10, name = "o'k", qty = 1 }, { id = 11, name = "z", qty = 2, note = "n" } })
  op.bulk_insert(tt, { { id = 12, name = "m", qty = 3 } }, { multiinsert = false })''',
                    '''  op.execute("DELETE FROM t WHERE id >= 10")''', {"same_schema": True}),
    "bulk_insert_created_table": (BOTH, '''  local kv = op.create_table("kv", sa.Column("k", sa.String(10), { primary_key = true }),
    sa.Column("v", sa.Integer))
  op.bulk_insert(kv, { { k = "a", v = 1 }, { k = "b", v = 2 } })''', '  op.drop_table("kv")', {}),
    # batch mode: SQLite rebuilds the table, PostgreSQL runs the ALTERs
    "batch_add_column": (BOTH, batch('''    batch_op.add_column(sa.Column("extra", sa.String(10), { nullable = false, server_default = "e" }))
    batch_op.add_column(sa.Column("first", sa.Integer), { insert_before = "name" })'''),
                         batch('''    batch_op.drop_column("first")
    batch_op.drop_column("extra")'''), {"rebuilt": True}),
    "batch_drop_column": (BOTH, batch('    batch_op.drop_column("note")'),
                          batch('    batch_op.add_column(sa.Column("note", sa.Text))'),
                          {"rebuilt": True, "data_except": ["note"]}),
    "batch_alter_column": (BOTH, batch('''    batch_op.alter_column("qty", { existing_type = sa.Integer, type_ = sa.BigInteger, nullable = false })
    batch_op.alter_column("name", { existing_type = sa.String(20), server_default = "y", existing_server_default = "x" })
    batch_op.alter_column("note", { new_column_name = "remark", existing_type = sa.Text })'''),
                           batch('''    batch_op.alter_column("remark", { new_column_name = "note", existing_type = sa.Text })
    batch_op.alter_column("name", { existing_type = sa.String(20), server_default = "x", existing_server_default = "y" })
    batch_op.alter_column("qty", { existing_type = sa.BigInteger, type_ = sa.Integer, nullable = true })'''),
                           {"rebuilt": True, "data": True}),
    "batch_alter_column_type_cast": (BOTH, batch('''    batch_op.alter_column("qty", { existing_type = sa.Integer, type_ = sa.String(10) })'''),
                                     batch('''    batch_op.alter_column("qty", { existing_type = sa.String(10), type_ = sa.Integer, postgresql_using = "qty::integer" })'''),
                                     {"rebuilt": True, "data": True}),
    "batch_constraints": (BOTH, batch('''    batch_op.create_unique_constraint("uq_t_name", { "name" })
    batch_op.create_foreign_key("fk_t_parent", "parent", { "parent_id" }, { "id" }, { ondelete = "CASCADE" })
    batch_op.create_check_constraint("ck_t_qty", "qty >= 0")'''),
                          batch('''    batch_op.drop_constraint("ck_t_qty", { type_ = "check" })
    batch_op.drop_constraint("fk_t_parent", { type_ = "foreignkey" })
    batch_op.drop_constraint("uq_t_name", { type_ = "unique" })'''), {"rebuilt": True, "data": True}),
    "batch_primary_key": (BOTH, '''  op.batch_alter_table("nopk", function(batch_op)
    batch_op.create_primary_key("pk_nopk", { "a", "b" })
  end)''', '''  op.batch_alter_table("nopk", function(batch_op)
    batch_op.drop_constraint("pk_nopk", { type_ = "primary" })
  end)''', {"rebuilt_nopk": True, "data": True}),
    "batch_indexes": (BOTH, batch('''    batch_op.create_index("ix_t_name", { "name" })
    batch_op.create_index("ux_t_qty", { "qty" }, { unique = true })'''),
                      batch('''    batch_op.drop_index("ux_t_qty")
    batch_op.drop_index("ix_t_name")'''), {"rebuilt": True, "data": True}),
    "batch_recreate_always": (SQLITE, batch('''    batch_op.alter_column("name", { existing_type = sa.String(20), nullable = true })''', '{ recreate = "always" }'),
                              batch('''    batch_op.alter_column("name", { existing_type = sa.String(20), nullable = false })''', '{ recreate = "always" }'),
                              {"rebuilt": True, "data": True}),
}


class RoundTrip(unittest.TestCase):
    pass


def rows(p, tables, skip=()):
    out = {}
    for t in tables:
        cols = ", ".join(c[0] for c in p.columns(t) if c[0] not in skip)
        out[t] = sorted(tuple(str(v) for v in r) for r in p.sql("SELECT %s FROM %s" % (cols, t)))
    return out


def schema(p):
    """Project.schema(); on SQLite with the stored SQL compared up to whitespace and the
    quoting of plain identifiers, because SQLite splices the text of ALTER TABLE ... ADD
    COLUMN into the stored CREATE TABLE and quotes the new name on ALTER TABLE ... RENAME,
    and without sqlite_sequence, which SQLite creates with the first AUTOINCREMENT table
    and never drops."""
    dump = p.schema()
    if p.backend != "sqlite":
        return dump
    out = []
    for (typ, name, tbl, sql) in dump:
        if name == "sqlite_sequence":
            continue
        if sql is not None:
            sql = re.sub(r'"([a-z_][a-z0-9_]*)"', r"\1", " ".join(sql.split()))
        out.append((typ, name, tbl, sql))
    return out


def make_test(name, dialects, up, down, opts):
    def test(self):
        ran = False
        for backend in backends():
            if backend not in dialects:
                continue
            ran = True
            with self.subTest(backend=backend):
                self.round_trip(backend, up, down, opts)
        if not ran:
            self.skipTest("%s: only on %s" % (name, ", ".join(dialects)))
    return test


def round_trip(self, backend, up, down, opts):
    p = Project(self, backend)
    extra_up, extra_down = opts.get("base", ("", ""))
    pre = extra_up
    if opts.get("rebuilt"):
        pre += "\n" + REBUILT
    if opts.get("rebuilt_nopk"):
        pre += "\n" + REBUILT_NOPK
    p.revision_file("base00000001", up=BASE_UP % pre, downgrade=BASE_DOWN % extra_down)
    p.revision_file("op0000000001", down="base00000001", up=up, downgrade=down)
    p.ok("upgrade", "base00000001")
    tables = ["parent", "t", "nopk"]
    skip = opts.get("data_except", ())
    a, rows_a = schema(p), rows(p, tables, skip)
    p.ok("upgrade", "op0000000001")
    b = schema(p)
    if opts.get("same_schema"):
        self.assertEqual(b, a)
        self.assertNotEqual(rows(p, tables), rows_a, "the operation changed no rows")
    else:
        self.assertNotEqual(b, a, "the operation changed nothing")
    if opts.get("data"):
        self.assertEqual(rows(p, tables), rows_a, "rows changed by the upgrade")
    r = p.run("downgrade", "-1")
    self.assertEqual(r.rc, 0, repr(r))
    self.assertEqual(schema(p), a)
    self.assertEqual(rows(p, tables, skip), rows_a)
    self.assertEqual(p.version_rows(), ["base00000001"])
    p.ok("upgrade", "op0000000001")
    self.assertEqual(schema(p), b)


RoundTrip.round_trip = round_trip
for _name, (_dialects, _up, _down, _opts) in CASES.items():
    setattr(RoundTrip, "test_" + _name, make_test(_name, _dialects, _up, _down, _opts))


if __name__ == "__main__":
    main()
