"""The crash suite: `luamig upgrade head` killed with SIGKILL at random
points, on both databases, per run and per migration, and the lock holder
killed while a second runner waits. After every kill the version table names
revision R exactly when the schema (and the rows the revisions insert) is the
state after R; a per-run upgrade is all or nothing; and the next
`upgrade head` finishes (no stale lock, nothing to repair).

Bounded: LUAMIG_CRASH_TRIALS kill points per database and mode (default 5);
the seed is printed so that a failure can be replayed (LUAMIG_CRASH_SEED)."""
import os
import random
import signal
import subprocess
import time
import unittest

from luamigtest import LUAMIG, Project, backends, main

REVS = ["c1", "c2", "c3", "c4"]
# A busy wait in each revision widens the windows between statements.
SLOW = "  local t0 = os.clock() while os.clock() - t0 < 0.05 do end\n"


def up_of(i, rev):
    return ("  op.create_table(\"t%d\", sa.Column(\"id\", sa.Integer, { primary_key = true }))\n"
            "%s"
            "  op.execute(\"INSERT INTO t%d (id) VALUES (1), (2), (3)\")\n"
            "%s"
            "  op.add_column(\"t%d\", sa.Column(\"note\", sa.String(20)))\n"
            "  op.create_index(\"ix_t%d_note\", \"t%d\", { \"note\" })") % (
                i, SLOW, i, SLOW, i, i, i)


def make_history(p):
    down = None
    for i, rev in enumerate(REVS, 1):
        p.revision_file(rev, down=down, up=up_of(i, rev),
                        downgrade='  op.drop_table("t%d")' % i)
        down = rev


def state(p):
    """The schema without luamig's own table, and the rows of every table."""
    tables = [t for t in p.tables() if t != "luamig_version"]
    schema = [s for s in p.schema() if "luamig_version" not in repr(s)]
    rows = {t: sorted(map(repr, p.sql("SELECT * FROM %s" % t))) for t in tables}
    return schema, rows


def spawn(p, *args):
    return subprocess.Popen([LUAMIG] + list(args), cwd=p.dir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


class Crash(unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("LUAMIG_CRASH_SEED") or time.time_ns() % 1000000)
        self.trials = int(os.environ.get("LUAMIG_CRASH_TRIALS") or 5)
        print("crash suite seed %d, %d trials per case" % (self.seed, self.trials), flush=True)
        self.rng = random.Random(self.seed)

    def reference(self, backend, per_migration):
        """The state after each revision, and how long a whole run takes."""
        p = Project(self, backend)
        if per_migration:
            p.set_option("transaction_per_migration", "true")
        make_history(p)
        states = {None: state(p)}
        for rev in REVS:
            p.ok("upgrade", "+1")
            states[rev] = state(p)
        p.ok("downgrade", "base")
        t0 = time.monotonic()
        p.ok("upgrade", "head")
        return states, time.monotonic() - t0

    def check(self, p, states, per_migration, what):
        rows = p.version_rows()
        head = rows[0] if rows else None
        self.assertLessEqual(len(rows or []), 1, what)
        if not per_migration:
            self.assertIn(head, (None, REVS[-1]), "per run is all or nothing: " + what)
        self.assertEqual(state(p), states[head], "the schema is not the one after %s: %s"
                         % (head, what))
        return head

    def test_sigkill_at_random_points(self):
        for backend in backends():
            for per_migration in (False, True):
                mode = "per migration" if per_migration else "per run"
                with self.subTest(backend=backend, mode=mode):
                    states, took = self.reference(backend, per_migration)
                    seen = set()
                    for trial in range(self.trials):
                        p = Project(self, backend)
                        if per_migration:
                            p.set_option("transaction_per_migration", "true")
                        make_history(p)
                        delay = self.rng.uniform(0.0, took * 1.2)
                        proc = spawn(p, "upgrade", "head")
                        time.sleep(delay)
                        proc.send_signal(signal.SIGKILL)
                        proc.wait(timeout=60)
                        proc.stderr.close()
                        what = "%s, %s, killed after %.3f s (seed %d)" % (
                            backend, mode, delay, self.seed)
                        seen.add(self.check(p, states, per_migration, what))
                        # the next run finishes: no stale lock, nothing to repair
                        r = p.run("upgrade", "head")
                        self.assertEqual(r.rc, 0, repr(r) + what)
                        self.check(p, states, per_migration, what + ", then rerun")
                        self.assertEqual(p.version_rows(), [REVS[-1]])
                    print("%s, %s: heads seen after a kill: %s" % (
                        backend, mode, sorted(map(str, seen))), flush=True)

    def test_lock_holder_killed_while_another_waits(self):
        for backend in backends():
            for per_migration in (False, True):
                mode = "per migration" if per_migration else "per run"
                with self.subTest(backend=backend, mode=mode):
                    states, took = self.reference(backend, per_migration)
                    p = Project(self, backend)
                    if per_migration:
                        p.set_option("transaction_per_migration", "true")
                    make_history(p)
                    holder = spawn(p, "upgrade", "head")
                    time.sleep(took * 0.4)
                    waiter = subprocess.Popen([LUAMIG, "upgrade", "head"], cwd=p.dir,
                                              stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE, text=True)
                    time.sleep(min(0.2, took * 0.2))
                    holder.send_signal(signal.SIGKILL)
                    holder.wait(timeout=60)
                    holder.stderr.close()
                    _, err = waiter.communicate(timeout=120)
                    self.assertEqual(waiter.returncode, 0, err)
                    self.check(p, states, per_migration, "%s, %s, waiter after kill" % (
                        backend, mode))
                    self.assertEqual(p.version_rows(), [REVS[-1]])


if __name__ == "__main__":
    main()
