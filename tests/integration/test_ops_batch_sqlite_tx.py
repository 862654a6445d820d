"""Batch table rebuilds on SQLite with PRAGMA foreign_keys=ON stay inside the run's
transaction (per run) or the migration's (per migration):

* a failure later in the run, or later in the same migration, leaves the database exactly
  as it was before (the rebuilt table, the operations before it, the version table);
* no row of a table that refers to the rebuilt one is deleted (ON DELETE CASCADE) or
  changed (ON DELETE SET NULL), self references included, with copy_from too;
* foreign keys are still enforced afterwards in the same connection, and the pragmas the
  rebuild switches (legacy_alter_table) are back as they were;
* PRAGMA foreign_key_check runs before the commit: a rebuild that breaks a foreign key
  fails its step with one line naming the table, and nothing is applied.
"""
import unittest

from luamigtest import Project, main

FK_ON_ENV = '''local luamig = require "luamig"
local config = context.config
local connection = luamig.connect(config.get_main_option("url"))
connection:execute("PRAGMA foreign_keys=ON")
context.configure { connection = connection,
                    transaction_per_migration = config.get_main_option("per_migration") == "true" }
context.begin_transaction(function() context.run_migrations() end)
connection:close()
'''

BASE = '''  assert(op.get_bind():query("PRAGMA foreign_keys")[1][1] == 1, "foreign_keys is not on")
  op.create_table("p",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(20)))
  op.create_table("c_cascade",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("p_id", sa.Integer, sa.ForeignKey("p.id", { ondelete = "CASCADE" })))
  op.create_table("c_null",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("p_id", sa.Integer, sa.ForeignKey("p.id", { ondelete = "SET NULL" })))
  op.create_table("node",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("up", sa.Integer, sa.ForeignKey("node.id", { ondelete = "CASCADE" })),
    sa.Column("label", sa.String(10)))
  op.execute("CREATE VIEW v_p AS SELECT id, name FROM p")
  op.execute("INSERT INTO p (id, name) VALUES (1, 'a'), (2, 'b')")
  op.execute("INSERT INTO c_cascade (id, p_id) VALUES (10, 1), (11, 2)")
  op.execute("INSERT INTO c_null (id, p_id) VALUES (20, 1), (21, 2)")
  op.execute("INSERT INTO node (id, up, label) VALUES (1, NULL, 'root'), (2, 1, 'kid'), (3, 2, 'leaf')")'''

# Rebuilds p (a new column, a type change) after an ordinary operation.
REBUILD_P = '''  op.create_table("other", sa.Column("id", sa.Integer, { primary_key = true }))
  op.batch_alter_table("p", function(b)
    b.add_column(sa.Column("extra", sa.Integer))
    b.alter_column("name", { existing_type = sa.String(20), type_ = sa.Text })
  end)'''

REBUILD_NODE = '''  op.batch_alter_table("node", function(b)
    b.alter_column("label", { existing_type = sa.String(10), type_ = sa.Text, nullable = false })
  end)'''

# What a later revision of the same run sees of the connection.
STILL_ENFORCED = '''  local bind = op.get_bind()
  assert(bind:query("PRAGMA foreign_keys")[1][1] == 1, "foreign_keys is off")
  assert(bind:query("PRAGMA legacy_alter_table")[1][1] == 0, "legacy_alter_table left on")
  assert(bind:query("PRAGMA defer_foreign_keys")[1][1] == 0, "defer_foreign_keys left on")
  local ok = bind:pexecute("INSERT INTO c_cascade (id, p_id) VALUES (99, 99)")
  assert(ok == nil, "a row without its parent was accepted")
  op.execute("DELETE FROM p WHERE id = 1")
  op.execute("DELETE FROM node WHERE id = 2")'''

TABLES = ("p", "c_cascade", "c_null", "node")


