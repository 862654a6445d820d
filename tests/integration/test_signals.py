"""SIGINT and SIGTERM during a run, and a PostgreSQL server stopped in the middle of one.

A signal stops `luamig upgrade head` as a failing step would: the run's transaction (per run)
or the running migration's (per migration) is rolled back, the step gets its failed history
row, the runner lock is free at once for the next runner, stderr has one line saying what was
interrupted, where, and where the database is, and luamig then exits by the signal (the shell
shows 130 for SIGINT, 143 for SIGTERM). The signal arrives while the revision runs a Lua loop
or a long SQL statement, which must stop too: the run ends in seconds, not when the statement
would; a downgrade likewise, and a run waiting for the lock. Code that catches the interruption
is stopped anyway; a second signal kills luamig at once, and the database is still as before
the run. Offline (--sql), a signal kills at once and the script it leaves is not a complete one.

A PostgreSQL server stopped with `pg_ctl stop -m immediate` mid-run (a server of this test's
own, tests/pg/pg_fixture.py): exit 1 with libpq's message on one line, no password, no hang;
after a restart the database is as before the run (per run) or after the last migration that
committed (per migration), and the next run takes the lock at once and finishes.

Delays before a signal are random, from a seed printed first (LUAMIG_SIGNALS_SEED replays)."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import unittest
import urllib.parse

import pg
from luamigtest import LUAMIG, TMP_ROOT, Project, backends, default_sigint, main, temp_dir

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg", "pg_fixture.py")

CREATE = '  op.create_table("%s", sa.Column("id", sa.Integer, { primary_key = true }))'
# What bbbb2222 does while the file "slow" exists, on the line that makes the file "started".
LOOP = "while true do end"
STATEMENT = {
    "sqlite": 'op.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c '
              'WHERE x < 1000000000) SELECT count(*) FROM c")',
    "postgresql": 'op.execute("SELECT pg_sleep(30)")',
}
# Project.revision_file puts the first line of upgrade()'s body on line 11.
STALL_LINE = 11 + 4
AFTER_STALL_LINE = 11 + 6
# upgrade()'s 7 lines, "end", "", "function downgrade()", then the loop is the 4th line
DOWN_STALL_LINE = 11 + 7 + 3 + 3
PLACE = "migrations/versions/0002_bbbb2222.lua:%d"
NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def make_history(p, stall):
    p.revision_file("aaaa1111", up=CREATE % "t1", downgrade='  op.drop_table("t1")')
    up = [CREATE % "t2",
          '  op.execute("INSERT INTO t1 (id) VALUES (1)")',
          '  if io.open("slow") then',
          '    local started = true',
          # the marker on the stall's own line: a signal right after it names this line
          '    io.open("started", "w"):close() ' + stall,
          '  end',
          '  op.execute("INSERT INTO t2 (id) VALUES (1)")']
    down = ['  op.drop_table("t2")',
            '  if io.open("slow-down") then',
            '    local started = true',
            '    io.open("started", "w"):close() ' + LOOP,
            '  end']
    p.revision_file("bbbb2222", down="aaaa1111", up="\n".join(up), downgrade="\n".join(down))
    p.revision_file("cccc3333", down="bbbb2222", up=CREATE % "t3",
                    downgrade='  op.drop_table("t3")')
    with open(p.path("slow"), "w"):
        pass


def spawn(p, *args):
    env = dict(os.environ)
    env.pop("LUAMIG_CONFIG", None)
    env.setdefault("LUAMIG_CACHE_DIR", os.path.join(TMP_ROOT, "cache"))
    return subprocess.Popen([LUAMIG] + list(args), cwd=p.dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


def tables(p):
    if p.backend == "sqlite":
        return p.tables()
    return sorted(r[0] for r in p.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))


def versions(p):
    """The version table's rows, or None when there is no version table (fewer round trips
    than Project.version_rows on PostgreSQL)."""
    if "luamig_version" not in tables(p):
        return None
    return sorted(r[0] for r in p.sql("SELECT version_num FROM luamig_version"))


def history(p):
    rows = p.sql("SELECT revision, success, error FROM luamig_history ORDER BY id")
    return [(rev, str(ok) in ("1", "t", "True"), err) for rev, ok, err in rows]


def one_line(test, err):
    lines = [l for l in err.split("\n") if l and not l.startswith("INFO ")]
    test.assertEqual(len(lines), 1, err)
    return lines[0]


class Runs:
    """What both test cases do with a run: start it, stop it, check the next one."""

    def start(self, p, *args):
        """Starts luamig and returns it once bbbb2222 stalls (its statement in flight)."""
        proc = spawn(p, *args)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 30
        while not os.path.exists(p.path("started")):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                self.fail("bbbb2222 never started: %r" % (proc.communicate(),))
            time.sleep(0.005)
        return proc

    def wait_for_statement(self, p, proc):
        if p.backend == "postgresql":
            deadline = time.monotonic() + 10
            while p.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND state = 'active' AND query LIKE "
                        "'SELECT pg_sleep%'") != [("1",)]:
                self.assertLess(time.monotonic(), deadline, "pg_sleep never ran")
                time.sleep(0.01)
        else:
            time.sleep(0.2)
        self.assertIsNone(proc.poll())

    def signal_and_wait(self, proc, sig, within=5):
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
        self.assertLess(took, within, "took %.1f s after the signal: %s" % (took, err))
        return out, err

    def next_runner_finishes(self, p):
        """The lock is free at once, and the rest of the history applies."""
        os.remove(p.path("slow"))
        r = p.run("upgrade", "head")
        self.assertEqual(r.rc, 0, repr(r))
        self.assertNotIn("Waiting for the migration lock", r.err)
        self.assertEqual(versions(p), ["cccc3333"])
        self.assertEqual([t for t in tables(p) if t.startswith("t")], ["t1", "t2", "t3"])
        self.assertEqual(p.sql("SELECT count(*) FROM t1"), [(1,)] if p.backend == "sqlite"
                         else [("1",)])


class Signals(Runs, unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("LUAMIG_SIGNALS_SEED") or time.time_ns() % 1000000)
        print("signals seed %d" % self.seed, flush=True)
        self.rng = random.Random(self.seed)

    def test_signal_during_a_run_rolls_back_and_releases_the_lock(self):
        # Every database, transaction mode and stall, each pair of them under both signals.
        for backend in backends():
            for per_migration in (False, True):
                for stall in ("lua loop", "statement"):
                    sig = signal.SIGINT if per_migration == (stall == "lua loop") \
                        else signal.SIGTERM
                    mode = "per migration" if per_migration else "per run"
                    with self.subTest(backend=backend, mode=mode, stall=stall,
                                      signal=NAMES[sig]):
                        self.one_signal_case(backend, per_migration, stall, sig)

    def one_signal_case(self, backend, per_migration, stall, sig):
        p = Project(self, backend)
        p.set_option("history_table", "luamig_history")
        if per_migration:
            p.set_option("transaction_per_migration", "true")
        make_history(p, LOOP if stall == "lua loop" else STATEMENT[backend])
        proc = self.start(p, "upgrade", "head")
        if stall == "lua loop":
            time.sleep(self.rng.uniform(0, 0.05))
        else:
            self.wait_for_statement(p, proc)
        _, err = self.signal_and_wait(proc, sig)
        self.assertEqual(proc.returncode, -sig, err)
        message = ("Interrupted by %s during upgrade of revision bbbb2222 at %s; rolled back, "
                   "the database is at %s" % (NAMES[sig], PLACE % STALL_LINE,
                                              "aaaa1111" if per_migration
                                              else "base (nothing applied)"))
        self.assertEqual(one_line(self, err), "FAILED: " + message)
        if per_migration:
            # aaaa1111 committed before the signal; bbbb2222's table and row went back
            self.assertEqual(tables(p), ["luamig_history", "luamig_version", "t1"])
            self.assertEqual(versions(p), ["aaaa1111"])
            self.assertEqual(p.sql("SELECT count(*) FROM t1"),
                             [(0,)] if backend == "sqlite" else [("0",)])
            self.assertEqual(history(p), [("aaaa1111", True, None),
                                          ("bbbb2222", False, message)])
        else:
            self.assertEqual(tables(p), ["luamig_history"])
            self.assertEqual(history(p), [("bbbb2222", False, message)])
        self.next_runner_finishes(p)

    def test_signal_during_a_downgrade(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                make_history(p, LOOP)
                os.remove(p.path("slow"))
                p.ok("upgrade", "head")
                before = p.schema()
                with open(p.path("slow-down"), "w"):
                    pass
                proc = self.start(p, "downgrade", "base")
                _, err = self.signal_and_wait(proc, signal.SIGINT)
                self.assertEqual(proc.returncode, -signal.SIGINT, err)
                self.assertEqual(one_line(self, err),
                                 "FAILED: Interrupted by SIGINT during downgrade of revision "
                                 "bbbb2222 at %s; rolled back, the database is at cccc3333 "
                                 "(nothing applied)" % (PLACE % DOWN_STALL_LINE))
                self.assertEqual(p.schema(), before)
                self.assertEqual(versions(p), ["cccc3333"])

    def test_code_that_catches_the_interruption_is_stopped_anyway(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                make_history(p, "while true do pcall(function() while true do end end) end")
                proc = self.start(p, "upgrade", "head")
                _, err = self.signal_and_wait(proc, signal.SIGINT)
                self.assertEqual(proc.returncode, -signal.SIGINT, err)
                self.assertRegex(one_line(self, err),
                                 r"^FAILED: Interrupted by SIGINT during upgrade of revision "
                                 r"bbbb2222( at [^;]*)?; rolled back, the database is at base "
                                 r"\(nothing applied\)$")
                self.assertEqual(tables(p), [])
                self.next_runner_finishes(p)

    def two_signals(self, backend, first, second):
        """An upgrade stalled in a Lua loop, sent two signals at once; returns the project,
        the process and its stderr."""
        p = Project(self, backend)
        p.set_option("history_table", "luamig_history")
        make_history(p, LOOP)
        proc = self.start(p, "upgrade", "head")
        proc.send_signal(first)
        proc.send_signal(second)
        _, err = proc.communicate(timeout=30)
        return p, proc, err

    def test_a_second_signal_kills_and_the_database_is_as_before(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p, proc, err = self.two_signals(backend, signal.SIGINT, signal.SIGTERM)
                # the second, another signal, killed it (or the first's rollback was over)
                self.assertIn(proc.returncode, (-signal.SIGTERM, -signal.SIGINT), err)
                # wherever the second signal caught it: nothing of the run stays
                self.assertIn(tables(p), ([], ["luamig_history"]))
                self.next_runner_finishes(p)

    def test_the_same_signal_twice_at_once_is_one(self):
        """`timeout` sends SIGTERM to luamig and then to its process group: the two, a moment
        apart, are one signal, and the run stops as after one (rolled back, one line)."""
        for backend in backends():
            with self.subTest(backend=backend):
                p, proc, err = self.two_signals(backend, signal.SIGTERM, signal.SIGTERM)
                self.assertEqual(proc.returncode, -signal.SIGTERM, err)
                self.assertTrue(one_line(self, err).startswith(
                    "FAILED: Interrupted by SIGTERM during upgrade of revision bbbb2222 at "), err)
                self.assertEqual(tables(p), ["luamig_history"])
                self.next_runner_finishes(p)

    def test_signal_while_waiting_for_the_lock(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa1111", up=CREATE % "t1")
                if backend == "sqlite":
                    holder = sqlite3.connect(p.db_path, isolation_level=None)
                    holder.execute("BEGIN IMMEDIATE")
                    self.addCleanup(holder.close)
                else:
                    held = pg.held_lock(p.url, "luamig:luamig_version")
                    held.__enter__()
                    self.addCleanup(held.__exit__, None, None, None)
                proc = spawn(p, "upgrade", "head")
                self.addCleanup(lambda: proc.poll() is None and proc.kill())
                for line in proc.stderr:
                    if "Waiting for the migration lock" in line:
                        break
                _, err = self.signal_and_wait(proc, signal.SIGTERM)
                self.assertEqual(proc.returncode, -signal.SIGTERM, err)
                self.assertEqual(one_line(self, err),
                                 "FAILED: Interrupted by SIGTERM while waiting for the migration "
                                 "lock; the database is at base (nothing applied)")
                if backend == "sqlite":
                    holder.execute("ROLLBACK")
                self.assertEqual(tables(p), [])

    def test_offline_script_cut_by_a_signal_is_not_complete(self):
        p = Project(self, "sqlite")
        make_history(p, LOOP)
        proc = self.start(p, "upgrade", "head", "--sql")
        out, err = self.signal_and_wait(proc, signal.SIGINT)
        self.assertEqual(proc.returncode, -signal.SIGINT, err)
        self.assertNotIn("FAILED", err)
        # what was written before the signal (if anything left the buffer) ends nothing
        self.assertNotIn("COMMIT;", out)
        self.assertFalse(os.path.exists(p.db_path))


class PrivateServer:
    """A PostgreSQL server of the test's own, which it may stop (tests/pg/pg_fixture.py).

    It commits synchronously: the suite's servers run with synchronous_commit = off, where a
    crash may lose the last commits the server acknowledged (their WAL still in its buffers),
    and what a crash test checks is what luamig committed, not the fixture's shortcuts."""

    def __init__(self, test):
        self.dir = temp_dir(test, "pgown")
        r = self.fixture("start", check=False,
                         env=dict(os.environ, LUAMIG_PG_FIXTURE_OPTS="-c synchronous_commit=on"))
        if r.returncode == 77:
            raise unittest.SkipTest("PostgreSQL is not installed")
        test.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        test.addCleanup(self.fixture, "stop")
        self.env = {}
        with open(os.path.join(self.dir, "pg.env")) as f:
            for line in f:
                key, value = line.rstrip("\n").split("=", 1)
                self.env[key] = value[1:-1]

    def fixture(self, command, check=True, env=None):
        r = subprocess.run([sys.executable, FIXTURE, command, self.dir], capture_output=True,
                           text=True, timeout=120, env=env)
        if check and r.returncode != 0:
            raise RuntimeError(r.stdout + r.stderr)
        return r

    def create_database(self, name):
        """A database owned by the password role; returns (its URL with the password,
        a superuser URL for reading the catalog)."""
        e = self.env
        admin = e["LUAMIG_TEST_PG_URL"]
        pg.psql(admin, 'CREATE DATABASE %s OWNER luamig_pw;' % name)
        own = admin.replace("postgresql:///postgres?", "postgresql:///%s?" % name)
        pg.psql(own, "ALTER SCHEMA public OWNER TO luamig_pw;")
        password = urllib.parse.quote(e["LUAMIG_TEST_PG_PASSWORD"], safe="")
        return ("postgresql://luamig_pw:%s@127.0.0.1:%s/%s" % (
            password, e["LUAMIG_TEST_PG_PORT"], name), own)


