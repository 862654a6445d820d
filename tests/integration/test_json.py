"""--json on every command (README, "Machine-readable output"): each listing, current, check and
lint print one JSON document that Python's json module parses and whose keys, types and values
match the documented schema; upgrade, downgrade and stamp print a JSON Lines event stream on
stdout (plan, lock wait and acquisition, step start and end with duration and statement count,
warning, summary) while the human log stays on stderr; a failure still exits 1 and ends the
stream with an error event naming the revision and file:line. Hostile revision messages
(quotes, newlines, control characters, bytes that are not UTF-8) still give valid JSON, and a
password never appears."""
import fcntl
import json
import os
import subprocess
import threading
import time
import unittest

from luamigtest import LUAMIG, TMP_ROOT, Project, backends, main

REVISION_KEYS = {
    "revision": str, "down_revisions": list, "depends_on": list, "branch_labels": list,
    "next": list, "is_head": bool, "is_branch_point": bool, "is_merge_point": bool,
    "message": str, "doc": str, "path": str, "create_date": (str, type(None)),
    "current": (bool, type(None)),
}

STEP_KEYS = {"index": int, "revision": (str, type(None)), "direction": str, "from": list,
             "to": list, "message": (str, type(None))}

R1 = """  op.create_table("hero", sa.Column("id", sa.Integer, { primary_key = true }))
  op.execute("INSERT INTO hero (id) VALUES (1)")
  op.execute("INSERT INTO hero (id) VALUES (2)")"""


CHECK_ENV = """\
local luamig = require "luamig"
local config = context.config
package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path
local connection = luamig.connect(config.get_main_option("url"))
context.configure { connection = connection, target_metadata = require "models" }
context.begin_transaction(function() context.run_migrations() end)
connection:close()
"""


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "-> %d\n--- stdout\n%s--- stderr\n%s" % (self.rc, self.out, self.err)


def run(p, *args, rc=0):
    """Runs luamig in p; stdout must be UTF-8 (JSON is), stderr may hold any bytes (the human
    log shows a revision's message as it is)."""
    env = dict(os.environ)
    env.pop("LUAMIG_CONFIG", None)
    env.setdefault("LUAMIG_CACHE_DIR", os.path.join(TMP_ROOT, "cache"))
    proc = subprocess.run([LUAMIG] + list(args), cwd=p.dir, env=env, capture_output=True,
                          timeout=120)
    r = Run(proc.returncode, proc.stdout.decode("utf-8"),
            proc.stderr.decode("utf-8", errors="replace"))
    p.test.assertEqual(r.rc, rc, repr(r))
    return r


def document(test, r):
    """The one JSON document of a command's stdout."""
    test.assertEqual(r.out.count("\n"), 1, repr(r))
    doc = json.loads(r.out)
    test.assertEqual(doc["format"], 1)
    return doc


def verdict(test, r, message):
    """The document of a command that failed on what it found (lint, check): the document,
    then the final error event with the failure's message."""
    lines = r.out.splitlines()
    test.assertEqual(len(lines), 2, repr(r))
    doc, err = json.loads(lines[0]), json.loads(lines[1])
    test.assertEqual(doc["format"], 1)
    test.assertEqual((err["event"], err["command"], err["message"]),
                     ("error", doc["command"], message))
    return doc


def events(test, r):
    """The JSON Lines of a run's stdout: every line one event object."""
    out = []
    for line in r.out.splitlines():
        e = json.loads(line)
        test.assertEqual(e["format"], 1, line)
        test.assertIsInstance(e["event"], str, line)
        out.append(e)
    return out


def check_keys(test, obj, keys):
    test.assertEqual(set(obj), set(keys), obj)
    for k, ty in keys.items():
        test.assertIsInstance(obj[k], ty, (k, obj))


