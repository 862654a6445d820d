"""Concurrent runners: the lock makes N `luamig upgrade head` at once apply
every revision exactly once; the waiting runner says who holds the lock;
runner_lock_timeout and --no-lock; CREATE INDEX CONCURRENTLY in an autocommit block
runs while a second runner waits, without deadlock; on SQLite the lock is held
from the start of a run to its end also when each migration commits on its
own, and a runner killed with SIGKILL leaves no lock behind."""
import os
import signal
import subprocess
import sqlite3
import threading
import time
import unittest

import pg
from luamigtest import LUAMIG, Project, backends, main

# Busy-waits in Lua, so that the race window is wide on both databases.
SLOW = "  local t0 = os.clock() while os.clock() - t0 < %s do end\n"


def trace_revision(p, rev, down, slow="0.2", first=False):
    up = ""
    if first:
        up += '  op.execute("CREATE TABLE trace (rev VARCHAR(20), pid INTEGER)")\n'
    up += SLOW % slow
    up += '  op.execute("INSERT INTO trace (rev) VALUES (:r)", { r = "%s" })' % rev
    p.revision_file(rev, down=down, up=up)


def spawn(p, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen([LUAMIG] + list(args), cwd=p.dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e)


def runner_revision(p, rev, down, slow="0.2", first=False, extra=""):
    """A revision that records which runner (RUNNER in its environment) applied it."""
    up = ""
    if first:
        up += '  op.execute("CREATE TABLE trace (rev VARCHAR(20), runner VARCHAR(10))")\n'
    up += SLOW % slow + extra
    up += ('  op.execute("INSERT INTO trace (rev, runner) VALUES (:r, :w)", '
           '{ r = "%s", w = os.getenv("RUNNER") or "-" })' % rev)
    p.revision_file(rev, down=down, up=up)


def wait_for(what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if what():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def collect(stream):
    """Reads a child's stream in the background: [text so far, the reading thread]."""
    out = ["", None]

    def pump():
        for line in stream:
            out[0] += line
        stream.close()
    out[1] = threading.Thread(target=pump, daemon=True)
    out[1].start()
    return out


def applied(p, rev):
    try:
        return p.version_rows() == [rev]
    except sqlite3.OperationalError:  # a writer is committing
        return False


class Concurrency(unittest.TestCase):
    def test_eight_runners_apply_every_revision_once(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                trace_revision(p, "r1", None, first=True)
                trace_revision(p, "r2", "r1")
                trace_revision(p, "r3", "r2")
                procs = [spawn(p, "upgrade", "head") for _ in range(8)]
                results = [(pr.wait(timeout=120), pr.stdout.read(), pr.stderr.read())
                           for pr in procs]
                for pr in procs:
                    pr.stdout.close()
                    pr.stderr.close()
                for rc, out, err in results:
                    self.assertEqual(rc, 0, err)
                rows = sorted(r[0] for r in p.sql("SELECT rev FROM trace"))
                self.assertEqual(rows, ["r1", "r2", "r3"])
                self.assertEqual(p.version_rows(), ["r3"])
                waited = [err for _, _, err in results if "Waiting for the migration lock" in err]
                self.assertTrue(waited, "no runner waited")
                ran = [err for _, _, err in results if "Running upgrade" in err]
                self.assertEqual(len(ran), 1, "exactly one runner applies the revisions")

    def test_per_migration_runners_still_apply_once(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.set_option("transaction_per_migration", "true")
                trace_revision(p, "r1", None, first=True, slow="0.1")
                for i in range(2, 6):
                    trace_revision(p, "r%d" % i, "r%d" % (i - 1), slow="0.1")
                procs = [spawn(p, "upgrade", "head") for _ in range(4)]
                for pr in procs:
                    out, err = pr.communicate(timeout=120)
                    self.assertEqual(pr.returncode, 0, err)
                rows = sorted(r[0] for r in p.sql("SELECT rev FROM trace"))
                self.assertEqual(rows, ["r1", "r2", "r3", "r4", "r5"])
                self.assertEqual(p.version_rows(), ["r5"])

    def test_waiting_runner_names_the_holder_postgresql(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        p = Project(self, "postgresql")
        trace_revision(p, "r1", None, first=True, slow="0")
        with pg.held_lock(p.url, "luamig:luamig_version") as pid:
            pr = spawn(p, "upgrade", "head")
            deadline = time.time() + 10
            seen = ""
            os.set_blocking(pr.stderr.fileno(), False)
            while time.time() < deadline and "Waiting" not in seen:
                time.sleep(0.1)
                # raw reads: a non-blocking text read can fail mid-character
                try:
                    chunk = os.read(pr.stderr.fileno(), 65536)
                except BlockingIOError:
                    chunk = b""
                if chunk:
                    seen += chunk.decode(errors="replace")
            self.assertIn("Waiting for the migration lock on postgresql://", seen)
            self.assertIn("held by pid %d (application_name 'luamig-tests-lock'" % pid, seen)
            self.assertIsNone(pr.poll(), "must still be waiting")
            self.assertEqual(p.tables(), [])
        os.set_blocking(pr.stderr.fileno(), True)
        out, err = pr.communicate(timeout=60)
        self.assertEqual(pr.returncode, 0, seen + err)
        self.assertEqual(p.version_rows(), ["r1"])

    def test_runner_lock_timeout_fails_and_leaves_nothing(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        p = Project(self, "postgresql")
        p.set_option("runner_lock_timeout", "1")
        trace_revision(p, "r1", None, first=True, slow="0")
        with pg.held_lock(p.url, "luamig:luamig_version") as pid:
            t0 = time.time()
            r = p.fails("upgrade", "head")
            self.assertLess(time.time() - t0, 10)
            last = r.err.strip().splitlines()[-1]
            self.assertTrue(last.startswith("FAILED: Timed out after 1 s waiting for the migration "
                                            "lock on postgresql://"), last)
            self.assertIn("held by pid %d" % pid, last)
            self.assertEqual(p.tables(), [])
            # --no-lock opts out
            p.ok("upgrade", "head", "--no-lock")
        self.assertEqual(p.version_rows(), ["r1"])

    def test_sqlite_waits_for_the_write_lock(self):
        p = Project(self, "sqlite")
        trace_revision(p, "r1", None, first=True, slow="0")
        con = sqlite3.connect(p.db_path, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        pr = spawn(p, "upgrade", "head")
        time.sleep(1.0)
        self.assertIsNone(pr.poll(), "must wait while another connection writes")
        con.execute("COMMIT")
        con.close()
        out, err = pr.communicate(timeout=60)
        self.assertEqual(pr.returncode, 0, err)
        self.assertIn("Waiting for the migration lock on sqlite:///app.db", err)
        self.assertEqual(p.version_rows(), ["r1"])

    def test_sqlite_per_migration_keeps_the_lock_for_the_whole_run(self):
        # Each migration commits on its own, which ends SQLite's write lock; the runner lock
        # stays held between migrations and through an autocommit block (r2 stays there until
        # the second runner waits, and 1.5 s more), so the second runner waits for the whole
        # of the first run and then has nothing left to do.
        p = Project(self, "sqlite")
        p.set_option("transaction_per_migration", "true")
        runner_revision(p, "r1", None, first=True)
        runner_revision(p, "r2", "r1", extra=(
            "  op.get_context().autocommit_block(function()\n"
            "    local t0 = os.time()\n"
            "    while not io.open('go') and os.time() - t0 < 30 do os.execute('sleep 0.05') end\n"
            "    os.execute('sleep 1.5')\n"
            "  end)\n"))
        runner_revision(p, "r3", "r2")
        runner_revision(p, "r4", "r3")
        lock_file = p.db_path + "-luamig-lock"
        first = spawn(p, "upgrade", "head", env={"RUNNER": "first"})
        wait_for(lambda: applied(p, "r1"))
        second = spawn(p, "upgrade", "head", env={"RUNNER": "second"})
        err2 = collect(second.stderr)
        wait_for(lambda: "Waiting for the migration lock" in err2[0], timeout=30)
        p.write("go", "")
        out1, err1 = first.communicate(timeout=60)
        self.assertEqual(first.returncode, 0, err1)
        self.assertIsNone(second.poll(), "the second runner went on before the first ended")
        self.assertEqual(second.wait(timeout=60), 0, err2[0])
        err2[1].join()
        second.stdout.close()
        self.assertEqual(p.sql("SELECT rev, runner FROM trace ORDER BY rowid"),
                         [("r1", "first"), ("r2", "first"), ("r3", "first"), ("r4", "first")])
        self.assertIn("Waiting for the migration lock on sqlite:///app.db, held by pid %d "
                      "(luamig on host " % first.pid, err2[0])
        self.assertIn("Took the migration lock after", err2[0])
        self.assertNotIn("Running upgrade", err2[0])
        self.assertEqual(p.version_rows(), ["r4"])
        # the holder removes the lock file as it lets go
        self.assertFalse(os.path.exists(lock_file))

    def test_sqlite_runner_killed_holding_the_lock_leaves_no_lock(self):
        p = Project(self, "sqlite")
        p.set_option("transaction_per_migration", "true")
        runner_revision(p, "r1", None, first=True, slow="0")
        runner_revision(p, "r2", "r1", slow='(os.getenv("RUNNER") == "first" and 60 or 0)')
        lock_file = p.db_path + "-luamig-lock"
        first = spawn(p, "upgrade", "head", env={"RUNNER": "first"})
        wait_for(lambda: applied(p, "r1"))
        waiting = spawn(p, "upgrade", "head", env={"RUNNER": "second"})
        err = collect(waiting.stderr)
        wait_for(lambda: "Waiting for the migration lock" in err[0], timeout=30)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        self.assertEqual(waiting.wait(timeout=60), 0, err[0])
        err[1].join()
        waiting.stdout.close()
        self.assertEqual(p.sql("SELECT rev, runner FROM trace ORDER BY rowid"),
                         [("r1", "first"), ("r2", "second")])
        self.assertFalse(os.path.exists(lock_file))
        # a lock file left by a killed holder is no lock
        p.write("app.db-luamig-lock", "pid 1 (luamig on host gone, since long ago)\n")
        runner_revision(p, "r3", "r2", slow="0")
        r = p.ok("upgrade", "head")
        self.assertNotIn("Waiting", r.err)
        self.assertEqual(p.version_rows(), ["r3"])
        self.assertFalse(os.path.exists(lock_file))

    def test_sqlite_in_memory_needs_no_lock_file(self):
        p = Project(self, "sqlite")
        p.set_option("url", "sqlite://")
        runner_revision(p, "r1", None, first=True, slow="0")
        r = p.ok("upgrade", "head")
        self.assertIn("Running upgrade  -> r1", r.err)
        self.assertEqual(sorted(os.listdir(p.dir)), ["luamig.ini", "migrations"])

    def test_create_index_concurrently_while_another_runner_waits(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        p = Project(self, "postgresql")
        p.revision_file("r1", up='  op.execute("CREATE TABLE t (x INTEGER)")\n'
                                 '  op.execute("INSERT INTO t SELECT generate_series(1, 50000)")')
        p.revision_file("r2", down="r1", up=(
            '  op.execute("SELECT pg_sleep(1)")\n'
            '  op.get_context().autocommit_block(function()\n'
            '    op.create_index("ix_t_x", "t", { "x" }, { postgresql_concurrently = true })\n'
            '  end)'))
        first = spawn(p, "upgrade", "head")
        time.sleep(0.3)
        second = spawn(p, "upgrade", "head")
        out1, err1 = first.communicate(timeout=60)
        out2, err2 = second.communicate(timeout=60)
        self.assertEqual(first.returncode, 0, err1)
        self.assertEqual(second.returncode, 0, err2)
        self.assertIn("Waiting for the migration lock", err2)
        self.assertEqual(p.indexes("t"), ["ix_t_x"])
        valid = p.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_t_x'::regclass")
        self.assertEqual(valid, [("t",)])
        self.assertEqual(p.version_rows(), ["r2"])


if __name__ == "__main__":
    main()
