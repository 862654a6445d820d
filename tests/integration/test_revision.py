"""`luamig revision` and luamig.ini: file_template, truncate_slug_length,
timezone, the editable script.lua.tmpl, post_write_hooks,
revision_environment, version_table = alembic_version, and the binary being
self-contained."""
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import unittest

from luamigtest import LUAMIG, Project, main, run, temp_dir


class Revision(unittest.TestCase):
    def test_file_template_and_slug_length(self):
        p = Project(self, "sqlite")
        p.set_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d-%%(rev)s_%%(slug)s")
        p.set_option("truncate_slug_length", "10")
        r = p.ok("revision", "-m", "Create the account table now", "--rev-id", "abc123")
        m = re.search(r"/versions/(\d{4}_\d\d_\d\d-abc123_create_)\.lua", r.out)
        self.assertTrue(m, r.out)

    def test_timezone(self):
        p = Project(self, "sqlite")
        p.set_option("timezone", "UTC")
        p.ok("revision", "-m", "x", "--rev-id", "abc")
        text = p.read("migrations/versions/abc_x.lua")
        self.assertRegex(text, r"Create Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00:00\n")
        p.set_option("timezone", "Mars/Olympus")
        r = p.fails("revision", "-m", "y")
        self.assertEqual(r.err, "FAILED: Can't locate timezone: Mars/Olympus\n")
        self.assertEqual(len(glob.glob(p.path("migrations/versions/*.lua"))), 1)

    def test_template_is_the_users(self):
        p = Project(self, "sqlite")
        tmpl = p.read("migrations/script.lua.tmpl")
        p.write("migrations/script.lua.tmpl", "-- team header $$HOME\n" + tmpl)
        p.ok("revision", "-m", "x", "--rev-id", "abc")
        self.assertTrue(p.read("migrations/versions/abc_x.lua").startswith("-- team header $HOME\n"))
        p.write("migrations/script.lua.tmpl", tmpl + "\n-- ${nonsense}\n")
        r = p.fails("revision", "-m", "y", "--rev-id", "def")
        self.assertIn("script.lua.tmpl:", r.err)
        self.assertIn("unknown template variable ${nonsense}", r.err)
        self.assertFalse(os.path.exists(p.path("migrations/versions/def_y.lua")))

    def test_a_refused_branch_label_makes_no_folder(self):
        """A label only an escape could write is refused before any folder is made, a version
        location's or a file_template's."""
        p = Project(self, "sqlite")
        p.set_option("version_locations", "%(here)s/vA")
        p.set_option("file_template", "%%(year)d/%%(rev)s_%%(slug)s")
        r = p.fails("revision", "-m", "x", "--branch-label", "a\\b")
        self.assertEqual(r.err, "FAILED: branch label 'a\\b' cannot be written in a revision "
                                "header: it holds both quotes, a backslash or a line break\n")
        self.assertEqual(r.out, "")
        self.assertFalse(os.path.exists(p.path("vA")))

    def test_bad_rev_id_and_duplicates(self):
        p = Project(self, "sqlite")
        r = p.fails("revision", "-m", "x", "--rev-id", "a-b")
        self.assertEqual(r.err, "FAILED: Character(s) '-' not allowed in revision identifier 'a-b'\n")
        p.ok("revision", "-m", "x", "--rev-id", "abc")
        r = p.fails("revision", "-m", "x", "--rev-id", "abc")
        self.assertIn("abc", r.err)

    def test_empty_message(self):
        p = Project(self, "sqlite")
        p.ok("revision", "--rev-id", "abc")
        self.assertIn("--[[ empty message", p.read("migrations/versions/abc_empty_message.lua"))

    def test_post_write_hooks(self):
        p = Project(self, "sqlite")
        hook = p.write("hook.sh", '#!/bin/sh\necho "$@" > "$(dirname "$0")/hook.args"\n'
                                  'printf -- "-- formatted\\n" >> "$2"\n')
        os.chmod(hook, 0o755)
        with open(p.path("luamig.ini"), "a") as f:
            f.write("hooks = fmt\nfmt.type = exec\nfmt.executable = %s\n"
                    "fmt.options = --check REVISION_SCRIPT_FILENAME\n" % hook)
        r = p.ok("revision", "-m", "x", "--rev-id", "abc")
        self.assertIn("Running post write hook 'fmt' ...", r.out)
        path = p.path("migrations/versions/abc_x.lua")
        self.assertEqual(p.read("hook.args").strip(), "--check " + path)
        self.assertTrue(p.read("migrations/versions/abc_x.lua").endswith("-- formatted\n"))
        # a failing hook fails the command, and says which hook
        p.write("hook.sh", "#!/bin/sh\nexit 3\n")
        r = p.fails("revision", "-m", "y", "--rev-id", "def")
        self.assertEqual(r.err, "FAILED: post write hook 'fmt' (%s) exited with status 3\n" % hook)

    def test_revision_environment_runs_env(self):
        p = Project(self, "sqlite")
        env = p.read("migrations/env.lua")
        p.write("migrations/env.lua", 'io.stderr:write("env ran\\n")\n' + env)
        r = p.ok("revision", "-m", "x", "--rev-id", "abc")
        self.assertNotIn("env ran", r.err)
        p.set_option("revision_environment", "true")
        r = p.ok("revision", "-m", "y", "--rev-id", "def")
        self.assertIn("env ran", r.err)
        self.assertTrue(os.path.exists(p.path("migrations/versions/def_y.lua")))

    def test_what_env_left_open_is_closed_before_hooks(self):
        # env.lua opens a second connection, takes the write lock and drops it unclosed, and
        # leaves a file it wrote unclosed: both are closed (the transaction rolled back, the
        # file flushed) before the post write hook runs, as Python's reference counting closes
        # them in Alembic; the hook's write would otherwise find the database locked, and its
        # read an empty file
        p = Project(self, "sqlite")
        env = p.read("migrations/env.lua")
        p.write("migrations/env.lua",
                'do\n  local held = require("luamig").connect(context.config.get_main_option("url"))\n'
                '  held:execute("BEGIN IMMEDIATE")\n'
                '  held:execute("CREATE TABLE held (x INTEGER)")\n'
                '  local f = io.open("env.log", "w")\n  f:write("env ran")\nend\n' + env)
        p.set_option("revision_environment", "true")
        hook = p.write("hook.py", "#!%s\nimport sqlite3, sys\n"
                                  "assert open('env.log').read() == 'env ran'\n"
                                  "con = sqlite3.connect(sys.argv[-1], timeout=0)\n"
                                  "con.execute('CREATE TABLE hooked (x INTEGER)')\ncon.commit()\n"
                       % sys.executable)
        os.chmod(hook, 0o755)
        with open(p.path("luamig.ini"), "a") as f:
            f.write("hooks = w\nw.type = exec\nw.executable = %s\nw.options = %s\n"
                    % (hook, p.db_path))
        p.ok("revision", "-m", "x", "--rev-id", "abc")
        self.assertIn("hooked", p.tables())
        self.assertNotIn("held", p.tables())

    def test_autogenerate_refuses_sql_and_stale_database(self):
        p = Project(self, "sqlite")
        r = p.fails("revision", "--autogenerate", "--sql", "-m", "x")
        self.assertEqual(r.err, "FAILED: Using --sql with --autogenerate does not make any sense\n")
        p.revision_file("aaaa1111", up='  op.execute("CREATE TABLE t (x INTEGER)")')
        r = p.fails("revision", "--autogenerate", "-m", "x")
        self.assertEqual(r.err.splitlines()[-1], "FAILED: Target database is not up to date.")
        r = p.fails("check")
        self.assertEqual(r.err.splitlines()[-1], "FAILED: Target database is not up to date.")

    def test_takes_over_an_alembic_database(self):
        p = Project(self, "sqlite")
        con = sqlite3.connect(p.db_path)
        con.executescript("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));"
                          "INSERT INTO alembic_version VALUES ('aaaa1111');"
                          "CREATE TABLE t (x INTEGER);")
        con.close()
        p.revision_file("aaaa1111", up='  op.execute("CREATE TABLE t (x INTEGER)")')
        p.revision_file("bbbb2222", down="aaaa1111", up='  op.add_column("t", sa.Column("y", sa.Integer))')
        p.set_option("version_table", "alembic_version")
        self.assertEqual(p.ok("current").out, "aaaa1111\n")
        p.ok("upgrade", "head")
        self.assertEqual(p.version_rows("alembic_version"), ["bbbb2222"])
        self.assertNotIn("luamig_version", p.tables())
        self.assertEqual([c[0] for c in p.columns("t")], ["x", "y"])

    def test_binary_is_self_contained(self):
        d = temp_dir(self, "install")
        prefix = os.path.join(d, "prefix")
        build = os.path.dirname(LUAMIG)
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        exe = os.path.join(prefix, "bin", "luamig")
        work = os.path.join(d, "work")
        os.makedirs(work)
        env = dict(os.environ)
        env.pop("LUAMIG_LUA_DIR", None)
        for args in (["init", "migrations"], ["revision", "-m", "x", "--rev-id", "abc"],
                     ["upgrade", "head"], ["current"]):
            r = subprocess.run([exe] + args, cwd=work, capture_output=True, text=True, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.out if hasattr(r, "out") else r.stdout, "abc (head)\n")

    def test_development_switch_loads_lua_from_a_folder(self):
        src = os.path.join(os.environ["LUAMIG_SOURCE_DIR"], "lua")
        d = temp_dir(self, "devlua")
        lua = os.path.join(d, "lua")
        shutil.copytree(src, lua)
        with open(os.path.join(lua, "templates", "generic", "README"), "w") as f:
            f.write("Changed in the source tree.\n")
        r = run(["list_templates"], cwd=d, env={"LUAMIG_LUA_DIR": lua})
        self.assertIn("generic - Changed in the source tree.", r.out)
        r = run(["list_templates"], cwd=d)
        self.assertIn("generic - Generic single-database configuration.", r.out)


if __name__ == "__main__":
    main()
