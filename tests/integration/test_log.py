"""`luamig log`: the audit history table (history_table) read back — who,
when, revision, direction, duration, success, error — filtered by revision,
time and outcome, as a table or as JSON, on SQLite and PostgreSQL. The
generic template turns the history on; an ini without history_table keeps
Alembic's behaviour, and `log` then says there is nothing to read."""
import json
import os
import pwd
import re
import unittest

from luamigtest import Project, backends, main

T1 = '  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))'
T2 = '  op.create_table("t2", sa.Column("id", sa.Integer, { primary_key = true }))'
BAD = '  op.execute("SELECT nosuch FROM nowhere")'
USER = pwd.getpwuid(os.getuid()).pw_name
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def project(test, backend):
    """A project from the template as `init` writes it (history on)."""
    p = Project(test, backend, history=True)
    p.revision_file("aaaa1111", up=T1, downgrade='  op.drop_table("t1")', message="t one")
    p.revision_file("bbbb2222", down="aaaa1111", up=T2, downgrade='  op.drop_table("t2")',
                    message="t two")
    return p


def normalized(text):
    """The log with what changes from run to run (time, duration, pid) replaced."""
    text = STAMP.sub("<time>", text)
    text = re.sub(r"\b\d+ ms\b", "<n> ms", text)
    text = re.sub(r" pid \d+", " pid <pid>", text)
    # columns are as wide as their widest cell: squeeze runs of spaces
    return re.sub(r" {2,}", "  ", text)


