"""Checksums of applied revisions (history_table), on every command that
connects: an edited revision file is warned about (checksums = warn) or
refused before anything changes (checksums = error) by `current`, `check`,
`upgrade` with nothing to do, `downgrade`, `stamp`; line endings and a
byte-order mark are no edit; values name their scheme ("fnv1a64-v2:") and
rows of the older scheme (16 bare hex digits) still compare; `luamig
validate` reports drift, missing and unknown revisions; `luamig stamp
--resync REV` records a deliberate edit.

The expected checksums are computed here, independently of luamig."""
import os
import time
import unittest

from luamigtest import Project, backends, main

T1 = '  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))'
T2 = '  op.create_table("t2", sa.Column("id", sa.Integer, { primary_key = true }))'
T3 = '  op.create_table("t3", sa.Column("id", sa.Integer, { primary_key = true }))'
FILE1 = "migrations/versions/0001_aaaa1111.lua"
FILE3 = "migrations/versions/0003_cccc3333.lua"
LOGGER = "WARNING [luamig.runtime.migration] "


def fnv1a64(data):
    h = 14695981039346656037
    for c in data:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def v2(data):
    """The scheme luamig writes: no leading BOM, every line ending one LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return "fnv1a64-v2:" + fnv1a64(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))


def v1(data):
    """The scheme of older luamig versions: CRLF read as LF, nothing else."""
    return fnv1a64(data.replace(b"\r\n", b"\n"))


def project(test, backend, history=True):
    """aaaa1111 and bbbb2222 applied; models.lua matches them, so that
    `check` finds nothing to do."""
    p = Project(test, backend)
    if history:
        p.set_option("history_table", "luamig_history")
    p.revision_file("aaaa1111", up=T1, downgrade='  op.drop_table("t1")', message="t one")
    p.revision_file("bbbb2222", down="aaaa1111", up=T2, downgrade='  op.drop_table("t2")',
                    message="t two")
    p.use_models('local sa = require "luamig.sa"\nlocal md = sa.MetaData()\n'
                 'sa.Table("t1", md, sa.Column("id", sa.Integer, { primary_key = true }))\n'
                 'sa.Table("t2", md, sa.Column("id", sa.Integer, { primary_key = true }))\n'
                 'return md\n')
    p.ok("upgrade", "head")
    return p


def raw(p, rel):
    with open(p.path(rel), "rb") as f:
        return f.read()


def put(p, rel, data):
    with open(p.path(rel), "wb") as f:
        f.write(data)


def edit(p, rel=FILE1, text=b"-- edited after it ran\n"):
    """Appends to a revision file; returns its checksums before and after."""
    before = raw(p, rel)
    put(p, rel, before + text)
    return v2(before), v2(before + text)


def drift(rev, rel, was, now, when="applied"):
    return ("Revision %s (%s) was changed after it was applied: checksum %s when %s, %s now "
            "(luamig stamp --resync %s records a deliberate edit)" % (rev, rel, was, when, now,
                                                                      rev))


def warnings(r):
    return [l[len(LOGGER):] for l in r.err.split("\n") if l.startswith(LOGGER)]


def state(p):
    """What must not change: the version rows, every history row, the tables."""
    return (p.tables(), p.version_rows(),
            [tuple(map(str, r)) for r in p.sql("SELECT * FROM luamig_history ORDER BY id")])


class Checksums(unittest.TestCase):
    def test_every_command_warns_about_an_edited_revision(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                self.assertEqual(warnings(p.ok("current")), [])
                # past the header cache's racy second, the checksums come from the cache
                time.sleep(1.1)
                self.assertEqual(warnings(p.ok("current")), [])
                was, now = edit(p)
                want = [drift("aaaa1111", FILE1, was, now)]
                r = p.ok("current")
                self.assertEqual(r.out, "bbbb2222 (head)\n")
                self.assertEqual(warnings(r), want)
                r = p.ok("check")
                self.assertEqual(r.out, "No new upgrade operations detected.\n")
                self.assertEqual(warnings(r), want)
                for args in (["upgrade", "head"], ["downgrade", "bbbb2222"],
                             ["stamp", "bbbb2222"], ["history", "-i"]):
                    self.assertEqual(warnings(p.ok(*args)), want, args)
                p.set_option("checksums", "off")
                self.assertEqual(warnings(p.ok("current")), [])
                p.set_option("checksums", "warn")
                # stamped below it, aaaa1111 is no longer applied: nothing to compare
                p.ok("stamp", "base")
                self.assertEqual(warnings(p.ok("current")), [])

    def test_error_refuses_every_command_and_changes_nothing(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                p.set_option("checksums", "error")
                p.revision_file("cccc3333", down="bbbb2222", up=T3)
                was, now = edit(p)
                want = "FAILED: " + drift("aaaa1111", FILE1, was, now)
                before = state(p)
                for args in (["current"], ["check"], ["upgrade", "head"], ["downgrade", "base"],
                             ["stamp", "base"]):
                    r = p.fails(*args)
                    self.assertEqual(r.out, "", args)
                    lines = [l for l in r.err.split("\n") if l and not l.startswith("INFO ")]
                    self.assertEqual(lines, [want], args)
                    self.assertEqual(state(p), before, args)

    def test_line_endings_and_byte_order_mark_are_no_edit(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                text = raw(p, FILE1)
                recorded = p.sql("SELECT checksum FROM luamig_history WHERE revision = "
                                 "'aaaa1111'")[0][0]
                self.assertEqual(recorded, v2(text))
                crlf = text.replace(b"\n", b"\r\n")
                for variant in (crlf, b"\xef\xbb\xbf" + text, b"\xef\xbb\xbf" + crlf):
                    put(p, FILE1, variant)
                    self.assertEqual(warnings(p.ok("current")), [], variant[:20])
                # an edit under CRLF is still an edit
                put(p, FILE1, crlf + b"-- edited\r\n")
                self.assertEqual(warnings(p.ok("current")), [
                    drift("aaaa1111", FILE1, recorded, v2(text + b"-- edited\n"))])

                # rows as luamig wrote them before the scheme was named compare by that
                # scheme: no revision looks edited after an upgrade of luamig
                p.sql_exec("UPDATE luamig_history SET checksum = '%s' WHERE revision = "
                           "'aaaa1111'" % v1(text))
                put(p, FILE1, crlf)
                self.assertEqual(warnings(p.ok("current")), [])
                put(p, FILE1, text + b"-- edited\n")
                self.assertEqual(warnings(p.ok("current")),
                                 [drift("aaaa1111", FILE1, v1(text), v1(text + b"-- edited\n"))])
                # a value in no known scheme is said so, not taken for an edit
                p.sql_exec("UPDATE luamig_history SET checksum = 'sha512:00ff' WHERE revision = "
                           "'aaaa1111'")
                self.assertEqual(warnings(p.ok("current")), [
                    "Revision aaaa1111 (%s) cannot be compared with the history table: checksum "
                    "'sha512:00ff' is in a scheme this luamig does not know" % FILE1])

    def test_validate(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                r = p.ok("validate")
                self.assertEqual((r.out, warnings(r)), ("No problems found.\n", []))
                # drift, even with checksums = off (the command asks for it)
                p.set_option("checksums", "off")
                was, now = edit(p)
                r = p.fails("validate")
                self.assertEqual(r.out, drift("aaaa1111", FILE1, was, now) + "\n")
                self.assertEqual(warnings(r), [])
                self.assertEqual(r.err.split("\n")[-2], "FAILED: Validation found 1 problem")
                p.ok("stamp", "--resync", "aaaa1111")
                self.assertEqual(p.ok("validate").out, "No problems found.\n")
                # missing: the history says cccc3333 ran and was never undone; its file is gone
                p.revision_file("cccc3333", down="bbbb2222", up=T3)
                p.ok("upgrade", "head")
                p.ok("stamp", "bbbb2222")
                os.remove(p.path(FILE3))
                # unknown: a version-table row no file names
                p.sql_exec("INSERT INTO luamig_version (version_num) VALUES ('ffff9999')")
                before = state(p)
                r = p.fails("validate")
                self.assertEqual(r.out.split("\n"), [
                    "Can't locate revision identified by 'ffff9999' (a row of the version "
                    "table luamig_version)",
                    "Revision cccc3333 was applied (history table luamig_history) but has no "
                    "file in the script directory", ""])
                self.assertEqual(r.err.split("\n")[-2], "FAILED: Validation found 2 problems")
                self.assertEqual(state(p), before)

    def test_validate_without_history_table(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend, history=False)
                edit(p)
                self.assertEqual(p.ok("validate").out,
                                 "Checksums are not recorded: no history_table is configured\n"
                                 "No problems found.\n")
                p.set_option("history_table", "luamig_history")
                self.assertEqual(p.ok("validate").out,
                                 "Checksums are not recorded: the history table luamig_history "
                                 "does not exist yet\nNo problems found.\n")
                self.assertNotIn("luamig_history", p.tables())
                p.set_option("history_table", "")
                p.sql_exec("UPDATE luamig_version SET version_num = 'ffff9999'")
                r = p.fails("validate")
                self.assertEqual(r.out, "Can't locate revision identified by 'ffff9999' (a row "
                                        "of the version table luamig_version)\n"
                                        "Checksums are not recorded: no history_table is "
                                        "configured\n")

    def test_stamp_resync_records_a_deliberate_edit(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                p.set_option("checksums", "error")
                was, now = edit(p)
                p.fails("current")
                r = p.ok("stamp", "--resync", "aaaa")
                self.assertIn("INFO  [luamig.runtime.migration] Recorded the checksum of revision "
                              "aaaa1111 (%s) as it is now\n" % FILE1, r.err)
                self.assertEqual(p.version_rows(), ["bbbb2222"])
                rows = p.sql("SELECT revision, operation, from_revisions, to_revisions, checksum "
                             "FROM luamig_history ORDER BY id")
                self.assertEqual([tuple(map(str, x)) for x in rows[-1:]],
                                 [("aaaa1111", "resync", "bbbb2222", "bbbb2222", now)])
                self.assertEqual(p.ok("current").err.count("WARNING"), 0)
                # the resync row is now what the file is compared with
                p.set_option("checksums", "warn")
                _, newer = edit(p, text=b"-- and again\n")
                self.assertEqual(warnings(p.ok("current")),
                                 [drift("aaaa1111", FILE1, now, newer, "resynced")])
                # a downgrade and a rerun record the file anew
                self.assertEqual(warnings(p.ok("downgrade", "base")),
                                 [drift("aaaa1111", FILE1, now, newer, "resynced")])
                p.ok("upgrade", "head")
                self.assertEqual(warnings(p.ok("current")), [])
                self.assertEqual(p.sql("SELECT checksum FROM luamig_history WHERE revision = "
                                       "'aaaa1111' ORDER BY id DESC")[0][0], newer)

    def test_stamp_resync_refusals(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend)
                p.revision_file("cccc3333", down="bbbb2222", up=T3)
                before = state(p)
                r = p.fails("stamp", "--resync", "cccc3333")
                self.assertTrue(r.err.endswith(
                    "FAILED: Revision cccc3333 is not applied to the database: stamp --resync "
                    "records an edit of an applied revision\n"), r.err)
                self.assertEqual(state(p), before)
                p.set_option("history_table", "")
                r = p.fails("stamp", "--resync", "aaaa1111")
                self.assertTrue(r.err.endswith(
                    "FAILED: stamp --resync records checksums in the history table: set "
                    "history_table in luamig.ini (or in context.configure)\n"), r.err)
                self.assertEqual(state(p), before)


if __name__ == "__main__":
    main()
