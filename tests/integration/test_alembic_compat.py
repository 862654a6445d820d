"""What real Alembic histories use (issue 17), run by the real binary on real SQLite and
PostgreSQL, asserted on the catalog:

- DESIGN's keyword rule for the sa.* constructors (sa.ForeignKey{ column =, name = },
  sa.Column{ name =, type_ = }, sa.Index{ name = ... }, ForeignKeyConstraint{ columns =,
  refcolumns = }, CheckConstraint{ sqltext = }, ...);
- constraints as positional arguments of sa.Column, in create_table, add_column and batch;
- sa.dialects.postgresql / sa.dialects.sqlite beside the require form;
- batch mode's naming_convention naming reflected unnamed constraints.
"""
import os
import re
import sqlite3
import unittest

from luamigtest import Project, backends, main


def norm(sql):
    return re.sub(r'"([a-z_][a-z0-9_]*)"', r"\1", " ".join((sql or "").split()))


def pg_constraints(p, table):
    """{name: (contype, definition)} from pg_constraint."""
    rows = p.sql("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                 "WHERE conrelid = 'public.%s'::regclass" % table)
    return {r[0]: (r[1], r[2]) for r in rows}


def sqlite_table_sql(p, table):
    return norm(p.sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '%s'"
                      % table)[0][0])


def sqlite_fks(p, table):
    return sorted((r[2], r[3], r[4], r[6]) for r in p.sql("PRAGMA foreign_key_list(%s)" % table))


KEYWORDS_UP = '''  op.create_table("experiments",
    sa.Column { name = "experiment_id", type_ = sa.Integer(), primary_key = true },
    sa.Column("name", { type_ = sa.String(50), nullable = false }))
  op.create_table("datasets",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("experiment_id", sa.Integer(),
              sa.ForeignKey { column = "experiments.experiment_id", name = "fk_ds_exp" }),
    sa.Column("a", sa.Integer()),
    sa.Column("b", sa.Integer()),
    sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")),
    sa.CheckConstraint { sqltext = "a < 100", name = "ck_ds_a" },
    sa.UniqueConstraint { "a", "b", name = "uq_ds_ab" },
    sa.Index { name = "ix_ds_b", "b", unique = false })
  op.create_table("links",
    sa.Column("x", sa.Integer()),
    sa.Column("y", sa.Integer()),
    sa.PrimaryKeyConstraint { "x", name = "pk_links" },
    sa.ForeignKeyConstraint { columns = { "y" }, refcolumns = { "experiments.experiment_id" },
                              name = "fk_links_y", ondelete = "CASCADE" })
  op.add_column("links", sa.Column("m", sa.Integer(), sa.CheckConstraint("m <> 3")))
  op.add_column("links", sa.Column("e", sa.Integer(), sa.ForeignKey("experiments.experiment_id")))
  op.batch_alter_table("links", function(batch_op)
    batch_op.add_column(sa.Column("k", sa.Integer(), sa.CheckConstraint("k > 1", { name = "ck_links_k" })))
  end)
  local data = sa.table { name = "experiments", sa.column { text = "experiment_id", type_ = sa.Integer() },
                          sa.column("name", sa.String()) }
  op.bulk_insert(data, { { experiment_id = 1, name = "one" } })'''

KEYWORDS_DOWN = '''  op.drop_table("links")
  op.drop_table("datasets")
  op.drop_table("experiments")'''