class Log(unittest.TestCase):
    def test_log_lists_every_step_on_both_databases(self):
        for backend in backends():
            with self.subTest(backend=backend):
                self.log_lists_every_step(backend)

    def log_lists_every_step(self, backend):
        p = project(self, backend)
        self.assertIn("\nhistory_table = luamig_history\n", p.read("luamig.ini"))
        # nothing has run: the table is not there yet, and there is nothing to list (SQLite:
        # not even the database file, which log does not create)
        if backend == "sqlite":
            self.assertIn("'luamig log' only reads a database", p.fails("-q", "log").err)
        else:
            self.assertEqual(p.ok("-q", "log").out, "")
        p.ok("upgrade", "head", env={"USER": "somebody_else", "LOGNAME": "somebody_else"})
        p.ok("downgrade", "-1")
        p.ok("stamp", "head")
        p.revision_file("cccc3333", down="bbbb2222", up=BAD, message="bad one")
        p.fails("upgrade", "head")
        host = os.uname().nodename
        by = "%s@%s pid <pid>" % (USER, host)
        r = p.ok("-q", "log")
        self.assertEqual(r.err, "")
        error = ("upgrade of revision cccc3333 failed at migrations/versions/0003_cccc3333.lua:11: ")
        lines = normalized(r.out).split("\n")
        self.assertEqual(lines[:6], [
            "ID  APPLIED AT (UTC)  OPERATION  REVISION  FROM -> TO  RESULT  DURATION  BY  MESSAGE",
            "1  <time>  upgrade  aaaa1111  <base> -> aaaa1111  ok  <n> ms  %s  t one" % by,
            "2  <time>  upgrade  bbbb2222  aaaa1111 -> bbbb2222  ok  <n> ms  %s  t two" % by,
            "3  <time>  downgrade  bbbb2222  bbbb2222 -> aaaa1111  ok  <n> ms  %s  t two" % by,
            "4  <time>  stamp  bbbb2222  aaaa1111 -> bbbb2222  ok  <n> ms  %s" % by,
            "5  <time>  upgrade  cccc3333  bbbb2222 -> cccc3333  FAILED  <n> ms  %s  bad one" % by,
        ])
        self.assertTrue(lines[6].startswith("  error: " + error), lines[6])
        self.assertIn("nowhere", lines[6])

        # the times are UTC, and columns line up
        when = STAMP.findall(r.out)
        self.assertEqual(len(when), 5)
        raw = r.out.split("\n")
        for k in range(1, 6):
            self.assertEqual(raw[k].index(when[k - 1]), raw[0].index("APPLIED AT"), raw[k])
            self.assertEqual(raw[k].index(" ok " if k < 5 else " FAILED "),
                             raw[0].index(" RESULT "), raw[k])

        # filters
        def ids(*args):
            out = p.ok("-q", "log", *args).out
            return [l.split()[0] for l in out.split("\n")[1:] if l and not l.startswith(" ")]
        self.assertEqual(ids("--failed"), ["5"])
        self.assertEqual(ids("--succeeded"), ["1", "2", "3", "4"])
        self.assertEqual(ids("-r", "bbbb2222"), ["2", "3", "4"])
        self.assertEqual(ids("--revision", "bbbb"), ["2", "3", "4"])
        self.assertEqual(ids("-r", "head", "--succ"), [])  # cccc3333 never succeeded
        self.assertEqual(ids("-r", "head"), ["5"])
        self.assertEqual(ids("--since", when[0][:10]), ["1", "2", "3", "4", "5"])
        self.assertEqual(ids("--until", when[0][:10]), ["1", "2", "3", "4", "5"])
        self.assertEqual(ids("--since", "2999-01-01"), [])
        self.assertEqual(p.ok("-q", "log", "--until", "2000-01-01 00:00").out, "")
        self.assertEqual(ids("--since", when[4]),
                         [str(k + 1) for k in range(5) if when[k] >= when[4]])
        self.assertEqual(ids("--until", when[0]),
                         [str(k + 1) for k in range(5) if when[k] <= when[0]])

        # JSON: one document, every field
        doc = json.loads(p.ok("-q", "log", "--json").out)
        self.assertEqual(doc["format"], 1)
        self.assertEqual(doc["table"], "luamig_history")
        self.assertEqual([r["id"] for r in doc["rows"]], [1, 2, 3, 4, 5])
        first, stamp, failed = doc["rows"][0], doc["rows"][3], doc["rows"][4]
        self.assertEqual(sorted(first), sorted([
            "id", "applied_at", "revision", "operation", "from_revisions", "to_revisions",
            "message", "success", "error", "duration_ms", "applied_by", "checksum",
            "luamig_version"]))
        self.assertEqual((first["revision"], first["operation"], first["from_revisions"],
                          first["to_revisions"], first["message"], first["success"],
                          first["error"]),
                         ("aaaa1111", "upgrade", [], ["aaaa1111"], "t one", True, None))
        self.assertRegex(first["applied_by"], r"^%s@%s pid \d+$" % (re.escape(USER),
                                                                    re.escape(host)))
        self.assertIsInstance(first["duration_ms"], int)
        self.assertRegex(first["checksum"], r"^[a-z0-9-]+:[0-9a-f]{16}$")
        self.assertEqual(first["applied_at"], when[0])
        self.assertEqual((stamp["operation"], stamp["checksum"], stamp["message"]),
                         ("stamp", None, None))
        self.assertEqual((failed["success"], failed["revision"]), (False, "cccc3333"))
        self.assertTrue(failed["error"].startswith(error), failed["error"])
        self.assertEqual(json.loads(p.ok("-q", "log", "--json", "--since", "2999-01-01").out),
                         {"format": 1, "table": "luamig_history", "rows": []})

    def test_applied_by_is_the_operating_system_user(self):
        p = project(self, "sqlite")
        p.ok("upgrade", "head", env={"USER": "mallory", "LOGNAME": "mallory"})
        by = p.sql("SELECT DISTINCT applied_by FROM luamig_history")
        self.assertEqual(len(by), 1)
        self.assertTrue(by[0][0].startswith(USER + "@"), by)

    def test_without_a_history_table(self):
        p = Project(self, "sqlite")  # the history_table line removed: Alembic's behaviour
        p.revision_file("aaaa1111", up=T1)
        p.ok("upgrade", "head")
        self.assertEqual(p.tables(), ["luamig_version", "t1"])
        r = p.fails("-q", "log")
        self.assertEqual(r.out, "")
        self.assertEqual(r.err, "FAILED: No history table is configured: set history_table "
                                "(e.g. history_table = luamig_history) in %s to keep one\n"
                         % p.path("luamig.ini"))

    def test_a_duration_edited_by_hand(self):
        """The duration column is luamig's integer, but SQLite keeps what a hand edit puts
        there: 1.5 is shown rounded, 1e300 and text as no duration, in the table and in JSON."""
        p = project(self, "sqlite")
        p.ok("upgrade", "head")
        p.sql_exec("UPDATE luamig_history SET duration_ms = 1.5 WHERE revision = 'aaaa1111'")
        p.sql_exec("UPDATE luamig_history SET duration_ms = 1e300 WHERE revision = 'bbbb2222'")
        lines = p.ok("-q", "log").out.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertRegex(lines[1], r" aaaa1111 .* ok +2 ms ")
        self.assertRegex(lines[2], r" bbbb2222 .* ok +%s@" % re.escape(USER))
        rows = json.loads(p.ok("-q", "log", "--json").out)["rows"]
        self.assertEqual([r["duration_ms"] for r in rows], [2, None])

    def test_usage_errors(self):
        p = project(self, "sqlite")
        for args, line in [
            (["--failed", "--succeeded"],
             "argument --succeeded: not allowed with argument --failed"),
            (["--since", "yesterday"], "argument --since: invalid time: 'yesterday' "
             "(use YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS)"),
            (["--until", "2026-02-30 25:00"], "argument --until: invalid time: "
             "'2026-02-30 25:00' (use YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS)"),
            (["-r"], "argument -r/--revision: expected one argument"),
            (["extra"], "unrecognized arguments: extra"),
        ]:
            with self.subTest(args=args):
                r = p.fails("log", *args, rc=2)
                self.assertEqual(r.err, "luamig log: error: %s (see 'luamig log --help')\n"
                                 % line)
                self.assertEqual(r.out, "")
        self.assertFalse(os.path.exists(p.db_path))


if __name__ == "__main__":
    main()
