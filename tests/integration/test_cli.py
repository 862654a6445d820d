"""The command line as Alembic users know it: help, version, usage errors
(exit 2), global options before the command."""
import unittest

from luamigtest import Project, main


class Cli(unittest.TestCase):
    def setUp(self):
        self.p = Project(self, "sqlite")

    def test_version(self):
        r = self.p.ok("--version")
        self.assertRegex(r.out, r"^luamig \d+\.\d+\.\d+\n$")

    def test_program_help_lists_every_command(self):
        r = self.p.ok("--help")
        for cmd in ("init", "list_templates", "revision", "upgrade", "downgrade", "current",
                    "history", "heads", "branches", "show", "stamp", "merge", "edit"):
            self.assertRegex(r.out, r"\n    %s\s" % cmd)

    def test_command_help(self):
        r = self.p.ok("upgrade", "--help")
        self.assertTrue(r.out.startswith("usage: luamig upgrade [-h] [--sql] [--tag TAG]"), r.out)
        self.assertIn("revision identifier", r.out)
        r = self.p.ok("revision", "-h")
        for opt in ("-m MESSAGE, --message MESSAGE", "--autogenerate", "--head HEAD",
                    "--splice", "--branch-label BRANCH_LABEL", "--version-path VERSION_PATH",
                    "--rev-id REV_ID", "--depends-on DEPENDS_ON"):
            self.assertIn(opt, r.out)

    def test_usage_errors_exit_2_with_one_line(self):
        cases = [
            (["upgrade"], "luamig upgrade: error: the following arguments are required: revision"),
            (["upgrade", "head", "extra"], "luamig upgrade: error: unrecognized arguments: extra"),
            (["upgrade", "head", "-x", "a"], "luamig upgrade: error: unrecognized arguments: -x"),
            (["history", "-r"], "luamig history: error: argument -r/--rev-range: expected one argument"),
        ]
        for args, msg in cases:
            r = self.p.fails(*args, rc=2)
            self.assertEqual(r.err.count("\n"), 1, r.err)
            self.assertTrue(r.err.startswith(msg), r.err)
        r = self.p.fails("frob", rc=2)
        self.assertIn("invalid choice: 'frob'", r.err)
        r = self.p.fails(rc=2)
        self.assertIn("too few arguments", r.err)

    def test_global_options_before_the_command(self):
        self.p.revision_file("aaaa1111", up='  op.execute("CREATE TABLE t (x INTEGER)")')
        r = self.p.ok("-x", "k=v", "-q", "upgrade", "head")
        self.assertEqual(r.err, "")
        self.assertEqual(self.p.version_rows(), ["aaaa1111"])

    def test_x_arguments_reach_env_lua(self):
        env = self.p.read("migrations/env.lua").replace(
            'local config = context.config',
            'local config = context.config\n'
            'local x = context.get_x_argument({ as_dictionary = true })\n'
            'io.stdout:write("x=", tostring(x.tenant), " list=", table.concat(context.get_x_argument(), ","), "\\n")')
        self.p.write("migrations/env.lua", env)
        r = self.p.ok("-x", "tenant=acme", "-x", "flag", "upgrade", "head")
        self.assertIn("x=acme list=tenant=acme,flag", r.out)

    def test_rev_range_without_colon(self):
        r = self.p.fails("history", "-r", "abc")
        self.assertEqual(r.err, "FAILED: History range requires [start]:[end], [start]:, or :[end]\n")

    def test_range_only_with_sql(self):
        self.p.revision_file("aaaa1111", up='  op.execute("CREATE TABLE t (x INTEGER)")')
        r = self.p.fails("upgrade", "base:head")
        self.assertEqual(r.err.splitlines()[-1], "FAILED: Range revision not allowed")
        r = self.p.fails("downgrade", "--sql", "base")
        self.assertEqual(r.err.splitlines()[-1],
                         "FAILED: downgrade with --sql requires <fromrev>:<torev>")


if __name__ == "__main__":
    main()
