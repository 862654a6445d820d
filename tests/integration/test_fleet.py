"""Fleets: `luamig --fleet NAME <command>` runs the command on every target of [fleet:NAME]
(one luamig per target, --parallel N at a time). 20 SQLite files and 20 PostgreSQL schemas
are upgraded in parallel, each checked in its own catalog, version table and history; a
broken target fails alone and is reported in the table (exit 1), the others reach head; a
rerun after the fix is idempotent; --fail-fast skips what was not started; --json gives one
event per target and a summary; a second fleet runner waits on the first one's per-target
locks and finishes without deadlock; a password in a target's URL is never in a child's
argv nor in the output; bad fleet settings give one line and change nothing."""
import json
import os
import re
import sqlite3
import subprocess
import time
import unittest

import pg
from luamigtest import LUAMIG, Project, main

R1_UP = ('  op.create_table("account", sa.Column("id", sa.Integer, { primary_key = true }),\n'
         '    sa.Column("name", sa.String(50)))')
R2_UP = '  op.add_column("account", sa.Column("email", sa.String(100)))'
NAMES = ["t%02d" % i for i in range(1, 21)]


def project(test, backend="sqlite", history=False):
    p = Project(test, backend, history=history)
    p.revision_file("r1", up=R1_UP, downgrade='  op.drop_table("account")')
    p.revision_file("r2", down="r1", up=R2_UP, downgrade='  op.drop_column("account", "email")')
    return p


def add_fleet(p, name, key, lines):
    with open(p.path("luamig.ini"), "a") as f:
        f.write("\n[fleet:%s]\n%s =\n%s\n" % (name, key, "".join("    %s\n" % l for l in lines)))


def table_rows(out):
    """The fleet table's rows (after its TARGET header, before the fleet line) by target."""
    rows, seen_header = {}, False
    for line in out.splitlines():
        if line.startswith("TARGET "):
            seen_header = True
            continue
        if not seen_header or line.startswith("fleet "):
            continue
        cols = re.split(r"\s{2,}", line, maxsplit=5)
        rows[cols[0]] = cols
    return rows


def sqlite_state(path):
    con = sqlite3.connect(path)
    try:
        versions = sorted(r[0] for r in con.execute("SELECT version_num FROM luamig_version"))
        cols = [r[1] for r in con.execute("PRAGMA table_info(account)")]
        return versions, cols
    finally:
        con.close()


