"""Checkpoints: `luamig checkpoint [REVISION]` writes one step that creates the schema, rows and
sequences that replaying the history up to REVISION leaves; a fresh database (no version table)
upgraded to or past it starts from it; `--no-checkpoints` replays everything; `luamig test`
compares each checkpoint with the replay it stands for; `checkpoint --prune` moves the revisions
it stands for out of the version locations.

Each comparison reads the two databases through their own catalogs (tests/lib/catalog.py:
columns, keys, indexes, foreign keys, checks, enums, sequences, every row, the version rows),
never through luamig. Both databases; the 1,000-revision history runs on both too."""
import glob
import json
import os
import re
import shutil
import unittest

import catalog
import pg
from luamigtest import Project, backends, default_sigint, main, temp_dir

HEADER = 'local op = require "luamig.op"\nlocal sa = require "luamig.sa"\n'

TEAM_UP = '''  op.create_table("team",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50), { nullable = false }))
  op.create_index("ix_team_name", "team", { "name" }, { unique = true })'''
TEAM_DOWN = '''  op.drop_index("ix_team_name", { table_name = "team" })
  op.drop_table("team")'''
KIND_UP = '''  local kind = op.create_table("kind",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("label", sa.String(20)),
    sa.Column("team_id", sa.Integer, sa.ForeignKey("team.id")))
  op.bulk_insert(kind, { { label = "gone" }, { label = "it's \\"quoted\\"" }, { label = "x" } })
  op.execute("DELETE FROM kind WHERE label = 'gone'")
  op.execute("UPDATE kind SET label = NULL WHERE label = 'x'")'''
KIND_DOWN = '''  op.drop_table("kind")'''
SIZE_UP = '''  op.add_column("team", sa.Column("size", sa.Integer, { server_default = "3" }))'''
SIZE_DOWN = '''  op.drop_column("team", "size")'''
NOTE_UP = '''  op.add_column("kind", sa.Column("note", sa.Text))'''
NOTE_DOWN = '''  op.drop_column("kind", "note")'''


def history(p):
    p.revision_file("aaaa0001", None, HEADER + TEAM_UP, TEAM_DOWN, message="create team")
    p.revision_file("bbbb0002", "aaaa0001", HEADER + KIND_UP, KIND_DOWN, message="create kind")
    p.revision_file("cccc0003", "bbbb0002", HEADER + SIZE_UP, SIZE_DOWN, message="team size")
    p.revision_file("dddd0004", "cccc0003", HEADER + NOTE_UP, NOTE_DOWN, message="kind note")


def snapshot(backend, where):
    """The database as its catalog shows it, without SQLite's CREATE TABLE texts (an ALTER TABLE
    ADD COLUMN and a CREATE TABLE with the column word the same table differently)."""
    snap = catalog.snapshot(backend, where)
    snap.pop("sqlite_master", None)
    snap["tables"].pop("luamig_history", None)
    return snap


class Databases:
    """A project's databases: the configured one, and others switched to by URL."""

    def __init__(self, test, p):
        self.test, self.p = test, p
        self.n = 0

    def new(self):
        """Points luamig.ini at a new, empty database; returns where catalog.snapshot reads it."""
        self.n += 1
        if self.p.backend == "sqlite":
            path = os.path.join(self.p.dir, "db%d.db" % self.n)
            self.p.set_option("url", "sqlite:///" + path)
            return path
        name = "cp%d_%d" % (os.getpid() % 100000, self.n)
        pg.drop_database(name)
        url = pg.create_database(name)
        self.test.addCleanup(pg.drop_database, name)
        self.p.set_option("url", url)
        return url

    def upgraded(self):
        """A new, empty database that `upgrade head` has just run on: its catalog."""
        where = self.new()
        self.p.ok("upgrade", "head")
        return catalog.snapshot(self.p.backend, where)

    def use(self, where):
        self.p.set_option("url", where if self.p.backend != "sqlite" else "sqlite:///" + where)


def next_id(backend, where, table):
    """The id the database gives the next row of `table` (its sequence, or SQLite's rowid)."""
    if backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(where)
        try:
            cur = con.execute('INSERT INTO "%s" DEFAULT VALUES' % table)
            con.rollback()
            return cur.lastrowid
        finally:
            con.close()
    return int(pg.psql(where, 'BEGIN; INSERT INTO "%s" DEFAULT VALUES RETURNING id; ROLLBACK;'
                       % table)[0][0])


def checkpoint_files(p):
    return sorted(os.path.basename(f) for f in glob.glob(p.path("migrations/checkpoints/*.lua")))