def hostile_message_file(p, rev, down):
    """A revision file whose docstring holds quotes, a backslash, a tab, control characters and
    bytes that are not UTF-8 (written as bytes: no text encoding could)."""
    body = (b'--[[ say "hi" \\ there\t\x01\x1b[31m \xff\xfe caf\xc3\xa9 \xed\xa0\x80\n\n'
            b'second "paragraph"\n]]\nrevision = "' + rev.encode() + b'"\ndown_revision = '
            + (b'"' + down.encode() + b'"' if down else b"nil")
            + b"\nfunction upgrade() end\nfunction downgrade() end\n")
    path = p.path("migrations", "versions", "%s_hostile.lua" % rev)
    with open(path, "wb") as f:
        f.write(body)


class Listings(unittest.TestCase):
    """heads, branches, history and show read only revision files: one project is enough."""

    def setUp(self):
        p = self.p = Project(self, "sqlite")
        p.revision_file("a1", message="base of all")
        p.revision_file("b1", down="a1", branch_labels=["feature"])
        p.revision_file("c1", down="a1")
        p.revision_file("m1", down=["b1", "c1"], message="merge")

    def test_heads(self):
        doc = document(self, run(self.p, "heads", "--json"))
        self.assertEqual(set(doc), {"format", "command", "heads"})
        self.assertEqual(doc["command"], "heads")
        self.assertEqual([h["revision"] for h in doc["heads"]], ["m1"])
        h = doc["heads"][0]
        check_keys(self, h, REVISION_KEYS)
        self.assertEqual(h["down_revisions"], ["b1", "c1"])
        self.assertTrue(h["is_head"] and h["is_merge_point"])
        self.assertFalse(h["is_branch_point"])
        self.assertIsNone(h["current"])
        self.assertTrue(h["path"].endswith("0004_m1.lua"), h["path"])
        self.assertEqual(h["message"], "merge")

    def test_branches(self):
        doc = document(self, run(self.p, "branches", "--json"))
        self.assertEqual(doc["command"], "branches")
        self.assertEqual([b["revision"] for b in doc["branch_points"]], ["a1"])
        a = doc["branch_points"][0]
        check_keys(self, a, REVISION_KEYS)
        self.assertEqual(sorted(a["next"]), ["b1", "c1"])
        self.assertTrue(a["is_branch_point"])
        self.assertEqual(a["down_revisions"], [])

    def test_history_is_newest_first_and_matches_the_text(self):
        doc = document(self, run(self.p, "history", "--json"))
        self.assertEqual(doc["command"], "history")
        ids = [r["revision"] for r in doc["revisions"]]
        text = self.p.ok("history").out
        # the same revisions in the same order as the text listing
        self.assertEqual(ids, [line.split(" -> ")[1].split(" ")[0].rstrip(",")
                               for line in text.splitlines()])
        for r in doc["revisions"]:
            check_keys(self, r, REVISION_KEYS)
        labels = {r["revision"]: r["branch_labels"] for r in doc["revisions"]}
        self.assertEqual(labels["b1"], ["feature"])

    def test_show(self):
        doc = document(self, run(self.p, "show", "a1", "--json"))
        self.assertEqual(doc["command"], "show")
        self.assertEqual(len(doc["revisions"]), 1)
        check_keys(self, doc["revisions"][0], REVISION_KEYS)
        self.assertEqual(doc["revisions"][0]["message"], "base of all")

    def test_a_failing_listing_ends_with_an_error_event(self):
        r = run(self.p, "show", "nosuch", "--json", rc=1)
        e = document(self, r)
        self.assertEqual(e["event"], "error")
        self.assertEqual(e["command"], "show")
        self.assertEqual(e["message"], "Can't locate revision identified by 'nosuch'")
        self.assertEqual(r.err, "FAILED: Can't locate revision identified by 'nosuch'\n")

    def test_json_and_sql_are_a_usage_error(self):
        r = run(self.p, "upgrade", "head", "--json", "--sql", rc=2)
        self.assertIn("argument --json: not allowed with argument --sql", r.err)
        self.assertEqual(r.out, "")

    def test_hostile_messages_give_valid_json(self):
        p = Project(self, "sqlite")
        hostile_message_file(p, "h1", None)
        p.ok("ensure_version")
        for args in (("heads", "--json"), ("history", "--json"), ("show", "h1", "--json"),
                     ("history", "-i", "--json")):
            r = run(p, *args)
            raw = r.out
            doc = json.loads(raw)   # raises on invalid JSON
            rev = (doc.get("heads") or doc.get("revisions"))[0]
            # the text keeps every valid character; invalid bytes become U+FFFD
            self.assertEqual(rev["message"],
                             'say "hi" \\ there\t\x01\x1b[31m \ufffd\ufffd caf\u00e9 '
                             '\ufffd\ufffd\ufffd')
            self.assertIn('second "paragraph"', rev["doc"])
            # control characters are escaped, never written raw
            self.assertFalse(any(ord(c) < 0x20 for c in raw.rstrip("\n")), raw)