class SqliteFleet(unittest.TestCase):
    def test_twenty_files_in_parallel_one_broken_then_fixed(self):
        p = project(self)
        lines = ["%s sqlite:///%s/%s.db" % (n, "missing" if n == "t07" else "dbs", n) for n in NAMES]
        os.makedirs(p.path("dbs"))
        add_fleet(p, "tenants", "targets", lines)
        r = p.fails("--fleet", "tenants", "--parallel", "4", "upgrade", "head")
        rows = table_rows(r.out)
        self.assertEqual(sorted(rows), NAMES, r)
        for n in NAMES:
            if n == "t07":
                continue
            self.assertEqual(rows[n][1:4], ["ok", "base", "r2"], r)
            self.assertEqual(sqlite_state(p.path("dbs", n + ".db")),
                             (["r2"], ["id", "name", "email"]))
        self.assertEqual(rows["t07"][1], "failed", r)
        self.assertIn("unable to open database file 'missing/t07.db'", rows["t07"][5])
        self.assertIn("fleet tenants: upgrade on 20 targets: 19 ok, 1 failed, 0 skipped", r.out)
        # each target's log lines carry its name
        self.assertIn("[t03] INFO  [luamig.runtime.migration] Running upgrade r1 -> r2", r.err)

        # fixed: only t07 has anything to do
        os.makedirs(p.path("missing"))
        r = p.ok("--fleet", "tenants", "--parallel", "4", "upgrade", "head")
        rows = table_rows(r.out)
        self.assertEqual(rows["t07"][1:4], ["ok", "base", "r2"], r)
        self.assertTrue(all(rows[n][1:4] == ["ok", "r2", "r2"] for n in NAMES if n != "t07"), r)
        self.assertEqual(re.findall(r"\[(\w+)\] INFO .*Running upgrade", r.err), ["t07", "t07"])
        self.assertEqual(sqlite_state(p.path("missing", "t07.db")), (["r2"], ["id", "name", "email"]))

    def test_fail_fast_skips_what_did_not_start(self):
        p = project(self)
        os.makedirs(p.path("dbs"))
        add_fleet(p, "f", "targets", ["a sqlite:///dbs/a.db", "b sqlite:///nowhere/b.db",
                                      "c sqlite:///dbs/c.db", "d sqlite:///dbs/d.db"])
        r = p.fails("--fleet", "f", "--fail-fast", "upgrade", "head")
        rows = table_rows(r.out)
        self.assertEqual([rows[n][1] for n in "abcd"], ["ok", "failed", "skipped", "skipped"], r)
        self.assertEqual(rows["c"][2:5], ["?", "?", "-"], r)
        self.assertIn("1 ok, 1 failed, 2 skipped", r.out)
        self.assertEqual(sorted(os.listdir(p.path("dbs"))), ["a.db"])
        # without it, the others still run
        r = p.fails("--fleet", "f", "upgrade", "head")
        self.assertEqual([table_rows(r.out)[n][1] for n in "abcd"], ["ok", "failed", "ok", "ok"], r)

    def test_json_events(self):
        p = project(self)
        os.makedirs(p.path("dbs"))
        add_fleet(p, "f", "targets", ["a sqlite:///dbs/a.db", "b sqlite:///nowhere/b.db",
                                      "c sqlite:///dbs/c.db"])
        r = p.fails("--fleet", "f", "--parallel", "2", "upgrade", "head", "--json")
        events = [json.loads(line) for line in r.out.splitlines()]
        targets = {e["target"]: e for e in events if e["event"] == "target"}
        self.assertEqual(sorted(targets), ["a", "b", "c"])
        a = targets["a"]
        self.assertEqual((a["format"], a["command"], a["status"], a["before"], a["after"],
                          a["error"], a["exit_status"]), (1, "upgrade", "ok", [], ["r2"], None, 0))
        # the target's own event stream, whole
        self.assertEqual([e["event"] for e in a["output"]][-1], "summary")
        self.assertEqual(a["output"][-1]["heads"], ["r2"])
        b = targets["b"]
        self.assertEqual((b["status"], b["before"], b["after"]), ("failed", None, None))
        self.assertIn("unable to open database file 'nowhere/b.db'", b["error"])
        self.assertEqual(b["output"][-1]["event"], "error")
        last = events[-1]
        self.assertEqual({k: last[k] for k in ("event", "fleet", "status", "targets", "ok",
                                               "failed", "skipped")},
                         {"event": "fleet_summary", "fleet": "f", "status": "failed",
                          "targets": 3, "ok": 2, "failed": 1, "skipped": 0})
        # current's documents
        os.makedirs(p.path("nowhere"))
        r = p.ok("--fleet", "f", "upgrade", "head")
        r = p.ok("--fleet", "f", "current", "--json")
        ev = [json.loads(line) for line in r.out.splitlines()]
        self.assertEqual(ev[0]["output"][0]["version_rows"], ["r2"])
        self.assertEqual(ev[-1]["status"], "ok")

    def test_json_keeps_a_revision_line_that_only_looks_like_json_out(self):
        """A revision printing '{ rows: 3 }' in a target: the fleet's --json stream stays one
        JSON value a line, and the target's output holds the child's own events only."""
        p = Project(self, "sqlite")
        p.revision_file("r1", up='  print("{ rows: 3 }")\n  print(\'{"rows": [1,}\')')
        add_fleet(p, "f", "targets", ["a sqlite:///a.db"])
        r = p.ok("--fleet", "f", "upgrade", "head", "--json")
        events = [json.loads(line) for line in r.out.splitlines()]
        a = [e for e in events if e["event"] == "target"][0]
        self.assertEqual(a["status"], "ok")
        self.assertEqual([e["event"] for e in a["output"]][-1], "summary")
        self.assertNotIn("rows", json.dumps(a["output"]))

    def test_targets_from_a_lua_file(self):
        p = project(self)
        p.write("tenants.lua", 'return function(fleet, config)\n'
                '  local t = {}\n'
                '  for i = 1, 3 do t[i] = { name = fleet .. i, url = "sqlite:///" .. fleet .. i .. ".db" } end\n'
                '  return t\nend\n')
        with open(p.path("luamig.ini"), "a") as f:
            f.write("\n[fleet:x]\nlua = tenants.lua\n")
        r = p.ok("--fleet", "x", "--parallel", "3", "upgrade", "r1")
        self.assertEqual(sorted(table_rows(r.out)), ["x1", "x2", "x3"], r)
        for i in (1, 2, 3):
            self.assertEqual(sqlite_state(p.path("x%d.db" % i)), (["r1"], ["id", "name"]))
        # current, upgrade and downgrade go through the fleet too
        r = p.ok("--fleet", "x", "current")
        self.assertIn("[x2] r1", r.out)
        self.assertEqual(table_rows(r.out)["x3"][1:4], ["ok", "r1", "r1"], r)
        p.ok("--fleet", "x", "--parallel", "2", "upgrade", "head")
        r = p.ok("--fleet", "x", "--parallel", "2", "downgrade", "-1")
        self.assertEqual(table_rows(r.out)["x1"][1:4], ["ok", "r2", "r1"], r)
        self.assertEqual(sqlite_state(p.path("x1.db")), (["r1"], ["id", "name"]))

    def test_bad_fleet_settings(self):
        p = project(self)
        add_fleet(p, "dup", "targets", ["a sqlite:///a.db", "a sqlite:///b.db"])
        add_fleet(p, "bad", "targets", ["a sqlite:///a.db", "just-a-name"])
        add_fleet(p, "schemas", "schemas", ["s1 s2"])
        cases = [
            (["--fleet", "nope", "upgrade", "head"], 1,
             "FAILED: No fleet 'nope' in %s: it has no [fleet:nope] section (fleets: dup, bad, "
             "schemas)" % os.path.realpath(p.path("luamig.ini"))),
            (["--fleet", "dup", "upgrade", "head"], 1,
             "FAILED: [fleet:dup] targets: target 'a' is named twice"),
            (["--fleet", "bad", "upgrade", "head"], 1,
             "FAILED: [fleet:bad] targets, line 3: expected '<name> <url>', got 'just-a-name'"),
            (["--fleet", "schemas", "upgrade", "head"], 1,
             "FAILED: [fleet:schemas] schemas: sqlite has no schemas (tenants as schemas need "
             "PostgreSQL); the url is sqlite:///app.db"),
            (["--fleet", "dup", "--parallel", "0", "upgrade", "head"], 2,
             "luamig: error: argument --parallel: invalid value: '0' (a whole number from 1 to "
             "1024) (see 'luamig --help')"),
            (["--fleet", "dup", "--parallel", "two", "upgrade", "head"], 2,
             "luamig: error: argument --parallel: invalid value: 'two' (a whole number from 1 to "
             "1024) (see 'luamig --help')"),
            (["--parallel", "2", "upgrade", "head"], 2,
             "luamig: error: argument --parallel: only with --fleet (see 'luamig --help')"),
            (["--fleet", "dup", "heads"], 2,
             "luamig heads: error: argument --fleet: not allowed with the command heads "
             "(see 'luamig heads --help')"),
            (["--fleet", "dup", "upgrade", "head", "--sql"], 2,
             "luamig upgrade: error: argument --sql: not allowed with argument --fleet "
             "(see 'luamig upgrade --help')"),
        ]
        for args, rc, line in cases:
            r = p.run(*args)
            self.assertEqual((r.rc, r.err), (rc, line + "\n"), r)
            self.assertEqual(r.out, "", r)
            self.assertEqual([f for f in os.listdir(p.dir) if f.endswith(".db")], [], r)