class KeywordsAndColumnConstraints(unittest.TestCase):
    def test_keyword_forms_and_column_constraints(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa00000001", up=KEYWORDS_UP, downgrade=KEYWORDS_DOWN)
                p.ok("upgrade", "head")
                self.assertEqual(p.sql("SELECT name FROM experiments"), [("one",)])
                self.assertIn("ix_ds_b", p.indexes("datasets"))
                if backend == "postgresql":
                    ds = pg_constraints(p, "datasets")
                    self.assertEqual(ds["fk_ds_exp"][1],
                                     "FOREIGN KEY (experiment_id) REFERENCES experiments(experiment_id)")
                    self.assertEqual(ds["datasets_n_check"], ("c", "CHECK ((n > 0))"))
                    self.assertEqual(ds["ck_ds_a"], ("c", "CHECK ((a < 100))"))
                    self.assertEqual(ds["uq_ds_ab"], ("u", "UNIQUE (a, b)"))
                    links = pg_constraints(p, "links")
                    self.assertEqual(links["pk_links"], ("p", "PRIMARY KEY (x)"))
                    self.assertEqual(links["fk_links_y"][1],
                                     "FOREIGN KEY (y) REFERENCES experiments(experiment_id) "
                                     "ON DELETE CASCADE")
                    self.assertEqual(links["links_m_check"], ("c", "CHECK ((m <> 3))"))
                    self.assertEqual(links["links_e_fkey"][1],
                                     "FOREIGN KEY (e) REFERENCES experiments(experiment_id)")
                    self.assertEqual(links["ck_links_k"], ("c", "CHECK ((k > 1))"))
                else:
                    ds = sqlite_table_sql(p, "datasets")
                    self.assertIn("CONSTRAINT fk_ds_exp FOREIGN KEY(experiment_id) REFERENCES "
                                  "experiments (experiment_id)", ds)
                    self.assertIn("CHECK (n > 0)", ds)
                    self.assertIn("CONSTRAINT ck_ds_a CHECK (a < 100)", ds)
                    self.assertIn("CONSTRAINT uq_ds_ab UNIQUE (a, b)", ds)
                    links = sqlite_table_sql(p, "links")
                    self.assertIn("CONSTRAINT pk_links PRIMARY KEY (x)", links)
                    self.assertIn("CHECK (m <> 3)", links)
                    self.assertIn("CONSTRAINT ck_links_k CHECK (k > 1)", links)
                    self.assertEqual(sqlite_fks(p, "links"), [
                        ("experiments", "e", "experiment_id", "NO ACTION"),
                        ("experiments", "y", "experiment_id", "CASCADE")])
                    # the CHECK added with the column holds
                    p.sql_exec("INSERT INTO experiments (experiment_id, name) VALUES (2, 'two')")
                    with self.assertRaises(Exception):
                        p.sql_exec("INSERT INTO links (x, m) VALUES (1, 3)")
                p.ok("downgrade", "base")
                self.assertEqual([t for t in p.tables() if t != "luamig_version"], [])


DIALECTS_UP = '''  op.create_table("docs",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("n", sa.dialects.sqlite.INTEGER()))
  if op.get_context().dialect.name == "sqlite" then
    op.add_column("docs", sa.Column("at", sa.dialects.sqlite.DATETIME()))
  else
    op.add_column("docs", sa.Column("body", sa.dialects.postgresql.JSONB()))
    op.add_column("docs", sa.Column("tags", sa.dialects.postgresql.ARRAY(sa.String(10))))
  end'''


class DialectTypeModules(unittest.TestCase):
    def test_sa_dialects_postgresql_and_sqlite(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("bbbb00000001", up=DIALECTS_UP, downgrade='  op.drop_table("docs")')
                p.ok("upgrade", "head")
                cols = p.columns("docs")
                if backend == "postgresql":
                    self.assertEqual(cols, [("id", "integer", True),
                                            ("n", "integer", False),
                                            ("body", "jsonb", False),
                                            ("tags", "character varying(10)[]", False)])
                else:
                    self.assertEqual(cols, [("id", "INTEGER", True), ("n", "INTEGER", False),
                                            ("at", "DATETIME", False)])

    def test_every_database_types_module_is_reachable_on_sqlite(self):
        # the registry loads PostgreSQL's dialect only when asked for; its type module is
        # registered in sa.dialects all the same, for a revision that names it on SQLite
        p = Project(self, "sqlite")
        p.revision_file("bbbb00000003", up='  assert(sa.dialects.postgresql.JSONB)\n'
                        '  op.create_table("pg_named", sa.Column("id", sa.Integer(), '
                        '{ primary_key = true }))')
        p.ok("upgrade", "head")
        self.assertEqual(p.columns("pg_named"), [("id", "INTEGER", True)])
        self.assertEqual(p.version_rows(), ["bbbb00000003"])

    def test_unknown_dialect_module_is_one_line(self):
        p = Project(self, "sqlite")
        p.revision_file("bbbb00000002", up='  sa.Column("x", sa.dialects.mysql.INTEGER())')
        r = p.fails("upgrade", "head")
        self.assertRegex(r.err, r"sa\.dialects has no mysql")
        self.assertEqual(p.version_rows(), None)


CONVENTION_BASE_UP = '''  op.create_table("experiments",
    sa.Column("experiment_id", sa.Integer(), { primary_key = true }))
  op.create_table("datasets",
    sa.Column("id", sa.Integer(), { primary_key = true }),
    sa.Column("name", sa.String(20)),
    sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.experiment_id")),
    sa.UniqueConstraint("name"))
  op.execute("INSERT INTO experiments (experiment_id) VALUES (1)")
  op.execute("INSERT INTO datasets (id, name, experiment_id) VALUES (1, 'd', 1)")'''

CONVENTION = ('{ fk = "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", '
              'uq = "uq_%(table_name)s_%(column_0_name)s" }')

CONVENTION_UP = '''  op.batch_alter_table("datasets", { naming_convention = %s }, function(batch_op)
    batch_op.drop_constraint("fk_datasets_experiment_id_experiments", { type_ = "foreignkey" })
  end)''' % CONVENTION

CONVENTION_DOWN = '''  op.batch_alter_table("datasets", { naming_convention = %s }, function(batch_op)
    batch_op.create_foreign_key("fk_datasets_experiment_id_experiments", "experiments",
                                { "experiment_id" }, { "experiment_id" })
  end)''' % CONVENTION


class BatchNamingConvention(unittest.TestCase):
    """Alembic's recipe "Dropping Unnamed or Named Foreign Key Constraints" on SQLite, which
    keeps foreign keys unnamed: the batch's naming_convention names what it reflects."""

    def test_drop_unnamed_foreign_key_by_convention_name(self):
        p = Project(self, "sqlite")
        p.revision_file("cccc00000001", up=CONVENTION_BASE_UP,
                        downgrade='  op.drop_table("datasets")\n  op.drop_table("experiments")')
        p.revision_file("cccc00000002", down="cccc00000001", up=CONVENTION_UP,
                        downgrade=CONVENTION_DOWN)
        p.ok("upgrade", "cccc00000001")
        self.assertEqual(sqlite_fks(p, "datasets"),
                         [("experiments", "experiment_id", "experiment_id", "NO ACTION")])
        p.ok("upgrade", "head")
        self.assertEqual(sqlite_fks(p, "datasets"), [])
        ds = sqlite_table_sql(p, "datasets")
        # the rebuilt table declares the unnamed UNIQUE with the convention's name
        self.assertIn("CONSTRAINT uq_datasets_name UNIQUE (name)", ds)
        self.assertEqual(p.sql("SELECT id, name, experiment_id FROM datasets"), [(1, "d", 1)])
        p.ok("downgrade", "cccc00000001")
        self.assertEqual(sqlite_fks(p, "datasets"),
                         [("experiments", "experiment_id", "experiment_id", "NO ACTION")])
        self.assertIn("CONSTRAINT fk_datasets_experiment_id_experiments FOREIGN KEY(experiment_id)",
                      sqlite_table_sql(p, "datasets"))
        # and the convention's name now exists: upgrading again drops it
        p.ok("upgrade", "head")
        self.assertEqual(sqlite_fks(p, "datasets"), [])

    def test_without_convention_the_name_is_unknown(self):
        p = Project(self, "sqlite")
        p.revision_file("cccc00000001", up=CONVENTION_BASE_UP)
        p.revision_file("cccc00000002", down="cccc00000001", up=CONVENTION_UP.replace(
            "naming_convention = " + CONVENTION, "recreate = \"always\""))
        p.ok("upgrade", "cccc00000001")
        before = p.schema()
        r = p.fails("upgrade", "head")
        self.assertIn("No such constraint: 'fk_datasets_experiment_id_experiments'", r.err)
        self.assertEqual(p.schema(), before)
        self.assertEqual(p.version_rows(), ["cccc00000001"])


SEQUENCE_OPS = '''package.path = context.config.get_main_option("here", ".") .. "/?.lua;" .. package.path
require "sequence_ops"
'''

# what a project keeps in a module of its own (sequence_ops.lua), required from env.lua
SEQUENCE_MODULE = '''local op = require "luamig.op"
op.register_operation("create_sequence", {
  sql = {
    postgresql = function(d, name, opts)
      return "CREATE SEQUENCE " .. d:quote(name) .. " START " .. ((opts or {}).start or 1)
    end,
    -- SQLite has no sequences: a one-row table stands in for one
    sqlite = function(d, name, opts)
      return { "CREATE TABLE " .. d:quote(name) .. " (value INTEGER NOT NULL)",
               "INSERT INTO " .. d:quote(name) .. " (value) VALUES (" .. ((opts or {}).start or 1) .. ")" }
    end,
  },
  reverse = "drop_sequence",
  lock = "none",
})
op.register_operation("drop_sequence", {
  sql = {
    postgresql = function(d, name) return "DROP SEQUENCE " .. d:quote(name) end,
    sqlite = function(d, name) return "DROP TABLE " .. d:quote(name) end,
  },
  reverse = "create_sequence",
})
'''


class CustomOperations(unittest.TestCase):
    def project(self, backend):
        p = Project(self, backend)
        env = p.read("migrations/env.lua")
        p.write("migrations/env.lua", SEQUENCE_OPS + env)
        p.write("sequence_ops.lua", SEQUENCE_MODULE)
        p.revision_file("dddd00000001", up='  op.create_sequence("order_no", { start = 100 })',
                        downgrade='  op.drop_sequence("order_no")')
        return p

    def test_registered_operation_runs_online_and_down(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = self.project(backend)
                p.ok("upgrade", "head")
                if backend == "postgresql":
                    self.assertEqual(p.sql("SELECT nextval('order_no')"), [("100",)])
                else:
                    self.assertEqual(p.sql("SELECT value FROM order_no"), [(100,)])
                p.ok("downgrade", "base")
                if backend == "postgresql":
                    self.assertEqual(p.sql("SELECT count(*) FROM pg_class WHERE relname = 'order_no'"),
                                     [("0",)])
                else:
                    self.assertNotIn("order_no", p.tables())

    def test_offline_sql_and_lint(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = self.project(backend)
                r = p.ok("upgrade", "head", "--sql")
                if backend == "postgresql":
                    self.assertIn("CREATE SEQUENCE order_no START 100;", r.out)
                else:
                    self.assertIn("CREATE TABLE order_no (value INTEGER NOT NULL);", r.out)
                    self.assertIn("INSERT INTO order_no (value) VALUES (100);", r.out)
                self.assertEqual(p.version_rows(), None)
                if backend == "postgresql":
                    # create_sequence declares its lock; drop_sequence does not: unknown-sql
                    p.revision_file("dddd00000002", down="dddd00000001",
                                    up='  op.drop_sequence("order_no")')
                    r = p.run("lint")
                    self.assertIn("0001_dddd00000001.lua:11: create_sequence: lock none\n", r.out)
                    self.assertIn("0002_dddd00000002.lua:11: drop_sequence: lock unknown\n", r.out)
                    self.assertIn("0002_dddd00000002.lua:11: warn [unknown-sql]", r.out)
                    self.assertNotIn("0001_dddd00000001.lua:11: warn", r.out)

    def test_builtin_cannot_be_replaced(self):
        p = self.project("sqlite")
        p.write("sequence_ops.lua", 'local op = require "luamig.op"\n'
                'op.register_operation("create_table", { sql = function() return "SELECT 1" end })\n')
        r = p.fails("upgrade", "head")
        self.assertIn("op.register_operation: op.create_table already exists", r.err)
        self.assertEqual(p.version_rows(), None)


MULTIDB_FUNCTIONS = {
    "upgrade_engine1": 'op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))',
    "downgrade_engine1": 'op.drop_table("t1")',
    "upgrade_engine2": 'op.create_table("t2", sa.Column("id", sa.Integer, { primary_key = true }))',
    "downgrade_engine2": 'op.drop_table("t2")',
}


class MultidbTemplate(unittest.TestCase):
    """`luamig init -t multidb`: Alembic's multidb template (databases = engine1, engine2, a
    section per database, per-database functions in each revision)."""

    def sqlite_tables(self, path):
        con = sqlite3.connect(path)
        try:
            return sorted(r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"))
        finally:
            con.close()

    def test_two_databases(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend, init=False)
                p.ok("init", "-t", "multidb", "migrations")
                p.remove_option("history_table")
                self.assertIn("databases = engine1, engine2", p.read("luamig.ini"))
                # engine2 is this backend's database; engine1 a SQLite file
                if backend == "postgresql":
                    p.set_option("sqlalchemy.url", p.url, section="engine2")
                p.ok("revision", "-m", "two databases", "--rev-id", "r1")
                path = [f for f in os.listdir(p.versions) if f.endswith(".lua")][0]
                text = p.read(os.path.join("migrations", "versions", path))
                for fn, body in MULTIDB_FUNCTIONS.items():
                    self.assertIn("function %s()\n\nend" % fn, text)
                    text = text.replace("function %s()\n\nend" % fn,
                                        "function %s()\n  %s\nend" % (fn, body))
                p.write(os.path.join("migrations", "versions", path), text)
                p.ok("upgrade", "head")
                e1 = p.path("engine1.db")
                self.assertEqual(self.sqlite_tables(e1), ["luamig_version", "t1"])
                if backend == "postgresql":
                    self.assertEqual(p.tables(), ["luamig_version", "t2"])
                    self.assertEqual(p.version_rows(), ["r1"])
                else:
                    self.assertEqual(self.sqlite_tables(p.path("engine2.db")),
                                     ["luamig_version", "t2"])
                self.assertEqual(p.ok("current").out, "r1 (head)\nr1 (head)\n")
                r = p.ok("upgrade", "head", "--sql")
                self.assertRegex(r.out, r"(?s)-- Migrating database engine1.*CREATE TABLE t1.*"
                                 r"-- Migrating database engine2.*CREATE TABLE t2")
                p.ok("downgrade", "base")
                self.assertEqual(self.sqlite_tables(e1), ["luamig_version"])
                if backend == "postgresql":
                    self.assertEqual(p.tables(), ["luamig_version"])

    def test_autogenerate_per_database(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend, init=False)
                p.ok("init", "-t", "multidb", "migrations")
                p.remove_option("history_table")
                if backend == "postgresql":
                    p.set_option("sqlalchemy.url", p.url, section="engine2")
                env = p.read("migrations/env.lua").replace(
                    "local target_metadata = {}",
                    'package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path\n'
                    'local target_metadata = { engine1 = require "models1", engine2 = require "models2" }')
                p.write("migrations/env.lua", env)
                for n, t in (("1", "t1"), ("2", "t2")):
                    p.write("models%s.lua" % n, 'local sa = require "luamig.sa"\nlocal md = sa.MetaData()\n'
                            'sa.Table("%s", md, sa.Column("id", sa.Integer, { primary_key = true }))\n'
                            'return md\n' % t)
                p.ok("revision", "--autogenerate", "-m", "first", "--rev-id", "a1")
                path = [f for f in os.listdir(p.versions) if f.endswith(".lua")][0]
                text = p.read(os.path.join("migrations", "versions", path))
                up1 = text.split("function upgrade_engine1()")[1].split("\nend")[0]
                up2 = text.split("function upgrade_engine2()")[1].split("\nend")[0]
                self.assertIn('op.create_table("t1"', up1)
                self.assertNotIn('"t2"', up1)
                self.assertIn('op.create_table("t2"', up2)
                self.assertIn('op.drop_table("t1")',
                              text.split("function downgrade_engine1()")[1].split("\nend")[0])
                p.ok("upgrade", "head")
                self.assertEqual(self.sqlite_tables(p.path("engine1.db")), ["luamig_version", "t1"])
                self.assertIn("No new upgrade operations detected.", p.ok("check").out)
                # nothing changed in either database: no file
                r = p.ok("revision", "--autogenerate", "-m", "again")
                self.assertIn("No changes in schema detected", r.err)
                p.ok("downgrade", "base")
                self.assertEqual(self.sqlite_tables(p.path("engine1.db")), ["luamig_version"])

    def test_bad_database_name(self):
        p = Project(self, "sqlite", init=False)
        p.ok("init", "-t", "multidb", "migrations")
        p.set_option("databases", "engine1, my-db")
        r = p.fails("revision", "-m", "x")
        self.assertEqual(r.err.strip().splitlines()[-1],
                         "FAILED: databases: 'my-db' cannot name the functions upgrade_my-db() "
                         "and downgrade_my-db() (letters, digits and _ only)")
        self.assertEqual(os.listdir(p.versions), [])


if __name__ == "__main__":
    main()
