"""A fresh PostgreSQL database upgraded through many revisions in one transaction can overflow
the server's lock table ("out of shared memory": every table the run creates keeps its locks
until the transaction ends, and the table has max_locks_per_transaction x max_connections
slots). luamig rolls the whole run back and says what to do — transaction_per_migration,
max_locks_per_transaction, or a checkpoint — and with transaction_per_migration the same
history runs. A plan that surely cannot fit (its tables and indexes alone are more than twice
the lock table's slots) is refused before its first step, with the same advice.

The test starts a PostgreSQL server of its own with a small lock table
(max_locks_per_transaction = 10, max_connections = 10: about 100 slots; a transaction creating
86 tables with their sequences and indexes overflows it), so that the suite's
shared server is never starved of locks."""
import os
import re
import subprocess
import sys
import unittest

import pg
from luamigtest import Project, backends, main, temp_dir

FIXTURE = os.path.join(os.environ.get("LUAMIG_SOURCE_DIR", "."), "tests", "pg", "pg_fixture.py")


class TestLockTable(unittest.TestCase):

    def setUp(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL is not available")
        tmp = temp_dir(self, "pgsmall")
        env = dict(os.environ, LUAMIG_PG_FIXTURE_OPTS="-c max_locks_per_transaction=10 "
                   "-c max_connections=10")
        r = subprocess.run([sys.executable, FIXTURE, "start", tmp], env=env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(subprocess.run, [sys.executable, FIXTURE, "stop", tmp],
                        capture_output=True, timeout=300)
        values = {}
        with open(os.path.join(tmp, "pg.env")) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("=")
                values[key] = value.strip("'")
        self.url = values["LUAMIG_TEST_PG_URL"]

    def history(self, n, first=""):
        p = Project(self, "postgresql", url=self.url)
        prev = None
        for i in range(1, n + 1):
            rev = "r%04d" % i
            p.revision_file(rev, prev, first + '  op.create_table("t%d", sa.Column("id", sa.Integer, '
                            '{ primary_key = true }), sa.Column("name", sa.String(20)))\n'
                            '  op.create_index("ix_t%d_name", "t%d", { "name" })' % (i, i, i),
                            '  op.drop_table("t%d")' % i, message="table %d" % i)
            prev = rev
        return p

    def test_overflow_is_rolled_back_with_advice(self):
        p = self.history(150)
        r = p.fails("upgrade", "head")
        last = r.err.strip().split("\n")[-1]
        self.assert_rolled_back(last, r"migrations/versions/\d{4}_r\d{4}\.lua",
                                "one transaction holding the locks of every migration of the run "
                                "overflowed the server's lock table (max_locks_per_transaction x "
                                "max_connections); nothing was applied. Set "
                                "transaction_per_migration = true in luamig.ini (each migration "
                                "commits and releases its locks), raise max_locks_per_transaction "
                                "on the server, or start fresh databases from a checkpoint "
                                "(luamig checkpoint)")
        p.set_option("transaction_per_migration", "true")
        p.ok("upgrade", "head")
        self.assertEqual(p.version_rows(), ["r0150"])
        self.assertEqual(len(pg.table_names(self.url)), 151)

    def assert_rolled_back(self, line, where, advice):
        """line: a run's FAILED line for a statement of the file `where` (a pattern) that
        overflowed the lock table, then `advice`; and the database has no table."""
        self.assertRegex(line, r"^FAILED: upgrade of revision r\d{4} failed at " + where
                         + r":\d+: .*out of shared memory.*; " + re.escape(advice) + "$")
        self.assertEqual(pg.table_names(self.url), [])

    def slots(self):
        """The server's lock table slots, as PostgreSQL sizes it."""
        return int(pg.psql(self.url, "SELECT current_setting('max_locks_per_transaction')::int * "
                           "(current_setting('max_connections')::int + "
                           "current_setting('autovacuum_max_workers')::int + 1 + "
                           "current_setting('max_worker_processes')::int + "
                           "current_setting('max_wal_senders')::int + "
                           "current_setting('max_prepared_transactions')::int)")[0][0])

    def test_a_plan_that_cannot_fit_stops_before_its_first_step(self):
        p = self.history(300)
        slots = self.slots()
        r = p.fails("upgrade", "head")
        # 300 tables, their primary keys and their indexes: 900 relations
        self.assertEqual(r.err.strip().split("\n")[-1],
                         "FAILED: these 300 migrations run in one transaction that would hold "
                         "locks on at least 900 tables and indexes until it ends, more than the "
                         "server's lock table can hold (%d slots: max_locks_per_transaction x "
                         "(max_connections + the server's other processes + "
                         "max_prepared_transactions)); nothing was applied. Set "
                         "transaction_per_migration = true in luamig.ini (each migration commits "
                         "and releases its locks), raise max_locks_per_transaction on the server, "
                         "or start fresh databases from a checkpoint (luamig checkpoint)" % slots)
        self.assertNotIn("Running upgrade", r.err)
        self.assertEqual(pg.table_names(self.url), [])
        p.set_option("transaction_per_migration", "true")
        p.ok("upgrade", "head")
        self.assertEqual(p.version_rows(), ["r0300"])

    def test_a_checkpoint_that_cannot_fit_is_refused_before_it_is_written(self):
        """A checkpoint is one step: its one transaction would lock each of the 300 tables,
        primary keys, sequences and indexes it creates (and the version table and its key):
        refused after the replay, before it is rendered, naming max_locks_per_transaction."""
        p = self.history(300)
        p.set_option("transaction_per_migration", "true")
        r = p.fails("checkpoint")
        self.assertEqual(r.err.strip().split("\n")[-1],
                         "FAILED: luamig checkpoint: the checkpoint would be one transaction "
                         "creating 1202 tables, indexes and sequences, holding a lock on each "
                         "until it ends: more than the server's lock table can hold (%d slots: "
                         "max_locks_per_transaction x (max_connections + the server's other "
                         "processes + max_prepared_transactions)); nothing was written. Raise "
                         "max_locks_per_transaction on the server (for this command and for the "
                         "upgrades that will run the checkpoint), or checkpoint an earlier "
                         "revision" % self.slots())
        folder = p.path("migrations/checkpoints")
        self.assertEqual(os.listdir(folder) if os.path.isdir(folder) else [], [])
        self.assertEqual(pg.table_names(self.url), [])

    def test_a_checkpoint_written_elsewhere_that_overflows_says_so(self):
        """A checkpoint of 150 tables written on a server with a larger lock table (the suite's),
        run on this one's fresh database: its one transaction overflows, is rolled back, and the
        advice is for a checkpoint (raise max_locks_per_transaction or --no-checkpoints), with
        transaction_per_migration on or off; --no-checkpoints then works."""
        p = self.history(150)
        p.set_option("transaction_per_migration", "true")
        big = "cpbig_%d" % (os.getpid() % 100000)
        pg.drop_database(big)
        self.addCleanup(pg.drop_database, big)
        p.set_option("url", pg.create_database(big))
        p.ok("checkpoint")
        p.set_option("url", self.url)
        for per_migration in ("true", "false"):
            p.set_option("transaction_per_migration", per_migration)
            r = p.fails("upgrade", "head")
            self.assert_rolled_back(r.err.strip().split("\n")[-1],
                                    r"migrations/checkpoints/r0150_postgresql\.lua",
                                    "the checkpoint is one transaction creating the whole schema "
                                    "it stands for, and its locks overflowed the server's lock "
                                    "table (max_locks_per_transaction x max_connections); nothing "
                                    "was applied. Raise max_locks_per_transaction on the server, "
                                    "or upgrade with --no-checkpoints (the revisions replayed, "
                                    "each in its transaction with transaction_per_migration = "
                                    "true)")
        p.set_option("transaction_per_migration", "true")
        p.ok("upgrade", "head", "--no-checkpoints")
        self.assertEqual(p.version_rows(), ["r0150"])

    def test_revisions_that_read_the_database_are_not_counted_and_the_run_goes_on(self):
        # the count runs each revision without a database: code that reads it cannot be
        # counted, so nothing is sure before the run, and the overflow is rolled back
        p = self.history(300, first='  op.get_context():query("SELECT 1")\n')
        r = p.fails("upgrade", "head")
        last = r.err.strip().split("\n")[-1]
        self.assertIn("out of shared memory", last)
        self.assertIn("overflowed the server's lock table", last)
        self.assertIn("Running upgrade", r.err)
        self.assertEqual(pg.table_names(self.url), [])


if __name__ == "__main__":
    main()