class PostgresqlFleet(unittest.TestCase):
    def setUp(self):
        pg.skip_unless_available()

    def schemas_project(self, n=20, history=True):
        p = project(self, "postgresql", history=history)
        names = ["tenant_%02d" % i for i in range(1, n + 1)]
        pg.psql(p.url, "".join("CREATE SCHEMA %s;" % s for s in names))
        add_fleet(p, "tenants", "schemas", [" ".join(names[:n // 2]), " ".join(names[n // 2:])])
        return p, names

    def test_twenty_schemas_in_parallel_one_broken_then_fixed(self):
        p, names = self.schemas_project()
        # tenant_07 already has an account table: its first migration fails there only
        pg.psql(p.url, "CREATE TABLE tenant_07.account (id integer);")
        r = p.fails("--fleet", "tenants", "--parallel", "4", "upgrade", "head")
        rows = table_rows(r.out)
        self.assertEqual(sorted(rows), names, r)
        self.assertEqual(rows["tenant_07"][1:4], ["failed", "base", "base"], r)
        self.assertIn('relation "account" already exists', rows["tenant_07"][5])
        for s in names:
            if s == "tenant_07":
                continue
            self.assertEqual(rows[s][1:4], ["ok", "base", "r2"], r)
            self.assertEqual(pg.psql(p.url, "SELECT version_num FROM %s.luamig_version" % s),
                             [("r2",)])
            self.assertEqual(pg.psql(p.url, "SELECT column_name FROM information_schema.columns "
                                     "WHERE table_schema = '%s' AND table_name = 'account' "
                                     "ORDER BY ordinal_position" % s),
                             [("id",), ("name",), ("email",)])
            # its own audit history, beside its own version table
            self.assertEqual(pg.psql(p.url, "SELECT revision, success FROM %s.luamig_history "
                                     "ORDER BY id" % s), [("r1", "t"), ("r2", "t")])
        # the failure is in tenant_07's history, the rest rolled back; public has nothing
        self.assertEqual(pg.psql(p.url, "SELECT revision, success FROM "
                                 "tenant_07.luamig_history"), [("r1", "f")])
        self.assertEqual(pg.table_names(p.url, "tenant_07"), ["account", "luamig_history"])
        self.assertEqual(pg.table_names(p.url), [])

        pg.psql(p.url, "DROP TABLE tenant_07.account;")
        r = p.ok("--fleet", "tenants", "--parallel", "4", "upgrade", "head")
        rows = table_rows(r.out)
        self.assertEqual(rows["tenant_07"][1:4], ["ok", "base", "r2"], r)
        self.assertEqual(rows["tenant_01"][1:4], ["ok", "r2", "r2"], r)
        # the others had nothing to do
        self.assertEqual(re.findall(r"\[(\w+)\] INFO .*Running upgrade", r.err),
                         ["tenant_07", "tenant_07"])

    def test_second_fleet_runner_waits_on_the_locks(self):
        p, names = self.schemas_project(n=8, history=True)
        p.revision_file("r3", down="r2", up='  op.execute("SELECT pg_sleep(1.5)")')
        args = [LUAMIG, "--fleet", "tenants", "--parallel", "4", "upgrade", "head"]
        first = subprocess.Popen(args, cwd=p.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        # once the first runner holds locks, start the second
        deadline = time.time() + 30
        while time.time() < deadline:
            if pg.advisory_locks(p.url) > 0:
                break
            time.sleep(0.02)
        second = subprocess.Popen(args, cwd=p.dir, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        out1, err1 = first.communicate(timeout=60)
        out2, err2 = second.communicate(timeout=60)
        self.assertEqual((first.returncode, second.returncode), (0, 0), err1 + err2)
        self.assertIn("Waiting for the migration lock", err2)
        for s in names:
            # every revision applied once, whichever runner applied it
            self.assertEqual(pg.psql(p.url, "SELECT revision FROM %s.luamig_history "
                                     "ORDER BY id" % s), [("r1",), ("r2",), ("r3",)])
        self.assertEqual(pg.advisory_locks(p.url), 0)

    def test_killing_the_fleet_stops_its_targets(self):
        p, names = self.schemas_project(n=2, history=False)
        p.ok("--fleet", "tenants", "upgrade", "head")
        p.revision_file("r3", down="r2", up='  op.execute("SELECT pg_sleep(60)")')
        fleet = subprocess.Popen([LUAMIG, "--fleet", "tenants", "--parallel", "2", "upgrade",
                                  "head"], cwd=p.dir, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline and pg.advisory_locks(p.url) != 2:
            time.sleep(0.05)
        fleet.kill()  # SIGKILL: the fleet's luamig cannot pass anything on
        fleet.communicate(timeout=30)
        # each target's luamig is told (SIGTERM): it rolls back and lets its lock go
        deadline = time.time() + 30
        while time.time() < deadline and (
                pg.advisory_locks(p.url) != 0 or
                pg.psql(p.url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                        "'SELECT pg_sleep(60)%' AND " + pg.THIS_DATABASE) != [("0",)]):
            time.sleep(0.1)
        self.assertEqual(pg.advisory_locks(p.url), 0)
        for s in names:
            self.assertEqual(pg.psql(p.url, "SELECT version_num FROM %s.luamig_version" % s),
                             [("r2",)])

    def test_password_never_in_argv_or_output(self):
        name = "fleet_pw_%d" % os.getpid()
        pg.create_database(name, owner="luamig_pw")
        self.addCleanup(pg.drop_database, name)
        p = project(self)
        good = pg.url(name, password=True, tcp=True)
        bad = pg.url(name + "_nosuch", password=True, tcp=True)
        p.revision_file("r3", down="r2", up='  op.execute("SELECT pg_sleep(0.5)")')
        add_fleet(p, "f", "targets", ["good " + good.replace("%", "%%"),
                                      "bad " + bad.replace("%", "%%")])
        proc = subprocess.Popen([LUAMIG, "--fleet", "f", "--parallel", "2", "upgrade", "head"],
                                cwd=p.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        argvs = []
        while proc.poll() is None:
            for pid in os.listdir("/proc"):
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argvs.append(f.read().decode(errors="replace"))
                except OSError:
                    pass
            time.sleep(0.05)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 1, out + err)
        rows = table_rows(out)
        self.assertEqual((rows["good"][1], rows["bad"][1]), ("ok", "failed"), out)
        self.assertIn("***", rows["bad"][5])
        for text in [out, err] + argvs:
            self.assertNotIn(pg.password(), text)
        self.assertTrue(any("--fleet" not in a and "upgrade" in a and "luamig" in a
                            for a in argvs), "no child was seen")


if __name__ == "__main__":
    main()