class BatchSQLiteTransaction(unittest.TestCase):
    def project(self, per_migration=False):
        p = Project(self, "sqlite")
        p.write("migrations/env.lua", FK_ON_ENV)
        p.set_option("per_migration", "true" if per_migration else "false")
        p.revision_file("r0", up=BASE)
        return p

    def state(self, p):
        """Everything a user would compare: the whole of sqlite_master, every row of
        every table, and the version table."""
        rows = {t: sorted(p.sql("SELECT * FROM %s" % t)) for t in p.tables()}
        return p.schema(), rows, p.version_rows()

    def assert_fk_clean(self, p):
        self.assertEqual(p.sql("PRAGMA foreign_key_check"), [])
        for child in ("c_cascade", "c_null"):
            self.assertEqual([r[2] for r in p.sql("PRAGMA foreign_key_list(%s)" % child)], ["p"])
        self.assertNotIn("_alembic_tmp", repr(p.schema()))

    def test_a_later_failure_rolls_the_rebuild_back_per_run(self):
        p = self.project()
        p.ok("upgrade", "r0")
        before = self.state(p)
        p.revision_file("r2", down="r0", up=REBUILD_P + "\n" + REBUILD_NODE)
        p.revision_file("r3", down="r2", up='  op.execute("INSERT INTO no_such_table VALUES (1)")')
        r = p.fails("upgrade", "head")
        last = r.err.strip().splitlines()[-1]
        self.assertTrue(last.startswith("FAILED: upgrade of revision r3 failed at "), last)
        self.assertIn("no such table: no_such_table", r.err)
        self.assertEqual(self.state(p), before)
        self.assertEqual(p.version_rows(), ["r0"])

    def test_a_failure_after_the_rebuild_rolls_back_its_migration_only(self):
        p = self.project(per_migration=True)
        p.ok("upgrade", "r0")
        p.revision_file("r2", down="r0", up=REBUILD_NODE)
        p.ok("upgrade", "r2")
        after_r2 = self.state(p)
        p.revision_file("r3", down="r2", up=REBUILD_P + '\n  error("stop here")')
        r = p.fails("upgrade", "head")
        last = r.err.strip().splitlines()[-1]
        self.assertTrue(last.startswith("FAILED: upgrade of revision r3 failed at "), last)
        self.assertTrue(last.endswith("stop here"), last)
        self.assertEqual(self.state(p), after_r2)
        self.assertEqual(p.version_rows(), ["r2"])
        # and a run that applies both commits r2 before r3 fails
        p2 = self.project(per_migration=True)
        p2.revision_file("r2", down="r0", up=REBUILD_NODE)
        p2.revision_file("r3", down="r2", up=REBUILD_P + '\n  error("stop here")')
        p2.fails("upgrade", "head")
        self.assertEqual(self.state(p2), after_r2)

    def test_the_rebuild_keeps_every_child_row_and_foreign_keys_on(self):
        for per_migration in (False, True):
            with self.subTest(per_migration=per_migration):
                p = self.project(per_migration)
                p.ok("upgrade", "r0")
                children = {t: sorted(p.sql("SELECT * FROM %s" % t)) for t in TABLES[1:]}
                p.revision_file("r2", down="r0", up=REBUILD_P + "\n" + REBUILD_NODE)
                p.revision_file("r3", down="r2", up=STILL_ENFORCED)
                p.ok("upgrade", "r2")
                self.assertEqual({t: sorted(p.sql("SELECT * FROM %s" % t)) for t in TABLES[1:]},
                                 children)
                self.assertEqual([c[0] for c in p.columns("p")], ["id", "name", "extra"])
                self.assertEqual(p.columns("node")[2], ("label", "TEXT", True))
                self.assert_fk_clean(p)
                # the next revision, in the same connection: enforced, and the actions run
                # against the rebuilt tables
                p.ok("upgrade", "head")
                self.assertEqual(p.sql("SELECT id, p_id FROM c_cascade"), [(11, 2)])
                self.assertEqual(sorted(p.sql("SELECT id, p_id FROM c_null")),
                                 [(20, None), (21, 2)])
                self.assertEqual(p.sql("SELECT id FROM node"), [(1,)])
                self.assertEqual(p.version_rows(), ["r3"])

    def test_a_copy_from_rebuild_keeps_every_child_row(self):
        # copy_from skips the reflection, not the care for the tables that refer to this one
        p = self.project()
        p.ok("upgrade", "r0")
        children = {t: sorted(p.sql("SELECT * FROM %s" % t)) for t in TABLES[1:]}
        p.revision_file("r2", down="r0", up='''  local p = sa.Table("p", sa.MetaData(),
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(20)))
  op.batch_alter_table("p", { copy_from = p }, function(b)
    b.add_column(sa.Column("extra", sa.Integer))
    b.alter_column("name", { existing_type = sa.String(20), type_ = sa.Text })
  end)''')
        p.revision_file("r3", down="r2", up=STILL_ENFORCED)
        p.ok("upgrade", "r2")
        self.assertEqual({t: sorted(p.sql("SELECT * FROM %s" % t)) for t in TABLES[1:]}, children)
        self.assertEqual([c[0] for c in p.columns("p")], ["id", "name", "extra"])
        self.assert_fk_clean(p)
        p.ok("upgrade", "head")

    def test_a_rebuild_that_breaks_a_foreign_key_fails_its_step(self):
        p = self.project()
        p.revision_file("r1", down="r0", up='''  op.create_table("orphan",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("p_id", sa.Integer))
  op.execute("INSERT INTO orphan (id, p_id) VALUES (1, 1), (7, 99)")''')
        p.ok("upgrade", "r1")
        before = self.state(p)
        p.revision_file("r2", down="r1", up='''  op.create_table("other", sa.Column("id", sa.Integer, { primary_key = true }))
  op.batch_alter_table("orphan", function(b)
    b.create_foreign_key("fk_orphan_p", "p", { "p_id" }, { "id" })
  end)''')
        r = p.fails("upgrade", "head")
        lines = r.err.strip().splitlines()
        self.assertEqual(lines[-1],
                         "FAILED: upgrade of revision r2 failed at migrations/versions/0003_r2.lua:12: "
                         "batch_alter_table('orphan'): after the rebuild, row 7 of table 'orphan' "
                         "refers to a row of 'p' that does not exist (PRAGMA foreign_key_check)")
        self.assertEqual(self.state(p), before)
        self.assertEqual(p.version_rows(), ["r1"])

    def test_foreign_keys_off_rebuilds_as_before(self):
        # without PRAGMA foreign_keys=ON nothing is switched and nothing is checked
        p = Project(self, "sqlite")
        p.revision_file("r0", up=BASE.split("\n", 1)[1])
        p.revision_file("r2", down="r0", up=REBUILD_P + '''
  assert(op.get_bind():query("PRAGMA foreign_keys")[1][1] == 0, "foreign_keys came on")''')
        p.ok("upgrade", "head")
        self.assertEqual(sorted(p.sql("SELECT id, p_id FROM c_cascade")), [(10, 1), (11, 2)])
        self.assertEqual([c[0] for c in p.columns("p")], ["id", "name", "extra"])


if __name__ == "__main__":
    main()
