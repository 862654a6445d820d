"""The first slice of op on both databases, checked in the database's own
catalog: create_table with every foundation type and constraint, drop_table,
add_column, drop_column, create_index, drop_index, rename_table, execute with
bound parameters; each upgrade/downgrade pair returns the exact schema."""
import unittest

from luamigtest import Project, backends, main

CREATE = '''  op.create_table("team",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50), { nullable = false, unique = true }))
  op.create_table("everything",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("big", sa.BigInteger),
    sa.Column("small", sa.SmallInteger),
    sa.Column("name", sa.String(40), { nullable = false, server_default = "anon" }),
    sa.Column("body", sa.Text),
    sa.Column("title", sa.Unicode(100)),
    sa.Column("essay", sa.UnicodeText),
    sa.Column("flag", sa.Boolean, { server_default = sa.false_() }),
    sa.Column("ratio", sa.Float),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("born", sa.Date),
    sa.Column("seen", sa.DateTime),
    sa.Column("at", sa.Time),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("doc", sa.JSON),
    sa.Column("mood", sa.Enum("happy", "sad", { name = "mood" })),
    sa.Column("team_id", sa.Integer, sa.ForeignKey("team.id", { ondelete = "CASCADE" })),
    sa.Column("code", sa.String(10), { index = true }),
    sa.CheckConstraint("ratio >= 0", { name = "ck_everything_ratio" }),
    sa.UniqueConstraint("big", "small", { name = "uq_everything_big_small" }))'''
# As in Alembic, drop_table leaves a PostgreSQL ENUM type behind; the
# migration drops it, as Alembic users write it.
DROP = '''  op.drop_table("everything")
  op.drop_table("team")
  if op.get_context().dialect.name == "postgresql" then op.execute("DROP TYPE mood") end'''

TYPES = {
    "sqlite": ["INTEGER", "BIGINT", "SMALLINT", "VARCHAR(40)", "TEXT", "VARCHAR(100)", "TEXT",
               "BOOLEAN", "FLOAT", "NUMERIC(10, 2)", "DATE", "DATETIME", "TIME", "BLOB", "JSON",
               "VARCHAR(5)", "INTEGER", "VARCHAR(10)"],
    "postgresql": ["integer", "bigint", "smallint", "character varying(40)", "text",
                   "character varying(100)", "text", "boolean", "double precision",
                   "numeric(10,2)", "date", "timestamp without time zone",
                   "time without time zone", "bytea", "json", "mood", "integer",
                   "character varying(10)"],
}


def schema(p):
    """The catalog dump. SQLite's ALTER TABLE RENAME rewrites the stored SQL
    of dependent indexes with the name in double quotes: compare unquoted."""
    if p.backend != "sqlite":
        return p.schema()
    return [tuple(v.replace('"', "") if isinstance(v, str) else v for v in row) for row in p.schema()]


