"""upgrade --dry-run: the plan runs on the real database in one transaction that is always
rolled back; each statement is reported with its time and (PostgreSQL) the locks it took, read
from pg_locks of the session's own backend; schema, rows, the version table and the history
table are left exactly as they were, on both databases."""
import re
import unittest

from luamigtest import Project, backends, main

R0 = """  op.create_table("hero", sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50)))
  op.execute("INSERT INTO hero (id, name) VALUES (1, 'Deadpond'), (2, 'Spider-Boy')")"""

R1 = """  op.add_column("hero", sa.Column("age", sa.Integer))
  op.execute("UPDATE hero SET age = 48 WHERE id = 1")
  op.create_table("team", sa.Column("id", sa.Integer, { primary_key = true }))
  op.drop_column("hero", "name")"""


class DryRun(unittest.TestCase):
    def snapshot(self, p):
        rows = sorted(p.sql("SELECT * FROM hero")) if "hero" in p.tables() else None
        hist = sorted(p.sql("SELECT revision, operation FROM luamig_history")) \
            if "luamig_history" in p.tables() else None
        return (p.schema(), rows, p.version_rows(), hist)

    def test_dry_run_leaves_everything_as_it_was(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.set_option("history_table", "luamig_history")
                p.revision_file("r0", up=R0)
                p.revision_file("r1", down="r0", up=R1)
                # from an empty database: not even the version table is left behind
                r = p.ok("upgrade", "head", "--dry-run")
                self.assertEqual(p.tables(), [])
                self.assertIn("Dry run rolled back: the database is as it was", r.out)
                p.ok("upgrade", "r0")
                before = self.snapshot(p)
                r = p.ok("upgrade", "head", "--dry-run")
                self.assertEqual(self.snapshot(p), before)
                self.assertRegex(r.out, r"migrations/versions/0002_r1.lua:11 \(\d+\.\d ms\): "
                                        r"ALTER TABLE hero ADD COLUMN age INTEGER\n")
                self.assertRegex(r.out, r"0002_r1.lua:12 \(\d+\.\d ms\): UPDATE hero SET age = 48")
                if backend == "postgresql":
                    self.assertIn("ALTER TABLE hero ADD COLUMN age INTEGER\n"
                                  "    AccessExclusiveLock on public.hero\n", r.out)
                    self.assertIn("UPDATE hero SET age = 48 WHERE id = 1\n"
                                  "    RowExclusiveLock on public.hero", r.out)
                    # a password never appears
                    self.assertNotIn("pw-", r.out + r.err)
                # downgrade too
                p.ok("upgrade", "head")
                before = self.snapshot(p)
                r = p.ok("downgrade", "r0", "--dry-run")
                self.assertEqual(self.snapshot(p), before)
                self.assertIn("Dry run rolled back", r.out)

    def test_autocommit_block_is_skipped_and_said(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("r0", up=R0)
                p.revision_file("r1", down="r0", up="""  op.get_context().autocommit_block(function()
    op.create_index("ix_hero_name", "hero", { "name" }, { postgresql_concurrently = true })
  end)
  op.add_column("hero", sa.Column("age", sa.Integer))""")
                p.ok("upgrade", "r0")
                before = self.snapshot(p)
                r = p.ok("upgrade", "head", "--dry-run")
                self.assertIn("migrations/versions/0002_r1.lua:11: skipped an autocommit block: it "
                              "commits, which a dry run cannot roll back", r.out)
                self.assertNotIn("CREATE INDEX", r.out)
                self.assertEqual(self.snapshot(p), before)

    def test_failing_statement_rolls_back_and_records_nothing(self):
        p = Project(self, "sqlite")
        p.set_option("history_table", "luamig_history")
        p.revision_file("r0", up=R0)
        p.revision_file("r1", down="r0", up='  op.execute("UPDATE nowhere SET x = 1")')
        p.ok("upgrade", "r0")
        before = self.snapshot(p)
        p.fails("upgrade", "head", "--dry-run")
        self.assertEqual(self.snapshot(p), before)

    def test_offline_range_from_current(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("r0", up=R0)
                p.revision_file("r1", down="r0", up=R1)
                p.ok("upgrade", "r0")
                before = self.snapshot(p)
                out = p.ok("upgrade", "current:head", "--sql").out
                self.assertIn("-- Running upgrade r0 -> r1", out)
                self.assertNotIn("CREATE TABLE hero", out)
                self.assertIn("UPDATE luamig_version SET version_num='r1' WHERE "
                              "luamig_version.version_num = 'r0';", out)
                self.assertEqual(self.snapshot(p), before)

    def test_dry_run_with_sql_is_refused(self):
        p = Project(self, "sqlite")
        r = p.fails("upgrade", "head", "--dry-run", "--sql")
        self.assertEqual(r.err.strip().splitlines()[-1],
                         "FAILED: --dry-run runs on the database; it cannot be combined with --sql")


if __name__ == "__main__":
    main()
