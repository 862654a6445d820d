"""The Alembic tutorial, done with luamig from a terminal: init, set the URL,
revision, edit, upgrade, current, history, downgrade — on SQLite and
PostgreSQL, checked through the database's own catalog."""
import os
import re
import unittest

from luamigtest import Project, backends, main

CREATE_ACCOUNT = '''  op.create_table("account",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50), { nullable = false }),
    sa.Column("description", sa.Unicode(200)))'''

ADD_COLUMN = '''  op.add_column("account", sa.Column("last_transaction_date", sa.DateTime))'''


MODELS = '''local sa = require "luamig.sa"
local metadata = sa.MetaData()

sa.Table("account", metadata,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(50), { nullable = false }),
  sa.Column("description", sa.Unicode(200)))

return metadata
'''


def fill(path, up, down):
    text = open(path).read()
    text = text.replace("function upgrade()\n\nend", "function upgrade()\n%s\nend" % up)
    text = text.replace("function downgrade()\n\nend", "function downgrade()\n%s\nend" % down)
    open(path, "w").write(text)


class Tutorial(unittest.TestCase):
    def test_init_writes_the_generic_environment(self):
        p = Project(self, "sqlite", init=False)
        r = p.ok("init", "migrations")
        for f in ("luamig.ini", "migrations/env.lua", "migrations/script.lua.tmpl",
                  "migrations/README"):
            self.assertTrue(os.path.exists(p.path(f)), f)
        self.assertTrue(os.path.isdir(p.path("migrations/versions")))
        self.assertIn("script_location = %(here)s/migrations", p.read("luamig.ini"))
        self.assertIn("Please edit configuration/connection/logging settings", r.out)
        env = p.read("migrations/env.lua")
        self.assertIn("target_metadata = nil", env)
        self.assertIn("run_migrations_offline", env)
        self.assertIn("run_migrations_online", env)

    def test_init_refuses_a_non_empty_directory(self):
        p = Project(self, "sqlite", init=False)
        p.write("migrations/keep.txt", "x")
        r = p.fails("init", "migrations")
        self.assertEqual(r.err.strip(),
                         "FAILED: Directory migrations already exists and is not empty")
        self.assertFalse(os.path.exists(p.path("luamig.ini")))

    def test_list_templates(self):
        p = Project(self, "sqlite", init=False)
        r = p.ok("list_templates")
        self.assertIn("generic - Generic single-database configuration.", r.out)

    def test_whole_tutorial(self):
        for backend in backends():
            with self.subTest(backend=backend):
                self.tutorial(backend)

    def tutorial(self, backend):
        p = Project(self, backend)
        r = p.ok("revision", "-m", "create account table")
        m = re.search(r"Generating (.*/versions/([0-9a-f]{12})_create_account_table\.lua)", r.out)
        self.assertTrue(m, r.out)
        path1, rev1 = m.group(1), m.group(2)
        text = open(path1).read()
        self.assertIn('revision = "%s"' % rev1, text)
        self.assertIn("down_revision = nil", text)
        self.assertIn("Revision ID: %s" % rev1, text)
        fill(path1, CREATE_ACCOUNT, '  op.drop_table("account")')

        r = p.ok("revision", "-m", "Add a column")
        m = re.search(r"Generating (.*/versions/([0-9a-f]{12})_add_a_column\.lua)", r.out)
        path2, rev2 = m.group(1), m.group(2)
        self.assertIn('down_revision = "%s"' % rev1, open(path2).read())
        fill(path2, ADD_COLUMN, '  op.drop_column("account", "last_transaction_date")')

        # Nothing applied yet: current creates nothing (on SQLite it says the file is not
        # there; on PostgreSQL it prints nothing).
        if backend == "sqlite":
            r = p.fails("current")
            self.assertEqual(r.err, "FAILED: Database file 'app.db' (sqlite:///app.db) does not "
                             "exist; 'luamig current' only reads a database and does not "
                             "create one\n")
            self.assertFalse(os.path.exists(p.db_path))
        else:
            self.assertEqual(p.ok("current").out, "")
        self.assertEqual(p.tables(), [])

        r = p.ok("upgrade", "head")
        self.assertIn("Running upgrade  -> %s, create account table" % rev1, r.err)
        self.assertIn("Running upgrade %s -> %s, Add a column" % (rev1, rev2), r.err)
        self.assertEqual(p.tables(), ["account", "luamig_version"])
        self.assertEqual([c[0] for c in p.columns("account")],
                         ["id", "name", "description", "last_transaction_date"])
        self.assertEqual(p.version_rows(), [rev2])

        self.assertEqual(p.ok("current").out, "%s (head)\n" % rev2)
        hist = p.ok("history").out
        self.assertEqual(hist, "%s -> %s (head), Add a column\n"
                               "<base> -> %s, create account table\n" % (rev1, rev2, rev1))

        p.ok("downgrade", "-1")
        self.assertEqual([c[0] for c in p.columns("account")], ["id", "name", "description"])
        self.assertEqual(p.version_rows(), [rev1])
        self.assertEqual(p.ok("current").out, "%s\n" % rev1)

        p.ok("upgrade", "+1")
        self.assertEqual(p.version_rows(), [rev2])

        p.ok("downgrade", "base")
        self.assertEqual(p.tables(), ["luamig_version"])
        self.assertEqual(p.version_rows(), [])

        # partial ids work as targets
        p.ok("upgrade", rev1[:5])
        self.assertEqual(p.version_rows(), [rev1])
        p.ok("upgrade", "head")
        self.assertEqual(p.version_rows(), [rev2])

    def test_autogenerate_tutorial(self):
        """The README's "Auto-generating migrations" section, as written."""
        for backend in backends():
            with self.subTest(backend=backend):
                self.autogenerate_tutorial(backend)

    def autogenerate_tutorial(self, backend):
        p = Project(self, backend)
        p.write("models.lua", MODELS)
        env = p.read("migrations/env.lua")
        self.assertIn("local target_metadata = nil\n", env)
        p.write("migrations/env.lua", env.replace(
            "local target_metadata = nil\n",
            'package.path = config.get_main_option("here") .. "/?.lua;" .. package.path\n'
            'local target_metadata = require "models"\n'))
        r = p.ok("revision", "--autogenerate", "-m", "create account table")
        m = re.search(r"Generating (.*/versions/[0-9a-f]{12}_create_account_table\.lua) \.\.\.  done", r.out)
        self.assertTrue(m, r.out)
        text = open(m.group(1)).read()
        self.assertIn("  -- ### commands auto generated by luamig - please adjust! ###\n", text)
        self.assertIn('  op.create_table("account",', text)
        self.assertIn('  op.drop_table("account")', text)
        p.ok("upgrade", "head")
        self.assertEqual([c[0] for c in p.columns("account")], ["id", "name", "description"])
        self.assertEqual(p.ok("check").out, "No new upgrade operations detected.\n")

        p.write("models.lua", MODELS.replace(
            '  sa.Column("description", sa.Unicode(200)))',
            '  sa.Column("description", sa.Unicode(200)),\n  sa.Column("email", sa.String(100)))'))
        r = p.fails("check")
        self.assertIn("email", r.out)
        r = p.ok("revision", "--autogenerate", "-m", "add email")
        m = re.search(r"Generating (.*_add_email\.lua)", r.out)
        text = open(m.group(1)).read()
        # SQLite: inside op.batch_alter_table (render_as_batch is on there)
        self.assertIn('add_column(', text)
        self.assertIn('sa.Column("email", sa.String{ length = 100 }, { nullable = true })', text)
        self.assertNotIn("create_table", text)
        p.ok("upgrade", "head")
        self.assertEqual([c[0] for c in p.columns("account")][-1], "email")
        self.assertEqual(p.ok("check").out, "No new upgrade operations detected.\n")
        # nothing changed: nothing written
        before = sorted(os.listdir(p.versions))
        p.ok("revision", "--autogenerate", "-m", "nothing")
        self.assertEqual(sorted(os.listdir(p.versions)), before)
        p.ok("revision", "--autogenerate", "-m", "nothing", "--allow-empty")
        self.assertEqual(len(os.listdir(p.versions)), len(before) + 1)

    def test_quiet_silences_the_log(self):
        p = Project(self, "sqlite")
        p.revision_file("aaaa1111", up=CREATE_ACCOUNT, downgrade='  op.drop_table("account")')
        r = p.ok("-q", "upgrade", "head")
        self.assertEqual(r.err, "")
        self.assertEqual(p.version_rows(), ["aaaa1111"])

    def test_config_from_environment_and_other_section(self):
        p = Project(self, "sqlite")
        p.revision_file("aaaa1111", up=CREATE_ACCOUNT, downgrade='  op.drop_table("account")')
        os.rename(p.path("luamig.ini"), p.path("other.ini"))
        p.fails("upgrade", "head")
        p.ok("upgrade", "head", env={"LUAMIG_CONFIG": "other.ini"})
        self.assertEqual(p.version_rows(), ["aaaa1111"])
        text = open(p.path("other.ini")).read().replace("[luamig]", "[blue]")
        open(p.path("other.ini"), "w").write(text)
        r = p.fails("-c", "other.ini", "current")
        self.assertEqual(r.err.strip(),
                         "FAILED: No config file 'other.ini' found, or file has no '[luamig]' section")
        self.assertEqual(p.ok("-c", "other.ini", "-n", "blue", "current").out, "aaaa1111 (head)\n")


if __name__ == "__main__":
    main()
