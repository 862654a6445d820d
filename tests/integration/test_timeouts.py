"""lock_timeout and statement_timeout (PostgreSQL's meaning and units) set with SET LOCAL in each
migration's transaction, from luamig.ini or the revision file; in per-migration mode a migration
cancelled by lock_timeout is rolled back and retried (lock_retries, lock_retry_delay); the runner
lock's wait is runner_lock_timeout (test_concurrency.py)."""
import subprocess
import time
import unittest

import pg
from luamigtest import Project, main

BASE = '  op.create_table("hero", sa.Column("id", sa.Integer, { primary_key = true }))'


class Timeouts(unittest.TestCase):
    def setUp(self):
        pg.skip_unless_available()
        self.p = Project(self, "postgresql")
        self.p.revision_file("r0", up=BASE)

    def test_set_local_from_the_ini_and_the_revision(self):
        p = self.p
        path = p.revision_file("r1", down="r0", up='  op.add_column("hero", sa.Column("x", sa.Integer))')
        with open(path, "a") as f:
            f.write('\nlock_timeout = "1s"\n')
        p.set_option("lock_timeout", "300ms")
        p.set_option("statement_timeout", "5min")
        out = p.ok("upgrade", "head", "--sql").out
        first, second = out.split("-- Running upgrade r0 -> r1")
        self.assertIn("SET LOCAL lock_timeout = '300ms';\n\nSET LOCAL statement_timeout = '5min';\n\n"
                      "CREATE TABLE hero", first)
        self.assertIn("SET LOCAL lock_timeout = '1s';\n\nSET LOCAL statement_timeout = '5min';\n\n"
                      "ALTER TABLE hero ADD COLUMN x INTEGER", second)

    def test_bad_value_names_the_setting_and_changes_nothing(self):
        p = self.p
        p.set_option("lock_timeout", "5 seconds")
        r = p.fails("upgrade", "head")
        self.assertEqual(r.err.strip().splitlines()[-1],
                         "FAILED: luamig.ini: lock_timeout = 5 seconds: expected a duration such "
                         "as 300ms, 5s or 1min")
        self.assertEqual(p.tables(), [])

    def test_bad_value_is_refused_on_sqlite_too(self):
        # SQLite has no such timeouts, but the ini is shared with the PostgreSQL deploy
        p = Project(self, "sqlite")
        p.revision_file("r0", up=BASE)
        for value in ["abc", "-5s", "1e400ms", "5 s; DROP TABLE x", "\x01\x02"]:
            with self.subTest(value=value):
                p.set_option("statement_timeout", value)
                r = p.fails("upgrade", "head")
                self.assertEqual(r.err.strip().splitlines()[-1],
                                 "FAILED: luamig.ini: statement_timeout = %s: expected a duration "
                                 "such as 300ms, 5s or 1min" % value)
                self.assertEqual(p.tables(), [])

    def test_a_held_lock_makes_the_migration_time_out_and_roll_back(self):
        p = self.p
        p.ok("upgrade", "r0")
        p.revision_file("r1", down="r0", up='  op.create_table("side", sa.Column("id", sa.Integer))\n'
                        '  op.add_column("hero", sa.Column("x", sa.Integer))')
        p.set_option("lock_timeout", "200ms")
        holder = subprocess.Popen(
            [pg._psql_bin(), "-X", "-q", "-d", pg._libpq_url(p.url), "-c",
             "BEGIN; LOCK TABLE hero IN ACCESS SHARE MODE; SELECT pg_sleep(4); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(holder.wait)
        time.sleep(0.5)
        t0 = time.time()
        r = p.fails("upgrade", "head")
        self.assertLess(time.time() - t0, 3.5)
        self.assertIn("lock timeout", r.err.strip().splitlines()[-1])
        self.assertEqual(p.tables(), ["hero", "luamig_version"])
        self.assertEqual(p.version_rows(), ["r0"])
        holder.wait(timeout=10)
        p.ok("upgrade", "head")
        self.assertEqual(p.version_rows(), ["r1"])

    def hold(self, seconds):
        holder = subprocess.Popen(
            [pg._psql_bin(), "-X", "-q", "-d", pg._libpq_url(self.p.url), "-c",
             "BEGIN; LOCK TABLE hero IN ACCESS SHARE MODE; SELECT pg_sleep(%g); COMMIT;" % seconds],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(holder.wait)
        # wait until the lock is held
        for _ in range(100):
            rows = pg.psql(self.p.url, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON "
                           "c.oid = l.relation JOIN pg_database d ON d.oid = l.database "
                           "WHERE c.relname = 'hero' AND l.granted AND d.datname = "
                           "current_database()")
            if rows[0][0] != "0":
                break
            time.sleep(0.05)
        return holder

    def test_per_migration_retry_succeeds_once_the_lock_is_released(self):
        p = self.p
        p.ok("upgrade", "r0")
        p.revision_file("r1", down="r0", up='  op.create_table("side", sa.Column("id", sa.Integer))\n'
                        '  op.add_column("hero", sa.Column("x", sa.Integer))')
        p.set_option("transaction_per_migration", "true")
        p.set_option("lock_timeout", "200ms")
        p.set_option("lock_retries", "6")
        p.set_option("lock_retry_delay", "200ms")
        self.hold(1.5)
        r = p.ok("upgrade", "head")
        retries = [l for l in r.err.splitlines() if "retry" in l]
        self.assertTrue(retries, r.err)
        self.assertIn("WARNING [luamig.runtime.migration] Revision r1 waited longer than "
                      "lock_timeout and was rolled back; retry 1 of 6 in 0.2 s", retries[0])
        self.assertEqual(p.version_rows(), ["r1"])
        self.assertEqual(p.tables(), ["hero", "luamig_version", "side"])
        self.assertIn("x", [c[0] for c in p.columns("hero")])

    def test_retries_run_out_and_nothing_is_half_applied(self):
        p = self.p
        p.ok("upgrade", "r0")
        p.revision_file("r1", down="r0", up='  op.create_table("side", sa.Column("id", sa.Integer))\n'
                        '  op.add_column("hero", sa.Column("x", sa.Integer))')
        p.set_option("transaction_per_migration", "true")
        p.set_option("lock_timeout", "100ms")
        p.set_option("lock_retries", "2")
        p.set_option("lock_retry_delay", "100ms")
        holder = self.hold(4)
        r = p.fails("upgrade", "head")
        self.assertEqual(len([l for l in r.err.splitlines() if "retry" in l]), 2, r.err)
        self.assertIn("lock timeout", r.err.strip().splitlines()[-1])
        self.assertEqual(p.version_rows(), ["r0"])
        self.assertEqual(p.tables(), ["hero", "luamig_version"])
        holder.wait(timeout=10)


if __name__ == "__main__":
    main()