class Database(unittest.TestCase):
    def test_current_and_runs(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("r1", up=R1, downgrade='  op.drop_table("hero")')
                hostile_message_file(p, "r2", "r1")
                p.ok("ensure_version")   # read-only commands refuse a SQLite file not there
                doc = document(self, run(p, "current", "--json"))
                self.assertEqual(doc, {"format": 1, "command": "current", "database": p.url,
                                       "heads": [], "version_rows": []})

                r = run(p, "upgrade", "head", "--json")
                ev = events(self, r)
                names = [e["event"] for e in ev]
                self.assertEqual(names, ["lock_acquired", "plan", "step_start", "step_end",
                                         "step_start", "step_end", "summary"])
                self.assertTrue(all(e["command"] == "upgrade" for e in ev))
                # human logging stays on stderr
                self.assertIn("Running upgrade  -> r1", r.err)
                self.assertNotIn("INFO", r.out)
                plan = ev[1]
                self.assertEqual(plan["from"], [])
                self.assertEqual([s["revision"] for s in plan["steps"]], ["r1", "r2"])
                for s in plan["steps"]:
                    check_keys(self, s, STEP_KEYS)
                start, end = ev[2], ev[3]
                check_keys(self, start, dict(STEP_KEYS, format=int, event=str, command=str))
                self.assertEqual((start["revision"], start["direction"], start["to"]),
                                 ("r1", "upgrade", ["r1"]))
                self.assertEqual(end["revision"], "r1")
                self.assertIsInstance(end["duration_ms"], (int, float))
                self.assertGreaterEqual(end["duration_ms"], 0)
                # create_table and two INSERTs
                self.assertEqual(end["statements"], 3)
                self.assertEqual(ev[5]["statements"], 0)
                summary = ev[-1]
                self.assertEqual((summary["status"], summary["dry_run"]), ("ok", False))
                self.assertEqual(summary["steps"], 2)
                self.assertEqual(summary["heads"], p.version_rows())
                self.assertEqual(p.version_rows(), ["r2"])

                doc = document(self, run(p, "current", "--json"))
                self.assertEqual(doc["version_rows"], p.version_rows())
                self.assertEqual([h["revision"] for h in doc["heads"]], ["r2"])
                check_keys(self, doc["heads"][0], REVISION_KEYS)
                self.assertTrue(doc["heads"][0]["current"])

                doc = document(self, run(p, "history", "-i", "--json"))
                self.assertEqual({r["revision"]: r["current"] for r in doc["revisions"]},
                                 {"r2": True, "r1": False})

                ev = events(self, run(p, "downgrade", "r1", "--json"))
                self.assertEqual([e["event"] for e in ev],
                                 ["lock_acquired", "plan", "step_start", "step_end", "summary"])
                self.assertEqual((ev[2]["direction"], ev[2]["from"], ev[2]["to"]),
                                 ("downgrade", ["r2"], ["r1"]))
                self.assertEqual(ev[-1]["heads"], ["r1"])

                ev = events(self, run(p, "stamp", "r2", "--json"))
                self.assertEqual([e["event"] for e in ev],
                                 ["lock_acquired", "plan", "step_start", "step_end", "summary"])
                self.assertEqual(ev[3]["direction"], "stamp")
                self.assertEqual(ev[-1]["heads"], ["r2"])
                self.assertEqual(p.version_rows(), ["r2"])

    def test_dry_run_keeps_its_report_off_the_stream(self):
        p = Project(self, "sqlite")
        p.revision_file("r1", up=R1)
        p.ok("ensure_version")
        r = run(p, "upgrade", "head", "--dry-run", "--json")
        ev = events(self, r)
        self.assertEqual(ev[-1]["event"], "summary")
        self.assertTrue(ev[-1]["dry_run"])
        self.assertEqual(ev[-2]["statements"], 3)
        self.assertIn("Dry run rolled back: the database is as it was", r.err)
        self.assertEqual(p.tables(), ["luamig_version"])
        self.assertEqual(p.version_rows(), [])

    def test_failing_upgrade_ends_with_an_error_event(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("r1", up=R1)
                p.revision_file("r2", down="r1",
                                up='  op.execute("SELECT 1")\n'
                                   '  error("bad \\"thing\\"\\n at postgresql://u:s3cret@h/db")')
                r = run(p, "upgrade", "head", "--json", rc=1)
                ev = events(self, r)
                self.assertEqual([e["event"] for e in ev],
                                 ["lock_acquired", "plan", "step_start", "step_end",
                                  "step_start", "error"])
                err = ev[-1]
                self.assertEqual(err["revision"], "r2")
                self.assertEqual(err["file"], "migrations/versions/0002_r2.lua")
                self.assertEqual(err["line"], 12)
                self.assertIn('bad "thing"', err["message"])
                self.assertNotIn("s3cret", r.out + r.err)
                self.assertIn("postgresql://u:***@h/db", err["message"])
                self.assertTrue(r.err.rstrip("\n").splitlines()[-1].startswith("FAILED: "))
                # --raiseerr: the traceback is on stderr, the event keeps the one-line message
                r = run(p, "--raiseerr", "upgrade", "head", "--json", rc=1)
                err = events(self, r)[-1]
                self.assertEqual((err["event"], err["revision"], err["line"]), ("error", "r2", 12))
                self.assertNotIn("traceback", err["message"])
                self.assertIn("stack traceback:", r.err)
                # one transaction per run: nothing applied
                self.assertFalse(p.version_rows())
                self.assertNotIn("hero", p.tables())

    def test_error_before_the_run_is_one_error_event(self):
        p = Project(self, "sqlite")
        p.revision_file("r1")
        r = run(p, "upgrade", "nosuch", "--json", rc=1)
        ev = events(self, r)
        self.assertEqual(ev[-1]["event"], "error")
        self.assertEqual(ev[-1]["message"], "Can't locate revision identified by 'nosuch'")
        self.assertIsNone(ev[-1]["revision"])
        self.assertEqual([e["event"] for e in ev].count("error"), 1)
        # a configuration that cannot be read fails in C, before any Lua runs
        r = run(p, "-c", "missing.ini", "upgrade", "head", "--json", rc=1)
        e = document(self, r)
        self.assertEqual((e["event"], e["command"], e["revision"], e["file"], e["line"]),
                         ("error", "upgrade", None, None, None))
        self.assertIn("missing.ini", e["message"])

    def test_lock_wait_and_acquisition(self):
        p = Project(self, "sqlite")
        p.revision_file("r1")
        p.ok("ensure_version")
        fd = os.open(p.db_path + "-luamig-lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        env = dict(os.environ)
        env.setdefault("LUAMIG_CACHE_DIR", p.path("cache"))
        pr = subprocess.Popen([LUAMIG, "upgrade", "head", "--json"], cwd=p.dir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        released = threading.Timer(1.0, lambda: (fcntl.flock(fd, fcntl.LOCK_UN), os.close(fd)))
        released.start()
        out, err = pr.communicate(timeout=60)
        released.join()
        self.assertEqual(pr.returncode, 0, err)
        ev = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([e["event"] for e in ev][:3], ["lock_wait", "lock_acquired", "plan"])
        self.assertEqual(ev[0]["key"], "luamig:luamig_version")
        self.assertIsInstance(ev[0]["holder"], str)
        self.assertGreaterEqual(ev[1]["waited_s"], 0.5)
        self.assertEqual(ev[-1]["event"], "summary")

    def test_warning_event(self):
        p = Project(self, "sqlite")
        p.set_option("history_table", "luamig_history")
        path = p.revision_file("r1", up='  op.execute("SELECT 1")')
        p.ok("upgrade", "head")
        p.revision_file("r2", down="r1")
        with open(path, "a") as f:
            f.write("-- edited after it was applied\n")
        r = run(p, "upgrade", "head", "--json")
        ev = events(self, r)
        warnings = [e for e in ev if e["event"] == "warning"]
        self.assertEqual(len(warnings), 1, r)
        self.assertIn("r1", warnings[0]["message"])
        self.assertIsInstance(warnings[0]["logger"], str)
        self.assertIn("WARNING", r.err)


class CheckAndLint(unittest.TestCase):
    def test_validate(self):
        p = Project(self, "sqlite")
        p.set_option("history_table", "luamig_history")
        path = p.revision_file("r1", up='  op.execute("SELECT 1")')
        p.ok("upgrade", "head")
        doc = document(self, run(p, "validate", "--json"))
        self.assertEqual(doc, {"format": 1, "command": "validate", "problems": [], "notes": []})
        with open(path, "a") as f:
            f.write("-- edited\n")
        r = run(p, "validate", "--json", rc=1)
        doc = verdict(self, r, "Validation found 1 problem")
        self.assertEqual(len(doc["problems"]), 1)
        self.assertIn("r1", doc["problems"][0])

    def test_lint(self):
        p = Project(self, "sqlite")
        p.revision_file("r1", up=R1)
        p.revision_file("r2", down="r1", up='  op.drop_table("hero")')
        p.ok("upgrade", "r1")
        r = run(p, "lint", "--json", rc=1)
        doc = verdict(self, r, "lint found 1 unwaived error")
        self.assertEqual(doc["command"], "lint")
        self.assertEqual(doc["online"], True)
        self.assertEqual(doc["downgrade"], False)
        self.assertEqual(doc["summary"], {"errors": 1, "warnings": 0, "waived": 0,
                                          "operations": 1, "revisions": 1})
        self.assertEqual(len(doc["findings"]), 1)
        f = doc["findings"][0]
        self.assertEqual(set(f), {"revision", "file", "line", "rule", "severity", "message",
                                  "fix", "doc", "waived", "reason"})
        self.assertEqual((f["revision"], f["rule"], f["severity"], f["waived"]),
                         ("r2", "drop-table", "error", False))
        self.assertEqual((f["file"], f["line"]), ("migrations/versions/0002_r2.lua", 11))
        self.assertIsNone(f["reason"])
        self.assertIn("lint found 1 unwaived error", r.err)

    def test_check(self):
        p = Project(self, "sqlite")
        p.write("models.lua",
                'local sa = require "luamig.sa"\nlocal m = sa.MetaData()\n'
                'sa.Table("hero", m, sa.Column("id", sa.Integer, { primary_key = true }))\n'
                'return m\n')
        p.write("migrations/env.lua", CHECK_ENV)
        p.ok("upgrade", "head")
        r = run(p, "check", "--json", rc=1)
        doc = verdict(self, r, "New upgrade operations detected: 1 difference")
        self.assertEqual(doc["command"], "check")
        self.assertEqual([d["kind"] for d in doc["differences"]], ["add_table"])
        self.assertEqual(doc["differences"][0]["table"], "hero")
        self.assertIn("New upgrade operations detected: 1 difference", r.err)


if __name__ == "__main__":
    main()
