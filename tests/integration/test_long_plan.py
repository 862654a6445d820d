"""A plan longer than luamig keeps compiled (2,000 steps) is checked file by
file before the first step and compiled again as each step runs: a syntax
error anywhere still stops the run before it touches the database. Such a plan
also stays in C (core.plan's proxy, made a step at a time): every command that
walks it — online, offline, --json, downgrade — sees every step once, in order."""
import json
import unittest

from luamigtest import Project, main

N = 2005


def write_history(p, broken_at=None):
    prev = None
    for i in range(1, N + 1):
        rid = "r%05d" % i
        body = '  op.execute("INSERT INTO trace VALUES (%d)")' % i
        if i == 1:
            body = '  op.execute("CREATE TABLE trace (n INTEGER)")\n' + body
        if i == broken_at:
            body += "\n  this is not lua"
        down = '  op.execute("DELETE FROM trace WHERE n = %d")' % i
        if i == 1:
            down = '  op.execute("DROP TABLE trace")'
        p.revision_file(rid, down=prev, up=body, downgrade=down, name="%s.lua" % rid)
        prev = rid


class LongPlan(unittest.TestCase):
    def test_long_plan_runs_every_step_once(self):
        p = Project(self, "sqlite")
        write_history(p)
        p.ok("-q", "upgrade", "head")
        self.assertEqual(p.version_rows(), ["r%05d" % N])
        self.assertEqual(p.sql("SELECT count(*), count(DISTINCT n), max(n) FROM trace"), [(N, N, N)])

    def test_long_plan_offline_json_and_downgrade(self):
        p = Project(self, "sqlite")
        write_history(p)
        sql = p.ok("upgrade", "head", "--sql").out
        self.assertEqual(sql.count("-- Running upgrade"), N)
        self.assertEqual(sql.count("INSERT INTO trace VALUES"), N)
        self.assertEqual(p.tables(), [])
        events = [json.loads(line) for line in p.ok("upgrade", "head", "--json").out.splitlines()]
        starts = [e["revision"] for e in events if e["event"] == "step_start"]
        self.assertEqual(starts, ["r%05d" % i for i in range(1, N + 1)])
        self.assertEqual(events[-1]["steps"], N)
        p.ok("-q", "downgrade", "base")
        self.assertEqual(p.version_rows(), [])
        self.assertNotIn("trace", p.tables())

    def test_syntax_error_late_in_a_long_plan_runs_nothing(self):
        p = Project(self, "sqlite")
        write_history(p, broken_at=N - 1)
        r = p.fails("-q", "upgrade", "head")
        self.assertIn("migrations/versions/r%05d.lua:12:" % (N - 1), r.err)
        self.assertEqual(p.tables(), [])


if __name__ == "__main__":
    main()
