"""luamig as a library, installed: `cmake --install` to a temporary prefix, then
- the C example (examples/c/upgrade.c) built with `cc $(pkg-config --cflags --libs luamig)`
  against that prefix's luamig.pc, and run;
- the Lua example (examples/lua/upgrade.lua) and small scripts run by a plain `lua5.4`
  that finds the installed luamig.so through LUA_CPATH;
each upgrading a real SQLite file (and, through the Lua module, the throwaway PostgreSQL),
checked in the database's own catalog and version table. Errors come back as values (C:
the error slot; Lua: nil, message) naming the culprit, with no crash and nothing printed."""
import os
import re
import shutil
import signal
import subprocess
import unittest

import pg
from luamigtest import LUAMIG, Project, default_sigint, main, temp_dir

BUILD = os.path.dirname(os.path.abspath(LUAMIG))
SOURCE = os.environ.get("LUAMIG_SOURCE_DIR") or os.path.join(BUILD, "..")
C_EXAMPLE = os.path.join(SOURCE, "examples", "c", "upgrade.c")
C_CLIENT = os.path.join(SOURCE, "tests", "integration", "library_client.c")
LUA_EXAMPLE = os.path.join(SOURCE, "examples", "lua", "upgrade.lua")

UP_ACCOUNT = ('  op.create_table("account", sa.Column("id", sa.Integer, { primary_key = true }),\n'
              '    sa.Column("name", sa.String(50), { nullable = false }))')
UP_EMAIL = ('  op.add_column("account", sa.Column("email", sa.String(100)))\n'
            '  op.create_index("ix_account_email", "account", { "email" })')


ENV_WITH_MODELS = """\
local luamig = require "luamig"
local config = context.config
package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path
local connection = luamig.connect(config.get_main_option("url"))
context.configure { connection = connection, target_metadata = require "models" }
context.begin_transaction(function() context.run_migrations() end)
connection:close()
"""

MODELS = """\
local sa = require "luamig.sa"
local md = sa.MetaData()
sa.Table("account", md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(50), { nullable = false }),
  sa.Column("email", sa.String(100)),
  sa.Column("age", sa.Integer),
  sa.Index("ix_account_email", "email"))
return md
"""


def sanitizer_preload(lib):
    """A sanitized build's libluamig needs the ASan runtime first in the process (plain cc
    and lua5.4 are not sanitized): the runtimes it links, for LD_PRELOAD; "" otherwise."""
    out = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    found = re.findall(r"\s(\S*lib(?:asan|ubsan)\.so[.\d]*) => (\S+)", out)
    return " ".join(path for _, path in found)


