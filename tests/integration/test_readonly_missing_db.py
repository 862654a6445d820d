"""A command that only reads the database (current, check, log, validate,
lint, and history, show or edit when they need the database's heads) on a SQLite file that does
not exist says so, exit 1, and creates nothing — where Alembic (SQLAlchemy)
would create an empty database file. Commands that write still create it."""
import json
import os
import unittest

from luamigtest import Project, main

T1 = '  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))'


def message(path, url, command):
    return ("FAILED: Database file '%s' (%s) does not exist; 'luamig %s' only reads a database "
            "and does not create one\n" % (path, url, command))


class MissingDatabase(unittest.TestCase):
    def setUp(self):
        self.p = Project(self, "sqlite", history=True)
        self.p.revision_file("aaaa1111", up=T1, downgrade='  op.drop_table("t1")')

    def test_read_only_commands_refuse_a_missing_file(self):
        for args, command in [(["current"], "current"), (["current", "-v"], "current"),
                              (["current", "--check-heads"], "current"), (["check"], "check"),
                              (["validate"], "validate"),
                              (["log"], "log"), (["log", "--json"], "log"),
                              (["history", "-i"], "history"),
                              (["history", "-r", "current:"], "history"),
                              (["show", "current"], "show"), (["edit", "current"], "edit")]:
            with self.subTest(args=args):
                r = self.p.fails(*args)
                self.assertEqual(r.err, message("app.db", "sqlite:///app.db", command))
                if "--json" in args:
                    # --json: stdout is the final error event, with the same message
                    e = json.loads(r.out)
                    self.assertEqual((e["event"], "FAILED: " + e["message"] + "\n"),
                                     ("error", r.err))
                else:
                    self.assertEqual(r.out, "")
                self.assertFalse(os.path.exists(self.p.db_path))

    def test_the_file_is_named_as_the_url_names_it(self):
        self.p.set_option("url", "sqlite:///data/missing.db")
        os.mkdir(self.p.path("data"))
        r = self.p.fails("current")
        self.assertEqual(r.err, message("data/missing.db", "sqlite:///data/missing.db", "current"))
        absolute = self.p.path("abs.db")
        self.p.set_option("url", "sqlite:///" + absolute)
        r = self.p.fails("-q", "log")
        self.assertEqual(r.err, message(absolute, "sqlite:///" + absolute, "log"))
        self.assertEqual(os.listdir(self.p.path("data")), [])
        self.assertFalse(os.path.exists(absolute))

    def test_lint_lints_everything_without_creating_the_file(self):
        r = self.p.run("lint")
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn("WARNING [luamig.lint] no database (Database file 'app.db' "
                      "(sqlite:///app.db) does not exist; 'luamig lint' only reads a database "
                      "and does not create one): linting every revision", r.err)
        self.assertIn("Revision aaaa1111 ", r.out)
        self.assertFalse(os.path.exists(self.p.db_path))

    def test_listings_without_the_database_still_work(self):
        # history without -i and show of a revision never open the database
        self.assertEqual(self.p.ok("history").out, "<base> -> aaaa1111 (head), rev aaaa1111\n")
        self.assertIn("Revision ID: aaaa1111", self.p.ok("show", "aaaa1111").out)
        self.assertFalse(os.path.exists(self.p.db_path))

    def test_writing_commands_create_it_and_readers_then_work(self):
        self.p.ok("upgrade", "head")
        self.assertTrue(os.path.exists(self.p.db_path))
        self.assertEqual(self.p.ok("current").out, "aaaa1111 (head)\n")
        self.assertEqual(self.p.ok("history", "-i").out,
                         "<base> -> aaaa1111 (head) (current), rev aaaa1111\n")
        # an existing but empty file is a database with nothing applied
        os.remove(self.p.db_path)
        open(self.p.db_path, "w").close()
        self.assertEqual(self.p.ok("current").out, "")
        self.assertEqual(self.p.ok("-q", "log").out, "")

    def test_memory_database_is_not_a_file(self):
        self.p.set_option("url", "sqlite://")
        self.assertEqual(self.p.ok("current").out, "")


if __name__ == "__main__":
    main()