class FoundationOps(unittest.TestCase):
    def project(self, backend):
        p = Project(self, backend)
        p.revision_file("a1", up=CREATE, downgrade=DROP)
        p.revision_file("a2", down="a1", up=(
            '  op.add_column("team", sa.Column("motto", sa.String(80)))\n'
            '  op.create_index("ix_team_motto", "team", { "motto" })\n'
            '  op.create_index("ix_everything_name_born", "everything", { "name", "born" }, { unique = true })'),
            downgrade=(
            '  op.drop_index("ix_everything_name_born", { table_name = "everything" })\n'
            '  op.drop_index("ix_team_motto", { table_name = "team" })\n'
            '  op.drop_column("team", "motto")'))
        p.revision_file("a3", down="a2", up='  op.rename_table("team", "squad")',
                        downgrade='  op.rename_table("squad", "team")')
        p.revision_file("a4", down="a3", up=(
            '  op.execute("INSERT INTO squad (id, name, motto) VALUES (:id, :name, :motto)",\n'
            '    { id = 1, name = "it\'s :not a param", motto = "x" })\n'
            '  op.execute("UPDATE squad SET motto = :m WHERE id = :id", { m = "we; DROP TABLE squad", id = 1 })'),
            downgrade='  op.execute("DELETE FROM squad")')
        return p

    def test_types_constraints_and_round_trips(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = self.project(backend)
                empty = p.schema()
                p.ok("upgrade", "a1")
                after1 = schema(p)
                cols = p.columns("everything")
                self.assertEqual([c[1].upper() if backend == "sqlite" else c[1] for c in cols][:len(TYPES[backend])],
                                 TYPES[backend] if backend == "postgresql" else TYPES[backend])
                notnull = {c[0]: c[2] for c in cols}
                self.assertTrue(notnull["id"] and notnull["name"])
                self.assertFalse(notnull["body"])
                self.assertIn("ix_everything_code", p.indexes("everything"))
                if backend == "sqlite":
                    sql = p.sql("SELECT sql FROM sqlite_master WHERE name='everything'")[0][0]
                    self.assertIn("CONSTRAINT ck_everything_ratio CHECK (ratio >= 0)", sql)
                    self.assertIn("CONSTRAINT uq_everything_big_small UNIQUE (big, small)", sql)
                    self.assertIn("FOREIGN KEY(team_id) REFERENCES team (id) ON DELETE CASCADE", sql)
                    self.assertIn("name VARCHAR(40) DEFAULT 'anon' NOT NULL", sql)
                    self.assertIn("mood VARCHAR(5)", sql)
                else:
                    cons = dict(p.sql("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                                      "WHERE conrelid = 'everything'::regclass"))
                    self.assertEqual(cons["ck_everything_ratio"], "CHECK ((ratio >= (0)::double precision))")
                    self.assertEqual(cons["uq_everything_big_small"], "UNIQUE (big, small)")
                    self.assertIn("FOREIGN KEY (team_id) REFERENCES team(id) ON DELETE CASCADE",
                                  cons.values())
                    enum = p.sql("SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                                 "WHERE t.typname = 'mood' ORDER BY enumsortorder")
                    self.assertEqual(enum, [("happy",), ("sad",)])
                    dflt = p.sql("SELECT column_default FROM information_schema.columns "
                                 "WHERE table_name='everything' AND column_name IN ('name','id') ORDER BY column_name")
                    self.assertEqual(dflt[0][0], "nextval('everything_id_seq'::regclass)")
                    self.assertEqual(dflt[1][0], "'anon'::character varying")

                p.ok("upgrade", "a2")
                after2 = schema(p)
                self.assertEqual([c[0] for c in p.columns("team")], ["id", "name", "motto"])
                self.assertIn("ix_team_motto", p.indexes("team"))
                p.ok("upgrade", "a3")
                self.assertIn("squad", p.tables())
                self.assertNotIn("team", p.tables())
                p.ok("upgrade", "a4")
                rows = p.sql("SELECT id, name, motto FROM squad")
                self.assertEqual([tuple(str(v) for v in r) for r in rows],
                                 [("1", "it's :not a param", "we; DROP TABLE squad")])

                # each downgrade returns the exact schema of before
                p.ok("downgrade", "a2")
                self.assertEqual(schema(p), after2)
                p.ok("downgrade", "a1")
                self.assertEqual(schema(p), after1)
                p.ok("downgrade", "base")
                self.assertEqual(p.tables(), ["luamig_version"])
                if backend == "postgresql":
                    # the migration's DROP TYPE ran
                    self.assertEqual(p.sql("SELECT typname FROM pg_type WHERE typname = 'mood'"), [])
                self.assertNotEqual(empty, after1)

    def test_data_migration_with_sa_table(self):
        up = (
            '  op.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(20))")\n'
            '  local account = sa.table("account", sa.column("id", sa.Integer), sa.column("name", sa.String))\n'
            '  op.bulk_insert(account, { { id = 1, name = "account 1" }, { id = 2, name = "b" }, { id = 3, name = "c" } })\n'
            '  op.execute(account:update()\n'
            '    :where(account.c.name:eq(op.inline_literal("account 1")))\n'
            '    :values({ name = op.inline_literal("account 2") }))\n'
            '  op.execute(account:update():where(account.c.id:eq(2)):values({ name = "it\'s" }))\n'
            '  op.execute(account:delete():where(sa.and_(account.c.id:gt(2), account.c.name:ne("zzz"))))\n'
            '  op.execute(account:insert():values({ id = 9, name = "nine" }))')
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("a1", up=up)
                p.ok("upgrade", "head")
                rows = sorted(tuple(str(v) for v in r) for r in p.sql("SELECT id, name FROM account"))
                self.assertEqual(rows, [("1", "account 2"), ("2", "it's"), ("9", "nine")])
                out = p.ok("upgrade", "base:head", "--sql").out
                self.assertIn("UPDATE account SET name='account 2' WHERE account.name = 'account 1';", out)
                self.assertIn("UPDATE account SET name='it''s' WHERE account.id = 2;", out)
                self.assertIn("DELETE FROM account WHERE account.id > 2 AND account.name != 'zzz';", out)
                self.assertIn("INSERT INTO account (id, name) VALUES (9, 'nine');", out)

    def test_bulk_insert_with_column_names_that_are_not_words(self):
        """Online, each value is a bound parameter whatever its column is called: a name
        holding SQL ("x || (SELECT ...))--"), a quote or a colon stays a quoted name, and each
        row holds the values it was given."""
        odd = "x || (SELECT pw FROM secret))--"
        up = ('  op.execute("CREATE TABLE secret (pw VARCHAR(20))")\n'
              '  op.execute("INSERT INTO secret VALUES (\'hunter2\')")\n'
              '  local t = op.create_table("t", sa.Column("x", sa.String(20)),\n'
              '    sa.Column("%s", sa.String(20)), sa.Column("it\'s:a", sa.String(20)))\n'
              '  op.bulk_insert(t, { { x = "a", ["%s"] = "b", ["it\'s:a"] = "c" } })' % (odd, odd))
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("a1", up=up)
                p.ok("upgrade", "head")
                self.assertEqual(p.sql('SELECT * FROM t'), [("a", "b", "c")])

    def test_ops_name_constraints_by_the_convention(self):
        """Online, as Alembic: an unnamed index gets SQLAlchemy's default ix_<table>_<column>;
        with target_metadata's ck_%(table_name)s_%(constraint_name)s a check constraint given
        as 'positive' is ck_t_positive, and drop_constraint('positive', type_ = 'check') drops
        that one. The names are read from each database's catalog."""
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.write("models.lua", 'local sa = require "luamig.sa"\nreturn sa.MetaData '
                        '{ naming_convention = { ck = "ck_%(table_name)s_%(constraint_name)s" } }\n')
                p.revision_file("a1", up='  op.create_table("t", sa.Column("x", sa.Integer))\n'
                                '  op.create_index(nil, "t", { "x" })')
                p.ok("upgrade", "head")
                self.assertEqual(p.indexes("t"), ["ix_t_x"])
                p.use_models()
                add = ('  op.batch_alter_table("t", function(b) b.create_check_constraint('
                       '"positive", "x > 0") end)')
                drop = ('  op.batch_alter_table("t", function(b) b.drop_constraint("positive", '
                        '{ type_ = "check" }) end)')
                p.revision_file("b2", down="a1", up=add)
                p.ok("upgrade", "head")
                if backend == "postgresql":
                    checks = "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid = 't'::regclass"
                    self.assertEqual(p.sql(checks), [("ck_t_positive",)])
                else:
                    sql = p.sql("SELECT sql FROM sqlite_master WHERE name = 't'")[0][0]
                    self.assertIn("CONSTRAINT ck_t_positive CHECK", sql)
                p.revision_file("c3", down="b2", up=drop)
                p.ok("upgrade", "head")
                if backend == "postgresql":
                    self.assertEqual(p.sql(checks), [])
                else:
                    self.assertNotIn("CHECK", p.sql("SELECT sql FROM sqlite_master WHERE name = 't'")[0][0])

    def test_invoke_runs_an_operation_object(self):
        up = ('  op.execute("CREATE TABLE t (id INTEGER)")\n'
              '  local add = op.ops.add_column("t", sa.Column("x", sa.Integer))\n'
              '  op.invoke(add)\n'
              '  op.invoke(op.ops.create_index("ix_t_x", "t", { "x" }))')
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("a1", up=up)
                p.ok("upgrade", "head")
                self.assertEqual([c[0] for c in p.columns("t")], ["id", "x"])
                self.assertEqual(p.indexes("t"), ["ix_t_x"])

    def test_missing_bind_parameter(self):
        p = Project(self, "sqlite")
        p.revision_file("a1", up='  op.execute("SELECT :x", { y = 1 })')
        r = p.fails("upgrade", "head")
        self.assertIn("A value is required for bind parameter 'x'", r.err)


if __name__ == "__main__":
    main()
