"""Long options accept unambiguous prefixes, as Alembic's argparse does
(`--autogen` for `--autogenerate`, `--mess=hi` for `--message=hi`); an
ambiguous prefix is a usage error in argparse's words, exit 2."""
import os
import unittest

from luamigtest import Project, main


class Prefixes(unittest.TestCase):
    def setUp(self):
        self.p = Project(self)

    def test_unambiguous_prefixes_of_command_options(self):
        r = self.p.ok("revision", "--mess=first one", "--rev-i", "aaaa1111")
        self.assertIn("aaaa1111_first_one.lua", r.out)
        r = self.p.ok("revision", "--mess", "second", "--rev-", "bbbb2222", "--branch-lab",
                      "lbl")
        self.assertIn("bbbb2222_second.lua", r.out)
        self.assertEqual(self.p.ok("heads").out, "bbbb2222 (lbl) (head)\n")
        self.assertEqual(self.p.ok("history", "--rev-r", "aaaa1111:").out,
                         "aaaa1111 -> bbbb2222 (lbl) (head), second\n"
                         "<base> -> aaaa1111 (lbl), first one\n")
        # --autogen is --autogenerate: it compares with the database, which must be at head
        r = self.p.fails("revision", "--autogen", "-m", "x")
        self.assertTrue(r.err.endswith("FAILED: Target database is not up to date.\n"), r.err)

    def test_unambiguous_prefixes_of_global_options(self):
        os.rename(self.p.path("luamig.ini"), self.p.path("other.ini"))
        self.assertEqual(self.p.ok("--conf", "other.ini", "--qui", "heads").out, "")
        self.assertEqual(self.p.ok("--co=other.ini", "heads").out, "")
        self.assertEqual(self.p.ok("--vers").out, "luamig 0.1.0\n")
        self.assertTrue(self.p.ok("--he").out.startswith("usage: luamig [-h]"))
        self.assertTrue(self.p.ok("upgrade", "--he").out.startswith("usage: luamig upgrade [-h]"))

    def test_ambiguous_prefix_is_a_usage_error(self):
        for args, line in [
            (["revision", "--he"],
             "luamig revision: error: ambiguous option: --he could match --help, --head "
             "(see 'luamig revision --help')"),
            (["revision", "-m", "x", "--s=a"],
             "luamig revision: error: ambiguous option: --s=a could match --sql, --splice "
             "(see 'luamig revision --help')"),
            (["history", "-"],
             "luamig history: error: unrecognized arguments: - (see 'luamig history --help')"),
            (["upgrade", "--s=1", "head"],
             "luamig upgrade: error: ignored explicit argument for --sql "
             "(see 'luamig upgrade --help')"),
            (["upgrade", "--ta"],
             "luamig upgrade: error: argument --tag: expected one argument "
             "(see 'luamig upgrade --help')"),
            (["current", "--sq"],
             "luamig current: error: unrecognized arguments: --sq (see 'luamig current --help')"),
        ]:
            with self.subTest(args=args):
                r = self.p.fails(*args, rc=2)
                self.assertEqual(r.err, line + "\n")
                self.assertEqual(r.out, "")


if __name__ == "__main__":
    main()
