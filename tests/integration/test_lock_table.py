"""The runner lock as a lock row (runner_lock = table), as luamig takes it on CockroachDB and
YugabyteDB, which have no advisory locks; forced here on PostgreSQL. Two runners serialize and
the waiting one names the holder (pid@host) from the row; no advisory lock is taken; a lease
is renewed while a long migration runs, so a second runner keeps waiting; the row of a runner
killed with SIGKILL stays until its lease runs out and is then taken over; a normal run leaves
no row."""
import os
import signal
import socket
import subprocess
import time
import unittest

import pg
from luamigtest import LUAMIG, Project, main

R1_UP = '  op.create_table("account", sa.Column("id", sa.Integer, { primary_key = true }))'


def wait_for(what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = what()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out")


class LockTable(unittest.TestCase):
    def setUp(self):
        pg.skip_unless_available()
        self.p = Project(self, "postgresql", history=True)
        self.p.set_option("runner_lock", "table")
        self.p.revision_file("r1", up=R1_UP, downgrade='  op.drop_table("account")')

    def slow_r2(self, seconds):
        self.p.revision_file("r2", down="r1", up='  op.execute("SELECT pg_sleep(%s)")' % seconds,
                             name="0002_r2.lua")

    def rows(self):
        if self.p.sql("SELECT to_regclass('luamig_lock') IS NULL") == [("t",)]:
            return []
        return self.p.sql("SELECT key, holder FROM luamig_lock")

    def spawn(self, *args):
        return subprocess.Popen([LUAMIG] + list(args), cwd=self.p.dir, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def applied(self):
        return self.p.sql("SELECT revision, success FROM luamig_history ORDER BY id")

    def test_two_runners_serialize_and_the_holder_is_shown(self):
        self.slow_r2("1.5")
        a = self.spawn("upgrade", "head")
        held = wait_for(self.rows)
        holder = "%d@%s" % (a.pid, socket.gethostname())
        self.assertEqual(held, [("luamig:luamig_version", holder)])
        self.assertEqual(pg.advisory_locks(self.p.url), 0)
        b = self.spawn("upgrade", "head")
        _, err_a = a.communicate(timeout=60)
        _, err_b = b.communicate(timeout=60)
        self.assertEqual((a.returncode, b.returncode), (0, 0), err_a + err_b)
        self.assertIn("Waiting for the migration lock on postgresql://", err_b)
        self.assertIn(", held by %s (lock row in luamig_lock since " % holder, err_b)
        self.assertEqual(self.applied(), [("r1", "t"), ("r2", "t")])
        # a normal run deletes its row
        self.assertEqual(self.rows(), [])

    def test_the_lease_is_renewed_while_a_long_migration_runs(self):
        self.p.set_option("runner_lock_lease", "1")
        self.slow_r2("3")
        a = self.spawn("upgrade", "head")
        wait_for(self.rows)
        time.sleep(2)  # two leases later, still held: renewed
        self.assertEqual(self.p.sql("SELECT holder, expires_at > now() FROM luamig_lock"),
                         [("%d@%s" % (a.pid, socket.gethostname()), "t")])
        b = self.spawn("upgrade", "head")
        _, err_a = a.communicate(timeout=60)
        _, err_b = b.communicate(timeout=60)
        self.assertEqual((a.returncode, b.returncode), (0, 0), err_a + err_b)
        self.assertIn("Waiting for the migration lock", err_b)
        self.assertEqual(self.applied(), [("r1", "t"), ("r2", "t")])
        self.assertEqual(self.rows(), [])

    def test_a_killed_runner_lease_expires_and_is_taken_over(self):
        self.p.set_option("runner_lock_lease", "3")
        self.p.ok("upgrade", "r1")
        self.slow_r2("60")
        a = self.spawn("upgrade", "head")
        wait_for(lambda: pg.psql(self.p.url, "SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                                 "'SELECT pg_sleep(60)%' AND " + pg.THIS_DATABASE))
        a.send_signal(signal.SIGKILL)
        a.communicate(timeout=30)
        # the killed runner's statement goes too (a dead client's session ends at the next
        # packet; a sleeping one is told to)
        pg.psql(self.p.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                "query LIKE 'SELECT pg_sleep(60)%' AND pid <> pg_backend_pid() AND " + pg.THIS_DATABASE)
        holder = "%d@%s" % (a.pid, socket.gethostname())
        self.assertEqual(self.rows(), [("luamig:luamig_version", holder)])
        self.slow_r2("0")
        t0 = time.time()
        r = self.p.ok("upgrade", "head")
        self.assertIn("held by %s (lock row in luamig_lock" % holder, r.err)
        self.assertIn("Took the migration lock after", r.err)
        self.assertLess(time.time() - t0, 20)
        self.assertEqual(self.p.version_rows(), ["r2"])
        self.assertEqual(self.rows(), [])

    def test_bad_settings(self):
        for key, value, line in [
                ("runner_lock", "rows", "FAILED: runner_lock must be auto, advisory or table, "
                 "not 'rows'"),
                ("runner_lock_lease", "0", "FAILED: runner_lock_lease must be a number of "
                 "seconds above 0, not '0'")]:
            self.p.set_option("runner_lock", "table")
            self.p.set_option(key, value)
            r = self.p.fails("upgrade", "head")
            self.assertEqual(r.err, line + "\n")
            self.assertEqual(self.p.tables(), [])
            self.p.remove_option("runner_lock_lease")


if __name__ == "__main__":
    main()
