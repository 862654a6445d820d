"""env.lua's autogenerate hooks reach `revision --autogenerate` and `check`:
process_revision_directives (rewrite the message, or drop the revision),
include_object (leave a table out), compare_type as a function."""
import glob
import os
import unittest

from luamigtest import Project, backends, main

MODELS = '''local sa = require "luamig.sa"
local md = sa.MetaData()
sa.Table("keep", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(%d)))
sa.Table("legacy", md, sa.Column("id", sa.Integer, { primary_key = true }))
return md
'''

ENV = '''local luamig = require "luamig"
local config = context.config
package.path = config.get_main_option("here") .. "/?.lua;" .. package.path
local target_metadata = require "models"
local connection = luamig.connect(config.get_main_option("url"))
context.configure {
  connection = connection,
  target_metadata = target_metadata,
  include_object = function(object, name, type_, reflected, compare_to)
    return not (type_ == "table" and name == "legacy")
  end,
  compare_type = function(ctx, inspected_column, metadata_column, inspected_type, metadata_type)
    if os.getenv("IGNORE_TYPES") then return false end
    return nil
  end,
  process_revision_directives = function(ctx, revision, directives)
    local script = directives[1]
    script.message = "[auto] " .. (script.message or "")
    if os.getenv("DROP_ALL") then
      table.remove(directives, 1)
    end
  end,
}
context.begin_transaction(function() context.run_migrations() end)
connection:close()
'''


class Hooks(unittest.TestCase):
    def test_hooks_reach_autogenerate(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.write("models.lua", MODELS % 20)
                p.write("migrations/env.lua", ENV)
                r = p.ok("revision", "--autogenerate", "-m", "first")
                path = glob.glob(p.path("migrations/versions/*.lua"))[0]
                text = open(path).read()
                self.assertTrue(text.startswith("--[[ [auto] first\n"), text[:80])
                self.assertIn('op.create_table("keep"', text)
                self.assertNotIn("legacy", text)   # include_object left it out
                p.ok("upgrade", "head")
                self.assertEqual(p.ok("check").out, "No new upgrade operations detected.\n")
                # a type change, seen unless compare_type says no
                p.write("models.lua", MODELS % 40)
                r = p.fails("check")
                self.assertIn("keep", r.out)
                self.assertEqual(p.ok("check", env={"IGNORE_TYPES": "1"}).out,
                                 "No new upgrade operations detected.\n")
                # process_revision_directives may drop the revision: nothing written
                before = sorted(os.listdir(p.versions))
                p.ok("revision", "--autogenerate", "-m", "second", env={"DROP_ALL": "1"})
                self.assertEqual(sorted(os.listdir(p.versions)), before)


if __name__ == "__main__":
    main()
