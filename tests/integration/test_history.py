"""The audit history (history_table) and revision checksums: what Alembic
does not keep (#309). Every step leaves a row — a failed one too, after its
rollback — and an applied revision whose file changed is reported."""
import unittest

from luamigtest import Project, backends, main

T1 = '  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))'
T2 = '  op.create_table("t2", sa.Column("id", sa.Integer, { primary_key = true }))'


def project(test, backend):
    p = Project(test, backend)
    p.set_option("history_table", "luamig_history")
    p.revision_file("aaaa1111", up=T1, downgrade='  op.drop_table("t1")', message="t one")
    p.revision_file("bbbb2222", down="aaaa1111", up=T2, downgrade='  op.drop_table("t2")',
                    message="t two")
    return p


def history(p):
    rows = p.sql("SELECT revision, operation, from_revisions, to_revisions, message, "
                 "success, error IS NULL, checksum IS NOT NULL FROM luamig_history ORDER BY id")
    return [tuple(str(v) for v in r) for r in rows]


class History(unittest.TestCase):
    def test_every_step_is_recorded(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                p.ok("upgrade", "head")
                p.ok("downgrade", "-1")
                p.ok("stamp", "head")
                one = "1" if backend == "sqlite" else "t"
                self.assertEqual(history(p), [
                    ("aaaa1111", "upgrade", "", "aaaa1111", "t one", one, one, one),
                    ("bbbb2222", "upgrade", "aaaa1111", "bbbb2222", "t two", one, one, one),
                    ("bbbb2222", "downgrade", "bbbb2222", "aaaa1111", "t two", one, one, one),
                    ("bbbb2222", "stamp", "aaaa1111", "bbbb2222", "None", one, one,
                     "0" if backend == "sqlite" else "f"),
                ])
                by = p.sql("SELECT applied_by, luamig_version FROM luamig_history")[0]
                self.assertRegex(by[0], r"@.* pid \d+$")
                # luamig's own tables never show up as differences (t2 is gone: stamp ran no code)
                p.use_models('local sa = require "luamig.sa"\nlocal md = sa.MetaData()\n'
                             'sa.Table("t1", md, sa.Column("id", sa.Integer, { primary_key = true }))\n'
                             'return md\n')
                self.assertEqual(p.ok("check").out, "No new upgrade operations detected.\n")

    def test_failure_is_recorded_after_rollback(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                p.revision_file("cccc3333", down="bbbb2222",
                                up='  op.execute("INSERT INTO nowhere VALUES (1)")')
                p.fails("upgrade", "head")
                # one transaction per run: nothing of the run stays...
                self.assertNotIn("t1", p.tables())
                self.assertIsNone(p.version_rows())
                # ...but the attempt does
                rows = p.sql("SELECT revision, operation, success, error FROM luamig_history")
                self.assertEqual(len(rows), 1)
                self.assertEqual(rows[0][0], "cccc3333")
                self.assertIn(str(rows[0][2]), ("0", "f"))
                self.assertIn("nowhere", rows[0][3])

    def test_changed_revision_is_reported(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                p.ok("upgrade", "aaaa1111")
                path = p.path("migrations/versions/0001_aaaa1111.lua")
                with open(path, "a") as f:
                    f.write("-- edited after it ran\n")
                r = p.ok("upgrade", "head")
                self.assertIn("WARNING [luamig.runtime.migration] Revision aaaa1111 "
                              "(migrations/versions/0001_aaaa1111.lua) was changed after it was "
                              "applied: checksum ", r.err)
                p.ok("downgrade", "aaaa1111")
                p.set_option("checksums", "error")
                r = p.fails("upgrade", "head")
                self.assertIn("FAILED: Revision aaaa1111 (migrations/versions/0001_aaaa1111.lua) "
                              "was changed after it was applied", r.err)
                self.assertEqual(p.version_rows(), ["aaaa1111"])
                # line endings alone are not a change
                text = open(path).read().replace("-- edited after it ran\n", "")
                open(path, "w").write(text.replace("\n", "\r\n"))
                p.ok("upgrade", "head")

    def test_offline_script_keeps_history_too(self):
        p = project(self, "sqlite")
        out = p.ok("upgrade", "head", "--sql").out
        self.assertIn("CREATE TABLE IF NOT EXISTS luamig_history (", out)
        self.assertEqual(out.count("INSERT INTO luamig_history"), 2)


if __name__ == "__main__":
    main()