class ServerStopped(Runs, unittest.TestCase):
    def test_server_stopped_mid_run(self):
        """Two runs on one server of the test's own, stopped at once: per run, under a
        statement; per migration, between two statements."""
        server = PrivateServer(self)
        password = server.env["LUAMIG_TEST_PG_PASSWORD"]
        runs = []
        for per_migration in (False, True):
            url, own = server.create_database("stopped_%s" % ("pm" if per_migration else "pr"))
            p = Project(self, "postgresql", url=url)
            if per_migration:
                p.set_option("transaction_per_migration", "true")
                make_history(p, 'while not io.open("go") do end')
            else:
                make_history(p, STATEMENT["postgresql"])
            runs.append((per_migration, p, own, self.start(p, "upgrade", "head")))
        self.wait_for_statement(runs[0][1], runs[0][3])
        t0 = time.monotonic()
        server.fixture("crash")
        for _, p, _, _ in runs:
            with open(p.path("go"), "w"):
                pass
        for per_migration, p, own, proc in runs:
            with self.subTest(mode="per migration" if per_migration else "per run"):
                _, err = proc.communicate(timeout=30)
                self.assertLess(time.monotonic() - t0, 10, err)
                self.assertEqual(proc.returncode, 1, err)
                line = one_line(self, err)
                self.assertTrue(line.startswith(
                    # A lost connection has no SQLSTATE: libpq's own words.
                    "FAILED: upgrade of revision bbbb2222 failed at %s: " % (
                        PLACE % (AFTER_STALL_LINE if per_migration else STALL_LINE))), line)
                self.assertIn("server closed the connection unexpectedly", line)
                self.assertNotIn("\t", line)
                self.assertNotIn(password, err)
        server.fixture("restart")
        for per_migration, p, own, proc in runs:
            with self.subTest(mode="per migration" if per_migration else "per run"):
                p.url = own
                if per_migration:
                    self.assertEqual(tables(p), ["luamig_version", "t1"])
                    self.assertEqual(versions(p), ["aaaa1111"])
                    self.assertEqual(p.sql("SELECT count(*) FROM t1"), [("0",)])
                else:
                    self.assertEqual(tables(p), [])
                # the advisory lock went with the session: the next run takes it at once
                self.next_runner_finishes(p)


if __name__ == "__main__":
    main()