class TestCheckpoint(unittest.TestCase):

    def fresh_upgrade_equals_replay(self, p, rev, written, started, tables):
        """Upgrades a new database replaying every revision, writes the checkpoint of `rev` (its
        line says `written`), upgrades a second new database through it (its log says
        `started`): both catalogs are equal, with `tables` tables. Returns the second's."""
        dbs = Databases(self, p)
        full = dbs.new()
        p.ok("upgrade", "head", "--no-checkpoints")
        self.assertIn(written, p.ok("checkpoint", rev).out)
        fresh = dbs.new()
        self.assertIn(started, p.ok("upgrade", "head").err)
        a, b = snapshot(p.backend, full), snapshot(p.backend, fresh)
        self.assertEqual(len(a["tables"]), tables)
        self.assertEqual(a, b)
        return b

    def test_fresh_database_starts_from_checkpoint(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend, history=True)
                history(p)
                dbs = Databases(self, p)
                full = dbs.new()
                r = p.ok("upgrade", "head", "--no-checkpoints")
                self.assertNotIn("checkpoint", r.err)
                r = p.ok("checkpoint", "cccc0003")
                self.assertEqual(r.out, "Generating migrations/checkpoints/cccc0003_%s.lua ...  "
                                 "done (checkpoint of 3 revisions, up to cccc0003, %s, 2 rows)\n"
                                 % (backend, backend))
                self.assertEqual(checkpoint_files(p), ["cccc0003_%s.lua" % backend])
                text = p.read("migrations/checkpoints/cccc0003_%s.lua" % backend)
                self.assertIn('checkpoint = { "cccc0003" }\ndialect = "%s"\nreplaces = 3\n'
                              % backend, text)
                # the database that was already upgraded is not touched by the checkpoint
                self.assertEqual(snapshot(backend, full)["luamig_version"], ["dddd0004"])

                fresh = dbs.new()
                r = p.ok("upgrade", "head")
                self.assertIn("Starting from checkpoint migrations/checkpoints/cccc0003_%s.lua: "
                              "one step for 3 revisions, then 1 more" % backend, r.err)
                self.assertIn("Running upgrade checkpoint  -> cccc0003, checkpoint of 3 "
                              "revisions (cccc0003_%s.lua)" % backend, r.err)
                self.assertIn("Running upgrade cccc0003 -> dddd0004, kind note", r.err)
                a, b = snapshot(backend, full), snapshot(backend, fresh)
                self.assertEqual(a, b)
                self.assertEqual(b["luamig_version"], ["dddd0004"])
                self.assertEqual(len(b["tables"]["kind"]["rows"]), 2)
                # sequences (PostgreSQL) and rowids (SQLite) continue where the replay left them
                self.assertEqual(next_id(backend, full, "kind"), next_id(backend, fresh, "kind"))
                # the audit history names the checkpoint step
                dbs.use(fresh)
                log = json.loads(p.ok("log", "--json").out)
                self.assertEqual([(r["operation"], r["revision"]) for r in log["rows"]],
                                 [("checkpoint", "cccc0003"), ("upgrade", "dddd0004")])
                # the DAG and the commands are unchanged; downgrade below the checkpoint works
                self.assertEqual(p.ok("current").out, "dddd0004 (head)\n")
                self.assertEqual(len(p.ok("history").out.strip().split("\n")), 4)
                p.ok("downgrade", "aaaa0001")
                dbs.use(full)
                p.ok("downgrade", "aaaa0001")
                self.assertEqual(snapshot(backend, full), snapshot(backend, fresh))
                # a database with a version table replays, whatever its version
                dbs.use(fresh)
                r = p.ok("upgrade", "head")
                self.assertNotIn("checkpoint", r.err)
                self.assertEqual(snapshot(backend, fresh)["luamig_version"], ["dddd0004"])
                # --no-checkpoints on a fresh database
                nocp = dbs.new()
                r = p.ok("upgrade", "head", "--no-checkpoints")
                self.assertNotIn("checkpoint", r.err)
                self.assertEqual(snapshot(backend, nocp)["luamig_version"], ["dddd0004"])
                # a target before the checkpoint replays
                before = dbs.new()
                r = p.ok("upgrade", "bbbb0002")
                self.assertNotIn("checkpoint", r.err)
                self.assertEqual(snapshot(backend, before)["luamig_version"], ["bbbb0002"])

    def test_names_a_convention_made_are_not_made_again(self):
        """With target_metadata's ck convention built on %(constraint_name)s, a checkpoint gives
        the database's names as they are (op.f), not through the convention a second time."""
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.use_models('local sa = require "luamig.sa"\n'
                             'return sa.MetaData { naming_convention = '
                             '{ ck = "ck_%(table_name)s_%(constraint_name)s" } }\n')
                p.revision_file("aaaa0001", up='  op.create_table("t", sa.Column("id", sa.Integer, '
                                '{ primary_key = true }), sa.CheckConstraint("id > 0", '
                                '{ name = "positive" }))', downgrade='  op.drop_table("t")')
                dbs = Databases(self, p)
                full = dbs.upgraded()
                p.ok("checkpoint", "aaaa0001")
                fresh = dbs.new()
                self.assertIn("Starting from checkpoint", p.ok("upgrade", "head").err)
                self.assertEqual(catalog.snapshot(backend, fresh), full)
                if backend == "postgresql":
                    self.assertEqual(pg.psql(fresh, "SELECT conname FROM pg_constraint WHERE "
                                             "contype = 'c' AND conrelid = 't'::regclass"),
                                     [("ck_t_positive",)])
                else:
                    import sqlite3
                    con = sqlite3.connect(fresh)
                    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()[0]
                    con.close()
                    self.assertIn("CONSTRAINT ck_t_positive CHECK", sql)

    def test_json_and_test_command(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                history(p)
                r = p.ok("checkpoint", "--json")
                doc = json.loads(r.out)
                self.assertEqual(doc, {"path": "migrations/checkpoints/dddd0004_%s.lua" % backend,
                                       "checkpoint": ["dddd0004"], "dialect": backend,
                                       "replaces": 4, "rows": 2})
                r = p.ok("test")
                self.assertIn("ok   checkpoint migrations/checkpoints/dddd0004_%s.lua equals the "
                              "replay of its 4 revisions\n" % backend, r.out)
                doc = json.loads(p.ok("test", "--json").out)
                self.assertEqual(doc["checkpoints"], [{
                    "file": "migrations/checkpoints/dddd0004_%s.lua" % backend,
                    "checkpoint": ["dddd0004"], "replaces": 4, "ok": True, "problems": []}])
                self.assertEqual(p.tables(), [])

    def test_test_reports_a_checkpoint_that_differs(self):
        """A checkpoint edited by hand (an index left out, a row changed) fails `luamig test`
        with the differences, as check prints them; a stale one (a revision it stands for was
        edited) is skipped by upgrade with a warning, and reported by test."""
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                history(p)
                p.ok("checkpoint", "cccc0003")
                rel = "migrations/checkpoints/cccc0003_%s.lua" % backend
                good = p.read(rel)
                bad = re.sub(r'\n *(batch_op|op)\.create_index\(op\.f\("ix_team_name"\).*\n', "\n", good)
                bad = bad.replace('"it\'s \\"quoted\\""', '"changed"')
                self.assertNotEqual(bad, good)
                self.assertNotIn("ix_team_name", bad.split("function downgrade")[0])
                p.write(rel, bad)
                r = p.fails("test")
                lines = r.out.split("\n")
                i = lines.index("FAIL checkpoint %s differs from the replay of its 3 revisions:"
                                % rel)
                self.assertEqual(lines[i + 1:i + 3], [
                    "         add_index ix_team_name on team (name) unique",
                    "         table kind: 1 row(s) of the replay missing, 1 not in the replay"])
                self.assertEqual(r.err.strip().split("\n")[-1],
                                 "FAILED: 1 checkpoint differs from the revisions it stands for")
                p.write(rel, good)
                p.ok("test")
                # stale: a revision it stands for changed
                rev = glob.glob(p.path("migrations/versions/*_bbbb0002.lua"))[0]
                with open(rev, "a") as f:
                    f.write("-- edited\n")
                r = p.ok("upgrade", "head")
                self.assertIn("WARNING [luamig.runtime.migration] Checkpoint %s is stale: the "
                              "revisions it stands for changed since it was written; replaying "
                              "them instead (luamig checkpoint cccc0003 writes it again)" % rel,
                              r.err)
                self.assertIn("Running upgrade  -> aaaa0001, create team", r.err)
                r = p.fails("test")
                self.assertIn("         stale: the revisions it stands for changed since it was "
                              "written (luamig checkpoint cccc0003 writes it again)", r.out)

    def test_what_a_checkpoint_cannot_make_is_refused(self):
        """A history that leaves a view: nothing is written, the message names the view, and no
        scratch database is left."""
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                history(p)
                p.revision_file("eeee0005", "dddd0004",
                                HEADER + '  op.execute("CREATE VIEW team_names AS SELECT name '
                                'FROM team")', '  op.execute("DROP VIEW team_names")',
                                message="a view")
                tmp = temp_dir(self, "scratch")
                r = p.fails("checkpoint", env={"TMPDIR": tmp})
                self.assertRegex(r.err.strip().split("\n")[-1],
                                 r"^FAILED: luamig checkpoint: the rendered checkpoint does not "
                                 r"reproduce the replay, so none was written \(.*\): "
                                 r"missing: view team_names$")
                self.assertEqual(checkpoint_files(p), [])
                self.assertEqual(os.listdir(tmp), [])
                if backend == "postgresql":
                    self.assertEqual(pg.scratch_databases_left(), [])
                # a file where the checkpoints folder goes: said, nothing written
                if os.path.isdir(p.path("migrations/checkpoints")):
                    os.rmdir(p.path("migrations/checkpoints"))
                with open(p.path("migrations/checkpoints"), "w") as f:
                    f.write("not a folder\n")
                r = p.fails("checkpoint", "dddd0004", env={"TMPDIR": tmp})
                self.assertEqual(r.err.strip().split("\n")[-1],
                                 "FAILED: luamig checkpoint: %s: Not a directory"
                                 % p.path("migrations/checkpoints"))
                os.remove(p.path("migrations/checkpoints"))
                self.assertEqual(os.listdir(tmp), [])
                # a failing revision: the replay's error, nothing written
                p.revision_file("ffff0006", "eeee0005", '  error("boom")', "", message="boom")
                r = p.fails("checkpoint", env={"TMPDIR": tmp})
                self.assertIn("FAILED: luamig checkpoint: replaying the revisions up to head "
                              "failed: upgrade of revision ffff0006 failed at", r.err)
                self.assertEqual(checkpoint_files(p), [])
                self.assertEqual(os.listdir(tmp), [])
                self.assertEqual(p.tables(), [])

    def test_lost_connection_while_checking_is_not_a_difference(self):
        """The scratch database's backend ends during the check of the rendered checkpoint (here
        env.lua's on_version_apply terminates it in the checkpoint's step): the error says the
        connection was lost, not that the checkpoint does not reproduce the replay; nothing is
        written and no scratch database is left. `luamig test` says the same."""
        p = Project(self, "postgresql")
        history(p)
        env = p.read("migrations/env.lua")
        hook = ('    on_version_apply = function(info)\n'
                '      if info.step.checkpoint and os.getenv("KILL_CHECK") == (info.step.upgrade and "upgrade" or "downgrade") then\n'
                '        info.ctx:execute("SELECT pg_terminate_backend(pg_backend_pid())")\n'
                '      end\n'
                '    end,\n')
        anchor = "    connection = connection,\n"
        self.assertIn(anchor, env)
        p.write("migrations/env.lua", env.replace(anchor, anchor + hook, 1))
        lost = ("FAILED: lost the connection to the scratch database while checking the rendered "
                "checkpoint (its %s): ")
        for direction in ("upgrade", "downgrade"):
            with self.subTest(direction=direction):
                r = p.fails("checkpoint", env={"KILL_CHECK": direction})
                last = r.err.strip().split("\n")[-1]
                self.assertTrue(last.startswith(lost % direction), last)
                self.assertTrue(last.endswith("[SQL: SELECT pg_terminate_backend(pg_backend_pid())]"), last)
                self.assertNotIn("does not reproduce", r.err)
                self.assertEqual(checkpoint_files(p), [])
                self.assertEqual(pg.scratch_databases_left(), [])
        # the checkpoint itself is good: written without the hook, then `luamig test` with it
        p.ok("checkpoint")
        r = p.fails("test", env={"KILL_CHECK": "upgrade"})
        self.assertTrue(r.err.strip().split("\n")[-1].startswith(lost % "upgrade"), r.err)
        self.assertEqual(pg.scratch_databases_left(), [])

    def test_prune(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                history(p)
                p.ok("checkpoint", "cccc0003")
                p.ok("upgrade", "bbbb0002")
                r = p.fails("checkpoint", "--prune", "cccc0003")
                self.assertEqual(r.err.strip().split("\n")[-1],
                                 "FAILED: luamig checkpoint --prune: the database is at "
                                 "bbbb0002, older than the checkpoint cccc0003; upgrade it first")
                r = p.fails("checkpoint", "--prune", "dddd0004")
                self.assertIn("FAILED: luamig checkpoint --prune: no checkpoint stands for "
                              "dddd0004 (luamig checkpoint dddd0004 writes one)", r.err)
                self.assertEqual(len(os.listdir(p.versions)), 4)
                p.ok("upgrade", "head")
                before = snapshot(backend, p.db_path or p.url)
                r = p.ok("checkpoint", "--prune", "cccc0003")
                self.assertEqual(r.out, "Pruned 3 revisions into migrations/pruned/cccc0003; "
                                 "migrations/versions/0003_cccc0003.lua is now a root revision "
                                 "that runs the checkpoint\n")
                self.assertEqual(sorted(os.listdir(p.versions)),
                                 ["0003_cccc0003.lua", "0004_dddd0004.lua"])
                self.assertEqual(sorted(os.listdir(p.path("migrations/pruned/cccc0003"))),
                                 ["0001_aaaa0001.lua", "0002_bbbb0002.lua", "0003_cccc0003.lua",
                                  "cccc0003_%s.lua" % backend])
                self.assertEqual(checkpoint_files(p), [])
                self.assertEqual(p.ok("history").out,
                                 "cccc0003 -> dddd0004 (head), kind note\n"
                                 "<base> -> cccc0003, team size\n")
                self.assertEqual(p.ok("current").out, "dddd0004 (head)\n")
                # a fresh database from the pruned history equals the old one
                dbs = Databases(self, p)
                fresh = dbs.new()
                p.ok("upgrade", "head")
                self.assertEqual(snapshot(backend, fresh), before)
                p.ok("downgrade", "base")
                self.assertEqual([t for t in snapshot(backend, fresh)["tables"]], [])
                p.ok("test")

    def test_prune_keeps_what_the_checkpoint_requires(self):
        """A PostgreSQL checkpoint whose columns use the dialect's types starts with their
        `require` line; the revision --prune makes of it keeps that line, so a fresh database
        upgrades through it."""
        p = Project(self, "postgresql")
        up = ('  local postgresql = require "luamig.dialects.postgresql"\n'
              '  op.create_table("doc", sa.Column("id", sa.Integer, { primary_key = true }),\n'
              '    sa.Column("body", postgresql.JSONB))')
        p.revision_file("aaaa0001", None, up, '  op.drop_table("doc")', message="doc")
        p.revision_file("bbbb0002", "aaaa0001",
                        '  op.add_column("doc", sa.Column("n", sa.Integer))',
                        '  op.drop_column("doc", "n")', message="n")
        p.ok("upgrade", "head")
        p.ok("checkpoint", "aaaa0001")
        require = 'local postgresql = require "luamig.dialects.postgresql"\n'
        self.assertIn("\n" + require, p.read("migrations/checkpoints/aaaa0001_postgresql.lua"))
        p.ok("checkpoint", "--prune", "aaaa0001")
        text = p.read("migrations/versions/0001_aaaa0001.lua")
        self.assertIn("The checkpoint of 1 revision, pruned by `luamig checkpoint --prune`; it is "
                      "in migrations/pruned/aaaa0001.\n", text)
        self.assertIn("depends_on = nil\n\n" + require + "\nfunction upgrade()\n", text)
        snap = Databases(self, p).upgraded()
        self.assertEqual(sorted(snap["tables"]), ["doc"])
        self.assertEqual(snap["luamig_version"], ["bbbb0002"])

    def test_prune_keeps_a_message_holding_a_closing_bracket_in_the_comment(self):
        """A header comment opened with "--[=[" may hold "]]" in its message (convert writes
        such headers). The revision --prune writes keeps that message inside its comment: the
        text after "]]" never becomes code that runs."""
        p = Project(self, "sqlite")
        p.write("migrations/versions/0001_aaaa0001.lua",
                'revision = "aaaa0001"\ndown_revision = nil\n\nfunction upgrade()\n'
                + TEAM_UP + '\nend\n\nfunction downgrade()\n' + TEAM_DOWN + '\nend\n')
        p.write("migrations/versions/0002_bbbb0002.lua",
                '--[=[ b ]] error("the message ran") --[[\n\nRevision ID: bbbb0002\n]=]\n'
                'revision = "bbbb0002"\ndown_revision = "aaaa0001"\n\nfunction upgrade()\n'
                + SIZE_UP + '\nend\n\nfunction downgrade()\n' + SIZE_DOWN + '\nend\n')
        p.ok("checkpoint", "bbbb0002")
        p.ok("upgrade", "head")
        p.ok("checkpoint", "--prune", "bbbb0002")
        text = p.read("migrations/versions/0002_bbbb0002.lua")
        self.assertTrue(text.startswith('--[=[ b ]] error("the message ran") --[[\n'), text)
        self.assertEqual(p.ok("history").out,
                         '<base> -> bbbb0002 (head), b ]] error("the message ran") --[[\n')
        snap = Databases(self, p).upgraded()
        self.assertEqual(sorted(snap["tables"]), ["team"])
        self.assertEqual(snap["luamig_version"], ["bbbb0002"])

    def test_prune_moves_every_file_or_none(self):
        """What an earlier prune left in the folder a file goes to stops --prune before any
        file moves, naming both; a move that fails half-way puts back the files already
        moved. Either way the script directory is as it was, and works."""
        p = Project(self, "sqlite")
        history(p)
        p.ok("checkpoint", "cccc0003")
        p.ok("upgrade", "head")
        files = sorted(os.listdir(p.versions))

        def refused(source, name, why):
            r = p.fails("checkpoint", "--prune", "cccc0003")
            self.assertEqual(r.err.strip().split("\n")[-1],
                             "FAILED: luamig checkpoint --prune: cannot move migrations/%s/%s to "
                             "migrations/pruned/cccc0003/%s (%s); nothing was moved"
                             % (source, name, name, why))
            self.assertEqual(sorted(os.listdir(p.versions)), files)

        left = p.path("migrations/pruned/cccc0003/0002_bbbb0002.lua")
        os.makedirs(left)
        refused("versions", "0002_bbbb0002.lua", "it is there already")
        self.assertEqual(p.ok("heads").out, "dddd0004 (head)\n")
        os.rmdir(left)
        # the checkpoint file's move, the last one, fails across file systems (rename(2)
        # cannot): the revisions moved before it come back
        if os.stat("/dev/shm").st_dev == os.stat(p.dir).st_dev:
            self.skipTest("/dev/shm is on the project's file system here")
        shm = os.path.join("/dev/shm", "luamig-cp-%d" % os.getpid())
        os.makedirs(shm)
        self.addCleanup(shutil.rmtree, shm, True)
        cps = p.path("migrations/checkpoints")
        for name in os.listdir(cps):
            shutil.move(os.path.join(cps, name), os.path.join(shm, name))
        os.rmdir(cps)
        os.symlink(shm, cps)
        refused("checkpoints", "cccc0003_sqlite.lua", "Invalid cross-device link")
        self.assertEqual(os.listdir(p.path("migrations/pruned/cccc0003")), [])
        self.assertNotIn("pruned by", p.read("migrations/versions/0003_cccc0003.lua"))
        self.assertEqual(p.ok("history").out.count("\n"), 4)
        self.assertEqual(Databases(self, p).upgraded()["luamig_version"], ["dddd0004"])

    def test_prune_reads_the_checkpoint_before_moving_anything(self):
        """A checkpoint whose fields end without its checkpoint_format line: --prune stops
        before any revision moves. With CRLF line ends it prunes, and the result runs."""
        p = Project(self, "sqlite")
        history(p)
        p.ok("checkpoint", "cccc0003")
        p.ok("upgrade", "head")
        rel = "migrations/checkpoints/cccc0003_sqlite.lua"
        good = p.read(rel)
        p.write(rel, good.replace("checkpoint_format = 1\n", ""))
        r = p.fails("checkpoint", "--prune", "cccc0003")
        self.assertEqual(r.err.strip().split("\n")[-1],
                         "FAILED: luamig checkpoint --prune: %s has no 'checkpoint_format = <n>' "
                         "line to prune after (luamig checkpoint cccc0003 writes it again)" % rel)
        self.assertEqual(len(os.listdir(p.versions)), 4)
        self.assertFalse(os.path.exists(p.path("migrations/pruned")))
        with open(p.path(rel), "w", newline="") as f:
            f.write(good.replace("\n", "\r\n"))
        p.ok("checkpoint", "--prune", "cccc0003")
        self.assertEqual(sorted(os.listdir(p.versions)), ["0003_cccc0003.lua", "0004_dddd0004.lua"])
        self.assertEqual(Databases(self, p).upgraded()["luamig_version"], ["dddd0004"])

    def test_branches_and_merge(self):
        """A checkpoint of two heads stands for both (two version rows); a fresh `upgrade heads`
        starts from it, and after a merge revision a fresh `upgrade head` starts from it and
        runs the merge. `luamig test` goes through the branches and the merge, and finds a
        broken downgrade on a branch."""
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, HEADER + TEAM_UP, TEAM_DOWN, message="root")
                p.revision_file("bbbb0002", "aaaa0001", HEADER + KIND_UP, KIND_DOWN,
                                message="branch one")
                p.revision_file("cccc0003", "aaaa0001", HEADER + SIZE_UP, SIZE_DOWN,
                                message="branch two")
                r = p.ok("checkpoint", "heads")
                self.assertIn("done (checkpoint of 3 revisions, up to bbbb0002, cccc0003, ",
                              r.out)
                name = "bbbb0002_cccc0003_%s.lua" % backend
                self.assertEqual(checkpoint_files(p), [name])
                self.assertIn('checkpoint = { "bbbb0002", "cccc0003" }',
                              p.read("migrations/checkpoints/" + name))
                dbs = Databases(self, p)
                full = dbs.new()
                p.ok("upgrade", "heads", "--no-checkpoints")
                fresh = dbs.new()
                r = p.ok("upgrade", "heads")
                self.assertIn("one step for 3 revisions, then 0 more", r.err)
                self.assertEqual(snapshot(backend, fresh), snapshot(backend, full))
                self.assertEqual(snapshot(backend, fresh)["luamig_version"],
                                 ["bbbb0002", "cccc0003"])
                # one branch only: the checkpoint does not apply
                one = dbs.new()
                r = p.ok("upgrade", "bbbb0002")
                self.assertNotIn("checkpoint", r.err)
                # a merge after it
                p.revision_file("dddd0004", ["bbbb0002", "cccc0003"], HEADER + NOTE_UP, NOTE_DOWN,
                                message="merge")
                dbs.use(full)
                p.ok("upgrade", "head")
                merged = dbs.new()
                r = p.ok("upgrade", "head")
                self.assertIn("one step for 3 revisions, then 1 more", r.err)
                self.assertEqual(snapshot(backend, merged), snapshot(backend, full))
                self.assertEqual(snapshot(backend, merged)["luamig_version"], ["dddd0004"])
                r = p.ok("test")
                self.assertEqual(r.out.split("\n")[:4], [
                    "ok   aaaa0001  root", "ok   cccc0003  branch two",
                    "ok   bbbb0002  branch one", "ok   dddd0004  merge"])   # the plan's order
                self.assertIn("ok   checkpoint migrations/checkpoints/%s equals the replay of its "
                              "3 revisions" % name, r.out)
                # a broken downgrade on a branch
                rev = glob.glob(p.path("migrations/versions/*_cccc0003.lua"))[0]
                with open(rev) as f:
                    text = f.read()
                with open(rev, "w") as f:
                    f.write(text.replace(SIZE_DOWN, "  -- forgot the column"))
                r = p.fails("test")
                self.assertIn("FAIL cccc0003  branch two\n       downgrade does not restore the "
                              "schema before the upgrade (what would take the database back to "
                              "it):\n         remove_column team.size", r.out)
                self.assertIn("stale: the revisions it stands for changed", r.out)

    def test_interrupted_checkpoint_leaves_nothing(self):
        """SIGINT while the history is replayed: no file, no scratch database, exit by the
        signal."""
        import signal
        import subprocess
        import time
        from luamigtest import LUAMIG
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                history(p)
                started = os.path.join(temp_dir(self, "flag"), "started")
                p.revision_file("eeee0005", "dddd0004",
                                '  local f = io.open(os.getenv("LUAMIG_TEST_STARTED"), "w")\n'
                                '  f:close()\n  while true do end', "", message="stalls")
                tmp = temp_dir(self, "scratch")
                env = dict(os.environ, TMPDIR=tmp, LUAMIG_TEST_STARTED=started)
                proc = subprocess.Popen([LUAMIG, "checkpoint"], cwd=p.dir, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=default_sigint)
                deadline = time.time() + 60
                while not os.path.exists(started) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertTrue(os.path.exists(started))
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, -signal.SIGINT, err)
                self.assertIn("Interrupted by SIGINT", err)
                self.assertEqual(checkpoint_files(p), [])
                self.assertEqual(os.listdir(tmp), [])
                if backend == "postgresql":
                    self.assertEqual(pg.scratch_databases_left(), [])
                self.assertEqual(p.tables(), [])

    def test_offline_sql_uses_checkpoint(self):
        p = Project(self, "sqlite")
        history(p)
        p.ok("checkpoint", "cccc0003")
        out = p.ok("upgrade", "head", "--sql").out
        self.assertIn("-- Running upgrade checkpoint  -> cccc0003", out)
        self.assertIn("INSERT INTO luamig_version (version_num) VALUES ('cccc0003');", out)
        self.assertNotIn("-- Running upgrade  -> aaaa0001", out)
        out = p.ok("upgrade", "head", "--sql", "--no-checkpoints").out
        self.assertIn("-- Running upgrade  -> aaaa0001", out)
        self.assertEqual(p.tables(), [])

    def test_thousand_revisions(self):
        """A checkpoint at revision 500 of a generated 1,000-revision history: a fresh database
        upgraded with it equals the full replay (catalog, rows, version rows)."""
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                prev = None
                for i in range(1, 1001):
                    t = "t%03d" % ((i - 1) // 10)
                    if (i - 1) % 10 == 0:
                        up = ('  op.create_table("%s", sa.Column("id", sa.Integer, '
                              '{ primary_key = true }), sa.Column("c0", sa.String(20)))' % t)
                        down = '  op.drop_table("%s")' % t
                    elif (i - 1) % 10 == 5:
                        up = ('  op.create_index("ix_%s_c0", "%s", { "c0" })\n'
                              '  op.execute("INSERT INTO %s (c0) VALUES (\'r%d\')")' % (t, t, t, i))
                        down = ('  op.execute("DELETE FROM %s WHERE c0 = \'r%d\'")\n'
                                '  op.drop_index("ix_%s_c0", { table_name = "%s" })'
                                % (t, i, t, t))
                    else:
                        up = '  op.add_column("%s", sa.Column("c%d", sa.Integer))' % (t, i)
                        down = '  op.drop_column("%s", "c%d")' % (t, i)
                    rev = "r%04d" % i
                    p.revision_file(rev, prev, up, down, message="step %d" % i)
                    prev = rev
                p.set_option("transaction_per_migration", "true")
                b = self.fresh_upgrade_equals_replay(
                    p, "r0500", "(checkpoint of 500 revisions, up to r0500, %s, 50 rows)" % backend,
                    "one step for 500 revisions, then 500 more", 100)
                self.assertEqual(b["luamig_version"], ["r1000"])

    def test_tables_in_batches(self):
        """600 tables, more than the checkpoint reads, renders and compares at a time (250): 300
        children "a_c..." each referring to a parent "z_p..." that sorts after it, so that every
        child comes in a later batch than its parent, and the downgrade's batches must run in
        reverse. The fresh upgrade equals the replay; a checkpoint edited to lose a table of a
        later batch and to make one the replay has not fails `luamig test` with both."""
        up = '''  for i = 0, 299 do
    local n = string.format("%03d", i)
    op.create_table("z_p" .. n, sa.Column("id", sa.Integer, { primary_key = true }),
      sa.Column("v", sa.String(10)))
    op.create_table("a_c" .. n, sa.Column("id", sa.Integer, { primary_key = true }),
      sa.Column("p_id", sa.Integer, sa.ForeignKey("z_p" .. n .. ".id")))
  end
  op.create_index("ix_a_c299_p_id", "a_c299", { "p_id" })
  op.execute("INSERT INTO z_p299 (id, v) VALUES (7, 'seven')")
  op.execute("INSERT INTO a_c299 (id, p_id) VALUES (1, 7)")'''
        down = '''  for i = 299, 0, -1 do
    local n = string.format("%03d", i)
    op.drop_table("a_c" .. n)
    op.drop_table("z_p" .. n)
  end'''
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, up, down, message="600 tables")
                p.revision_file("bbbb0002", "aaaa0001",
                                '  op.add_column("z_p000", sa.Column("w", sa.Integer))',
                                '  op.drop_column("z_p000", "w")', message="one more column")
                self.fresh_upgrade_equals_replay(
                    p, "aaaa0001",
                    "(checkpoint of 1 revision, up to aaaa0001, %s, 2 rows)" % backend,
                    "one step for 1 revision, then 1 more", 600)
                p.ok("test")
                rel = "migrations/checkpoints/aaaa0001_%s.lua" % backend
                good = p.read(rel)
                # a new table's index is one call, never a batch block (a function each)
                self.assertIn('\n  op.create_index(op.f("ix_a_c299_p_id"), "a_c299", { "p_id" }, '
                              '{ unique = false })\n', good)
                self.assertNotIn("batch_alter_table", good)
                bad = re.sub(r'\n  op\.create_table\("a_c298",(.|\n)*?\n  \)\n',
                             '\n  op.create_table("extra", sa.Column("id", sa.Integer))\n', good)
                bad = bad.replace('  op.drop_table("a_c298")\n', '  op.drop_table("extra")\n')
                # (PostgreSQL: the line that sets its sequence goes too)
                bad = "\n".join(x for x in bad.split("\n")
                                 if "setval" not in x or "a_c298" not in x)
                self.assertNotIn('"a_c298"', bad)
                p.write(rel, bad)
                r = p.fails("test")
                self.assertIn("FAIL checkpoint %s differs from the replay of its 1 revision:\n"
                              "         add_table a_c298\n"
                              "         remove_table extra\n" % rel, r.out)

    def test_long_plan_after_a_checkpoint(self):
        """More than 2,000 revisions after the checkpoint: the plan that starts from it is read
        step by step (as a long plan is), and the upgrade still applies every one of them."""
        p = Project(self, "sqlite")
        p.revision_file("r0001", None, '  op.create_table("t", sa.Column("n", sa.Integer))',
                        '  op.drop_table("t")', message="step 1")
        prev = "r0001"
        for i in range(2, 2111):
            rev = "r%04d" % i
            p.revision_file(rev, prev, '  op.execute("INSERT INTO t (n) VALUES (%d)")' % i,
                            '  op.execute("DELETE FROM t WHERE n = %d")' % i, message="step %d" % i)
            prev = rev
        dbs = Databases(self, p)
        full = dbs.new()
        p.ok("upgrade", "head", "--no-checkpoints")
        p.ok("checkpoint", "r0100")
        fresh = dbs.new()
        r = p.ok("upgrade", "head")
        self.assertIn("one step for 100 revisions, then 2010 more", r.err)
        a, b = snapshot("sqlite", full), snapshot("sqlite", fresh)
        self.assertEqual(a, b)
        self.assertEqual(b["luamig_version"], ["r2110"])
        import sqlite3
        with sqlite3.connect(fresh) as db:
            self.assertEqual(db.execute("SELECT count(*), min(n), max(n) FROM t").fetchall(),
                             [(2109, 2, 2110)])


if __name__ == "__main__":
    main()
