"""What env.lua can do, as env.py does in Alembic: the context functions
(get_tag_argument, get_revision_argument, get_starting_revision_argument,
get_x_argument, is_offline_mode, configure options, on_version_apply,
run_migrations(kw)), ensure_version, and op.get_bind() returning rows."""
import unittest

from luamigtest import Project, backends, main

ENV = '''local luamig = require "luamig"
local config = context.config
io.stderr:write("tag=", tostring(context.get_tag_argument()),
  " dest=", tostring(context.get_revision_argument()),
  " start=", tostring(context.get_starting_revision_argument()),
  " offline=", tostring(context.is_offline_mode()),
  " url=", tostring(config.get_main_option("sqlalchemy.url") ~= nil), "\\n")
local applied = {}
local opts = {
  target_metadata = nil,
  transaction_per_migration = true,
  on_version_apply = function(info)
    applied[#applied + 1] = (info.step.upgrade and "up:" or "down:") .. (info.step.rev and info.step.rev.revision or "stamp")
  end,
}
if context.is_offline_mode() then
  opts.url = config.get_main_option("url")
  context.configure(opts)
  context.run_migrations({ flavour = "offline" })
else
  local connection = luamig.connect(config.get_main_option("url"))
  opts.connection = connection
  context.configure(opts)
  context.run_migrations({ flavour = "vanilla" })
  connection:close()
end
io.stderr:write("applied=", table.concat(applied, ","), "\\n")
'''


class Env(unittest.TestCase):
    def test_context_functions_and_callbacks(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.write("migrations/env.lua", ENV)
                path = p.revision_file("a1", up=(
                    '  op.execute("CREATE TABLE t (x INTEGER, flavour VARCHAR(20))")\n'
                    '  op.execute("INSERT INTO t VALUES (1, :f)", { f = kw.flavour })\n'
                    '  op.execute("INSERT INTO t VALUES (2, :f)", { f = kw.flavour })'),
                    downgrade='  op.execute("DROP TABLE t")')
                # run_migrations(kw) reaches upgrade(kw), as Alembic's upgrade(**kw)
                text = open(path).read().replace("function upgrade()", "function upgrade(kw)")
                open(path, "w").write(text)
                p.revision_file("a2", down="a1", up=(
                    '  local rows = op.get_bind():query("SELECT x FROM t ORDER BY x")\n'
                    '  for _, r in ipairs(rows) do\n'
                    '    op.execute("UPDATE t SET x = :y WHERE x = :x", { x = r.x, y = r[1] * 10 })\n'
                    '  end'))
                r = p.ok("upgrade", "head", "--tag", "release-7")
                self.assertIn("tag=release-7 dest=head start=nil offline=false url=true", r.err)
                self.assertIn("applied=up:a1,up:a2", r.err)
                rows = sorted(tuple(str(v) for v in row) for row in p.sql("SELECT x, flavour FROM t"))
                self.assertEqual(rows, [("10", "vanilla"), ("20", "vanilla")])
                r = p.ok("downgrade", "a1:base", "--sql")
                self.assertIn("dest=base start=a1 offline=true", r.err)

    def test_current_check_heads(self):
        p = Project(self, "sqlite")
        p.revision_file("a1", up='  op.execute("SELECT 1")')
        p.revision_file("a2", down="a1", up='  op.execute("SELECT 1")')
        p.ok("upgrade", "a1")
        r = p.fails("current", "--check-heads")
        self.assertEqual(r.err.splitlines()[-1], "FAILED: Database is not on all head revisions")
        p.ok("upgrade", "head")
        self.assertEqual(p.ok("current", "--check-heads").out, "a2 (head)\n")

    def test_ensure_version(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                self.assertEqual(p.tables(), [])
                p.ok("ensure_version")
                self.assertEqual(p.tables(), ["luamig_version"])
                self.assertEqual(p.version_rows(), [])
                out = p.ok("ensure_version", "--sql").out
                self.assertIn("CREATE TABLE luamig_version (", out)

    def test_get_bind_cannot_read_offline(self):
        p = Project(self, "sqlite")
        p.revision_file("a1", up='  op.get_context():query("SELECT 1")')
        r = p.fails("upgrade", "head", "--sql")
        self.assertIn("cannot proceed in --sql mode", r.err)


RELEASE = ('io.stderr:write("released: ", '
           'tostring(require("luamig.core").release_revisions()), "\\n")\n')


class ReleasedRevisions(unittest.TestCase):
    """core.release_revisions (a checkpoint frees the revision map for its check) frees the map
    only where nothing in C reads it after the Lua side: env.lua calling it under `history` or
    `revision` gets false and the command goes on; under `upgrade` it frees the map, and the
    revisions are read again when the plan needs them."""

    def test_env_lua_frees_the_map_only_where_it_is_safe(self):
        p = Project(self, "sqlite")
        p.set_option("revision_environment", "true")
        p.revision_file("aaaa1111", message="one")
        p.write("migrations/env.lua", RELEASE + p.read("migrations/env.lua"))
        r = p.ok("upgrade", "head")
        self.assertIn("released: true", r.err)
        self.assertEqual(p.sql("SELECT version_num FROM luamig_version"), [("aaaa1111",)])
        r = p.ok("history", "-r", "current:")
        self.assertIn("released: false", r.err)
        self.assertEqual(r.out, "<base> -> aaaa1111 (head), one\n")
        r = p.ok("revision", "-m", "two")
        self.assertIn("released: false", r.err)
        self.assertEqual(len(p.ok("heads").out.splitlines()), 1)


if __name__ == "__main__":
    main()
