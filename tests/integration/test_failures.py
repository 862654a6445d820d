"""Bad input: a one-line message on stderr naming the file, line, revision or
table, a non-zero exit, and a database left exactly as it was."""
import os
import unittest

import pg
from luamigtest import Project, backends, main

CREATE_T1 = '  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))'
DROP_T1 = '  op.drop_table("t1")'
CREATE_T2 = '  op.create_table("t2", sa.Column("id", sa.Integer, { primary_key = true }))'


def one_line(test, r):
    lines = [l for l in r.err.split("\n") if l and not l.startswith("INFO ")]
    test.assertEqual(len(lines), 1, repr(r))
    return lines[0]


class Failures(unittest.TestCase):
    def test_failing_migration_rolls_back_the_whole_run(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
                p.revision_file("bbbb2222", down="aaaa1111",
                                up=CREATE_T2 + '\n  op.execute("INSERT INTO nowhere VALUES (1)")')
                r = p.fails("upgrade", "head")
                line = one_line(self, r)
                self.assertTrue(line.startswith("FAILED: upgrade of revision bbbb2222 failed at "),
                                line)
                self.assertIn(" failed at migrations/versions/0002_bbbb2222.lua:12: ", line)
                self.assertIn("nowhere", line)
                # One transaction per run: nothing at all was applied, not even t1.
                self.assertEqual(p.tables(), [])

    def test_failing_migration_per_migration_keeps_earlier_ones(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.set_option("transaction_per_migration", "true")
                p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
                p.revision_file("bbbb2222", down="aaaa1111",
                                up=CREATE_T2 + '\n  op.execute("INSERT INTO nowhere VALUES (1)")')
                p.fails("upgrade", "head")
                self.assertEqual(p.tables(), ["luamig_version", "t1"])
                self.assertEqual(p.version_rows(), ["aaaa1111"])

    def test_failed_downgrade_leaves_the_database_as_it_was(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
                p.revision_file("bbbb2222", down="aaaa1111", up=CREATE_T2,
                                downgrade='  op.drop_table("t2")\n  error("refusing")')
                p.ok("upgrade", "head")
                before = p.schema()
                r = p.fails("downgrade", "base")
                self.assertIn("downgrade of revision bbbb2222 failed at", one_line(self, r))
                self.assertIn("refusing", r.err)
                self.assertEqual(p.schema(), before)
                self.assertEqual(p.version_rows(), ["bbbb2222"])

    def test_syntax_error_names_file_and_line_before_anything_runs(self):
        p = Project(self, "sqlite")
        p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
        p.revision_file("bbbb2222", down="aaaa1111", up="  op.create_table(\"t2\",")
        r = p.fails("upgrade", "head")
        line = one_line(self, r)
        self.assertEqual(line, "FAILED: migrations/versions/0002_bbbb2222.lua:12: "
                               "unexpected symbol near 'end'")
        # the plan's files are compiled before the first step: nothing ran
        self.assertEqual(p.tables(), [])

    def test_runtime_error_at_load_names_file_and_line(self):
        p = Project(self, "sqlite")
        path = p.revision_file("aaaa1111", up=CREATE_T1)
        with open(path, "a") as f:
            f.write("local x = nil + 1\n")
        r = p.fails("upgrade", "head")
        self.assertIn("FAILED: migrations/versions/0001_aaaa1111.lua:17: attempt to perform "
                      "arithmetic on a nil value", r.err)
        self.assertEqual(p.tables(), [])

    def test_byte_order_mark_and_crlf_revision_runs(self):
        p = Project(self, "sqlite")
        path = p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
        text = open(path).read().replace("\n", "\r\n")
        open(path, "wb").write(b"\xef\xbb\xbf" + text.encode())
        self.assertEqual(p.ok("heads").out, "aaaa1111 (head)\n")
        p.ok("upgrade", "head")
        self.assertEqual(p.tables(), ["luamig_version", "t1"])

    def test_binary_revision_file_names_the_file(self):
        """A revision file that starts as Lua bytecode does (its header still readable): Lua
        refuses it with no position; the message names the file, and nothing runs."""
        p = Project(self, "sqlite")
        path = p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
        text = open(path, "rb").read()
        open(path, "wb").write(b"\x1bLua" + text)
        r = p.fails("upgrade", "head")
        self.assertEqual(one_line(self, r), "FAILED: migrations/versions/0001_aaaa1111.lua: "
                                            "attempt to load a binary chunk (mode is 't')")
        self.assertEqual(p.tables(), [])

    def test_unknown_revision(self):
        p = Project(self, "sqlite")
        p.revision_file("aaaa1111", up=CREATE_T1, downgrade=DROP_T1)
        for cmd in (["upgrade", "zzzz"], ["downgrade", "zzzz"], ["show", "zzzz"]):
            r = p.fails(*cmd)
            self.assertEqual(one_line(self, r), "FAILED: Can't locate revision identified by 'zzzz'")
        self.assertEqual(p.tables(), [])

    def test_missing_config_file(self):
        p = Project(self, "sqlite", init=False)
        r = p.fails("upgrade", "head")
        self.assertEqual(r.err, "FAILED: No config file 'luamig.ini' found, or file has no "
                                "'[luamig]' section\n")
        r = p.fails("-c", "nope.ini", "heads")
        self.assertEqual(r.err, "FAILED: No config file 'nope.ini' found, or file has no "
                                "'[luamig]' section\n")

    def test_malformed_revision_header(self):
        p = Project(self, "sqlite")
        p.write("migrations/versions/x.lua", 'revision = "x"\ndown_revision = compute()\n')
        r = p.fails("heads")
        self.assertIn("x.lua:2: down_revision must be nil, a string or a list of strings",
                      one_line(self, r))
        p.write("migrations/versions/x.lua", '-- no header\n')
        r = p.fails("heads")
        self.assertIn("x.lua: no 'revision = \"...\"' line", one_line(self, r))

    def test_unreachable_database(self):
        p = Project(self, "sqlite")
        p.set_option("url", "sqlite:////nonexistent/dir/app.db")
        p.revision_file("aaaa1111", up=CREATE_T1)
        r = p.fails("upgrade", "head")
        self.assertIn("unable to open database file", one_line(self, r))

    def test_password_never_printed(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        p = Project(self, "postgresql")
        secret = pg.password()
        bad = pg.url("postgres", password=True).replace(secret, "wrong" + secret[:3] + "x")
        for url in (pg.url("nosuchdb_luamig", password=True, tcp=True), bad):
            p.set_option("url", url)
            p.revision_file("aaaa1111", up=CREATE_T1, name="0001_aaaa1111.lua")
            r = p.fails("upgrade", "head")
            self.assertNotIn(secret, r.err + r.out)
            self.assertNotIn("wrong", r.err + r.out)
            self.assertIn("FAILED:", r.err)
            r = p.fails("-x", "a=b", "current", "-v") if False else p.run("current", "-v")
            self.assertNotIn(secret, r.err + r.out)


if __name__ == "__main__":
    main()