class Library(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prefix = os.path.join(os.environ.get("LUAMIG_TEST_TMP", "/tmp"),
                                  "install-lib-%d" % os.getpid())
        shutil.rmtree(cls.prefix, True)
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        cls.libdir = os.path.join(cls.prefix, "lib")
        cls.lua = shutil.which("lua5.4")
        env = dict(os.environ)
        env.pop("LUAMIG_CONFIG", None)
        env["PKG_CONFIG_PATH"] = os.path.join(cls.libdir, "pkgconfig")
        env["LD_LIBRARY_PATH"] = cls.libdir
        env["LUA_CPATH"] = os.path.join(cls.libdir, "lua", "5.4", "?.so") + ";;"
        preload = sanitizer_preload(os.path.join(cls.libdir, "libluamig.so"))
        if preload:
            env["LD_PRELOAD"] = preload
        cls.env = env
        # the C example, built as a user builds it
        cls.exe = os.path.join(cls.prefix, "upgrade")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "luamig"], env=env,
                               capture_output=True, text=True)
        assert flags.returncode == 0, flags.stderr
        cc_env = dict(env)
        cc_env.pop("LD_PRELOAD", None)
        cls.client = os.path.join(cls.prefix, "library_client")
        for exe, src in ((cls.exe, C_EXAMPLE), (cls.client, C_CLIENT)):
            r = subprocess.run("cc -o %s %s %s" % (exe, src, flags.stdout.strip()),
                               shell=True, env=cc_env, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, True)

    def need_lua(self):
        if not self.lua:
            if pg.under_ci():
                self.fail("lua5.4 is not installed (tests/run installs it)")
            self.skipTest("lua5.4 is not installed")

    def project(self, backend="sqlite"):
        p = Project(self, backend)
        p.revision_file("aaa1", up=UP_ACCOUNT, downgrade='  op.drop_table("account")',
                        message="create account")
        p.revision_file("bbb2", down="aaa1", up=UP_EMAIL,
                        downgrade='  op.drop_index("ix_account_email", { table_name = "account" })\n'
                                  '  op.drop_column("account", "email")',
                        message="add email")
        return p

    def run_c(self, p, *args):
        return subprocess.run([self.exe] + list(args), cwd=p.dir, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def run_lua(self, p, *args, script=None):
        self.need_lua()
        if script is not None:
            path = os.path.join(p.dir, "script.lua")
            with open(path, "w") as f:
                f.write(script)
            args = (path,) + args
        return subprocess.run([self.lua] + list(args), cwd=p.dir, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def assert_clean(self, r):
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(marker, r.stderr)

    # -- the install --------------------------------------------------------
    def test_installed_files(self):
        for rel in ["include/luamig.h", "lib/libluamig.so", "lib/libluamig.a",
                    "lib/pkgconfig/luamig.pc", "lib/lua/5.4/luamig.so"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        # only the API leaves the library: no lm_ internals, no Lua state of its own
        out = subprocess.run(["nm", "-D", "--defined-only",
                              os.path.join(self.libdir, "libluamig.so")],
                             capture_output=True, text=True).stdout
        names = [line.split()[-1] for line in out.splitlines() if line.strip()]
        self.assertIn("luamig_upgrade", names)
        self.assertEqual([n for n in names if n.startswith("lm_") or n.startswith("lua_")], [])
        out = subprocess.run(["nm", "-D", "--defined-only",
                              os.path.join(self.libdir, "lua", "5.4", "luamig.so")],
                             capture_output=True, text=True).stdout
        self.assertEqual([line.split()[-1] for line in out.splitlines() if " T " in line],
                         ["luaopen_luamig"])

    # -- the C example -------------------------------------------------------
    def test_c_example_upgrades_sqlite(self):
        p = self.project()
        r = self.run_c(p, "luamig.ini")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        self.assertEqual(r.stdout, "upgrade aaa1: create account\nupgrade bbb2: add email\n"
                                   "current bbb2 (head)\n")
        # the log lines came through the callback, to stderr, never to stdout
        self.assertIn("INFO  [luamig.runtime.migration] Running upgrade aaa1 -> bbb2, add email",
                      r.stderr)
        self.assertEqual(p.tables(), ["account", "luamig_version"])
        self.assertEqual([c[0] for c in p.columns("account")], ["id", "name", "email"])
        self.assertEqual(p.indexes("account"), ["ix_account_email"])
        self.assertEqual(p.version_rows(), ["bbb2"])
        # again: nothing to do, still at the head
        r = self.run_c(p, "luamig.ini")
        self.assertEqual((r.returncode, r.stdout), (0, "current bbb2 (head)\n"), r.stderr)

    def test_c_example_to_a_revision(self):
        p = self.project()
        r = self.run_c(p, "luamig.ini", "aaa1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "upgrade aaa1: create account\ncurrent aaa1\n")
        self.assertEqual(p.version_rows(), ["aaa1"])

    def test_c_bad_config_names_the_file(self):
        p = self.project()
        missing = os.path.join(p.dir, "nope.ini")
        r = self.run_c(p, missing)
        self.assertEqual(r.returncode, 1)
        self.assert_clean(r)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, "error: No config file '%s' found, or file has no "
                                   "'[luamig]' section\n" % missing)
        self.assertFalse(os.path.exists(p.db_path))

    def test_c_failing_migration_leaves_the_database(self):
        p = self.project()
        p.ok("upgrade", "aaa1")
        before = p.schema()
        p.revision_file("ccc3", down="bbb2", up='  error("boom in ccc3")', message="broken")
        r = self.run_c(p, "luamig.ini")
        self.assertEqual(r.returncode, 1)
        self.assert_clean(r)
        self.assertEqual(r.stdout, "")
        err = r.stderr.splitlines()[-1]
        self.assertTrue(err.startswith("error: "), err)
        self.assertIn("ccc3", err)
        self.assertIn("boom in ccc3", err)
        # one transaction for the run (the default): nothing of bbb2 either
        self.assertEqual(p.schema(), before)
        self.assertEqual(p.version_rows(), ["aaa1"])

    def test_c_api_every_function(self):
        p = self.project()
        r = subprocess.run([self.client, "luamig.ini"], cwd=p.dir, env=self.env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        # no log function: the library printed nothing of its own
        self.assertEqual(r.stderr, "")
        out = r.stdout.replace(p.dir, "PROJECT")
        new_id = re.search(r"^revision: \[(\w+) ", out, re.M).group(1)
        out = out.replace(new_id, "NEWID")
        self.assertEqual(out.splitlines(), [
            "version: 0.1.0",
            "open NULL err: NULL",
            "open section: NULL No config file 'luamig.ini' found, or file has no '[nosection]' "
            "section",
            "heads: [bbb2* 'add email' 0002_bbb2.lua]",
            "history: [bbb2* 'add email' 0002_bbb2.lua] [aaa1 'create account' 0001_aaa1.lua]",
            "current: error Database file 'app.db' (sqlite:///app.db) does not exist; 'luamig "
            "current' only reads a database and does not create one",
            "upgrade: [upgrade aaa1 'create account']",
            "current: [aaa1 'create account']",
            "upgrade: [upgrade bbb2 'add email']",
            "upgrade again:",
            "downgrade: [downgrade bbb2 'add email'] [downgrade aaa1 'create account']",
            "stamp: [stamp bbb2 'add email']",
            "current: [bbb2* 'add email']",
            "downgrade none: error luamig_downgrade: no revision given",
            "upgrade unknown: error Can't locate revision identified by 'zzz9'",
            "check: error Can't proceed with --autogenerate option; environment script "
            "PROJECT/migrations/env.lua does not provide a MetaData object or sequence of "
            "objects to the context.",
            "stamp, no list: 0",
            "current: [aaa1 'create account']",
            "revision: [NEWID 'third' NEWID_third.lua]",
            "heads: [NEWID* 'third' NEWID_third.lua]",
            'inspect: {"default_schema": "main", "dialect": "sqlite", "tables": '
            '[{"check_constraints": [], "columns": [{"name": "version_num", "nullable": false, '
            '"primary_key": true, "type": "VARCHAR(32)"}], "foreign_keys": [], "indexes": [], '
            '"name": "luamig_version", "primary_key": {"columns": ["version_num"], '
            '"name": "luamig_version_pkc"}, "unique_constraints": []}]}',
            "inspect missing: error Database file 'missing.db' (sqlite:///missing.db) does not "
            "exist; 'luamig inspect' only reads a database and does not create one",
        ])
        # the downgrade to base dropped the tables; the stamps only moved the version row
        self.assertEqual(p.tables(), ["luamig_version"])
        self.assertEqual(p.version_rows(), ["aaa1"])
        self.assertFalse(os.path.exists(p.path("missing.db")))
        # the file luamig_revision wrote is a revision the binary reads
        self.assertIn("NEWID (head)", p.ok("heads").out.replace(new_id, "NEWID"))

    # -- the Lua module ------------------------------------------------------
    def test_lua_example_upgrades_sqlite(self):
        p = self.project()
        r = self.run_lua(p, LUA_EXAMPLE, "luamig.ini")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        self.assertEqual(r.stdout, "upgrade aaa1: create account\nupgrade bbb2: add email\n"
                                   "current bbb2 (head)\n")
        self.assertEqual(p.tables(), ["account", "luamig_version"])
        self.assertEqual([c[0] for c in p.columns("account")], ["id", "name", "email"])
        self.assertEqual(p.version_rows(), ["bbb2"])

    def test_lua_commands_return_values(self):
        p = self.project()
        script = r'''
local luamig = require "luamig"
local function show(label, t)
  local parts = {}
  for _, v in ipairs(t) do
    if type(v) == "string" then parts[#parts + 1] = v
    else parts[#parts + 1] = (v.direction and v.direction .. " " or "") .. tostring(v.revision)
      .. (v.is_head and "*" or "") .. (v.message and " " .. v.message or "") end
  end
  print(label .. ": " .. table.concat(parts, ", "))
end
local c = { config = "luamig.ini" }
-- nothing printed by luamig itself: no log function given
show("heads", luamig.heads(c))
show("history", luamig.history(c))
show("upgrade", luamig.upgrade { config = "luamig.ini", revision = "aaa1" })
show("current", luamig.current(c))
show("upgrade", luamig.upgrade(c))
show("current", luamig.current(c))
local s = luamig.inspect(c)
for _, t in ipairs(s.tables) do
  local cols = {}
  for _, col in ipairs(t.columns) do
    cols[#cols + 1] = col.name .. " " .. col.type .. (col.nullable and "" or " NOT NULL")
  end
  local ix = {}
  for _, i in ipairs(t.indexes) do ix[#ix + 1] = i.name .. "(" .. table.concat(i.columns, ",") .. ")" end
  print("table " .. t.name .. ": " .. table.concat(cols, ", ") .. "; " .. table.concat(ix, ", "))
end
show("downgrade", luamig.downgrade { config = "luamig.ini", revision = "aaa1" })
show("stamp", luamig.stamp { config = "luamig.ini", revision = "bbb2" })
show("current", luamig.current(c))
local rev = luamig.revision { config = "luamig.ini", message = "third", rev_id = "ccc3" }
print("revision: " .. rev.revision .. " " .. rev.message .. " " .. rev.path:match("[^/]+$"))
show("heads", luamig.heads(c))
'''
        r = self.run_lua(p, script=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.splitlines(), [
            "heads: bbb2* add email",
            "history: bbb2* add email, aaa1 create account",
            "upgrade: upgrade aaa1 create account",
            "current: aaa1 create account",
            "upgrade: upgrade bbb2 add email",
            "current: bbb2* add email",
            "table account: id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, email VARCHAR(100); "
            "ix_account_email(email)",
            "table luamig_version: version_num VARCHAR(32) NOT NULL; ",
            "downgrade: downgrade bbb2 add email",
            "stamp: stamp bbb2 add email",
            "current: bbb2* add email",
            "revision: ccc3 third ccc3_third.lua",
            "heads: ccc3* third",
        ])
        # the downgrade ran (email gone), the stamp only moved the version row
        self.assertEqual([c[0] for c in p.columns("account")], ["id", "name"])
        self.assertEqual(p.version_rows(), ["bbb2"])
        self.assertTrue(os.path.exists(p.path("migrations/versions/ccc3_third.lua")))

    def test_lua_check_and_autogenerate(self):
        p = self.project()
        p.write("migrations/env.lua", ENV_WITH_MODELS)
        p.write("models.lua", MODELS)
        script = r'''
local luamig = require "luamig"
local c = { config = "luamig.ini" }
assert(luamig.upgrade(c))
local diffs = assert(luamig.check(c))
print("check: " .. table.concat(diffs, " | "))
local rev = assert(luamig.revision { config = "luamig.ini", message = "add age",
                                     autogenerate = true, rev_id = "ccc3" })
print("revision: " .. rev.revision .. " " .. rev.message)
local steps = assert(luamig.upgrade(c))
print("upgrade: " .. steps[1].revision)
print("check: " .. #assert(luamig.check(c)))
print(luamig.revision { config = "luamig.ini", message = "nothing", autogenerate = true,
                        rev_id = "ddd4" })
'''
        r = self.run_lua(p, script=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "check: add_column account.age sa.Integer()")
        self.assertEqual(lines[1:4], ["revision: ccc3 add age", "upgrade: ccc3", "check: 0"])
        self.assertTrue(lines[4].startswith("nil\tNo revision written"), lines[4])
        self.assertIn("age", [c[0] for c in p.columns("account")])
        self.assertIn('batch_op.add_column(sa.Column("age", sa.Integer()',
                      p.read("migrations/versions/ccc3_add_age.lua"))
        self.assertFalse(os.path.exists(p.path("migrations/versions/ddd4_nothing.lua")))

    def test_lua_errors_are_values(self):
        p = self.project()
        script = r'''
local luamig = require "luamig"
print(luamig.current { config = "nope.ini" })
print(luamig.current { config = "luamig.ini" })
print(luamig.upgrade { config = "luamig.ini", revision = "zzz9" })
print(pcall(luamig.upgrade, "luamig.ini"))
print(pcall(luamig.downgrade, { config = "luamig.ini" }))
'''
        r = self.run_lua(p, script=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "nil\tNo config file 'nope.ini' found, or file has no "
                                   "'[luamig]' section")
        # a read-only command never creates the SQLite file
        self.assertTrue(lines[1].startswith("nil\tDatabase file 'app.db'"), lines[1])
        self.assertIn("does not exist", lines[1])
        self.assertEqual(lines[2], "nil\tCan't locate revision identified by 'zzz9'")
        self.assertIn(p.version_rows(), (None, []))
        # misuse raises
        self.assertTrue(lines[3].startswith("false\t"), lines[3])
        self.assertIn("table expected", lines[3])
        self.assertEqual(lines[4], "false\tluamig.downgrade: the field 'revision' is required")

    def test_lua_sigint_fails_the_call_and_the_next_one_runs(self):
        self.need_lua()
        p = self.project()
        p.revision_file("ccc3", down="bbb2", up="  while true do end", message="endless")
        script = r'''
local luamig = require "luamig"
local function log(_, text) io.stderr:write(text) io.stderr:flush() end
print(luamig.upgrade { config = "luamig.ini", log = log })
io.stdout:flush()
local steps = assert(luamig.upgrade { config = "luamig.ini", revision = "bbb2" })
print(#steps, steps[#steps].revision)
'''
        path = p.write("script.lua", script)
        proc = subprocess.Popen([self.lua, path], cwd=p.dir, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=default_sigint)
        seen = ""
        while "Running upgrade bbb2 -> ccc3" not in seen:
            line = proc.stderr.readline()
            self.assertNotEqual(line, "", "the run ended before the endless step: " + seen)
            seen += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, seen + err)
        self.assert_clean(subprocess.CompletedProcess([], 0, out, err))
        # the interrupted run rolled back as a failing one; the process went on, and the
        # next call was not taken for interrupted too
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].startswith("nil\tInterrupted by SIGINT"), lines[0])
        self.assertIn("rolled back, the database is at base", lines[0])
        self.assertEqual(lines[1], "2\tbbb2")
        self.assertEqual(p.version_rows(), ["bbb2"])

    def test_lua_module_upgrades_postgresql(self):
        pg.skip_unless_available()
        p = self.project("postgresql")
        script = r'''
local luamig = require "luamig"
local steps = assert(luamig.upgrade { config = "luamig.ini" })
for _, s in ipairs(steps) do print(s.direction .. " " .. s.revision) end
for _, row in ipairs(assert(luamig.current { config = "luamig.ini" })) do
  print("current " .. row.revision .. (row.is_head and " (head)" or ""))
end
local s = assert(luamig.inspect { config = "luamig.ini" })
print("dialect " .. s.dialect .. " " .. s.default_schema)
for _, t in ipairs(s.tables) do
  local cols = {}
  for _, col in ipairs(t.columns) do cols[#cols + 1] = col.name .. " " .. col.type end
  print("table " .. t.name .. ": " .. table.concat(cols, ", "))
end
'''
        r = self.run_lua(p, script=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r)
        self.assertEqual(r.stdout.splitlines(), [
            "upgrade aaa1", "upgrade bbb2", "current bbb2 (head)", "dialect postgresql public",
            "table account: id INTEGER, name VARCHAR(50), email VARCHAR(100)",
            "table luamig_version: version_num VARCHAR(32)"])
        self.assertEqual(p.tables(), ["account", "luamig_version"])
        self.assertEqual([c[0] for c in p.columns("account")], ["id", "name", "email"])
        self.assertEqual(p.indexes("account"), ["account_pkey", "ix_account_email"])
        self.assertEqual(p.version_rows(), ["bbb2"])

    def test_lua_postgresql_error_hides_the_password(self):
        pg.skip_unless_available()
        p = self.project()
        p.set_option("url", pg.url("no_such_db_for_library", password=True, tcp=True))
        script = 'print(require("luamig").upgrade { config = "luamig.ini" })\n'
        r = self.run_lua(p, script=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("nil\t"), r.stdout)
        self.assertIn("no_such_db_for_library", r.stdout)
        self.assertNotIn(pg.password(), r.stdout + r.stderr)


if __name__ == "__main__":
    main()
