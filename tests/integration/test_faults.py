"""Fault injection (core/fault.h, in builds with -DLUAMIG_FAULT_INJECTION=ON):
a representative upgrade and downgrade on SQLite and PostgreSQL, per run and
per migration, with every database call of the run made to fail in turn (the
Nth statement, the Nth BEGIN, the Nth COMMIT, the connection lost at the Nth
call) and a seeded sample of allocations made to fail (luamig's, Lua's,
SQLite's). After each faulty run:

  - the exit status is 1 and stderr ends with one line, "FAILED: ...",
    naming the fault (its statement, the lost connection, the memory), with
    no traceback and no sanitizer report; or, when the fault came after the
    last commit (or SQLite absorbed a failed allocation), the run completed
    and the database is at the target;
  - the database is exactly the state before the run (per run), or the
    state after the last migration that completed (per migration; a fault
    after a migration's commit leaves it applied and named by the version
    table): schema, rows, version table, and the audit history's successful
    rows;
  - a following clean `upgrade head` succeeds (no stale lock).

Each configuration first counts (LUAMIG_FAULT=count) how many statements,
commits, calls and allocations its run makes. The sample of allocations is
seeded (LUAMIG_FAULT_SEED; printed) and bounded (LUAMIG_FAULT_ALLOC_POINTS
per configuration); LUAMIG_FAULT_CONFIGS="postgresql, per run" sweeps only
the configurations whose name holds that text. The table of what was
swept, and the outcomes, is printed at the end."""
import collections
import concurrent.futures
import json
import os
import random
import re
import sqlite3
import time
import unittest

import pg
from luamigtest import Project, backends, main, run

REVS = ["a1", "a2", "a3"]
MESSAGES = {"a1": "accounts", "a2": "email", "a3": "drop legacy"}
UP = {
    "a1": '''  op.create_table("account",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50), { nullable = false }),
    sa.Column("legacy", sa.String(10)))
  local account = sa.table("account", sa.column("id", sa.Integer), sa.column("name", sa.String))
  op.bulk_insert(account, { { id = 1, name = "ann" }, { id = 2, name = "bob" } })
  op.execute("INSERT INTO account (id, name, legacy) VALUES (3, 'cy', 'x')")''',
    "a2": '''  op.add_column("account", sa.Column("email", sa.String(100)))
  op.execute("UPDATE account SET email = name || '@example.org'")
  op.create_index("ix_account_email", "account", { "email" }, { unique = true })''',
    # a batch operation: a table rebuild on SQLite, ALTERs on PostgreSQL
    "a3": '''  op.batch_alter_table("account", function(b)
    b.drop_column("legacy")
    b.alter_column("email", { existing_type = sa.String(100), nullable = false,
      server_default = "none" })
  end)''',
}
DOWN = {
    "a1": '  op.drop_table("account")',
    "a2": '''  op.drop_index("ix_account_email", { table_name = "account" })
  op.drop_column("account", "email")''',
    "a3": '''  op.batch_alter_table("account", function(b)
    b.alter_column("email", { existing_type = sa.String(100), nullable = true,
      server_default = nil })
    b.add_column(sa.Column("legacy", sa.String(10)))
  end)''',
}

# What a lost connection says, per database.
LOST = ("[SQLITE_MISUSE] Cannot operate on a closed database.",
        "server closed the connection unexpectedly", "no connection to the server",
        "could not send data to server", "could not receive data from server",
        "connection not open")
# What running out of memory says: luamig's C, Lua, SQLite; and SQLite's
# CANTOPEN when an allocation failed while it opened its temporary database
# (a table rebuild's ALTER TABLE ... RENAME).
MEMORY = ("out of memory", "not enough memory",
          "unable to open a temporary database file")
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
             "runtime error:", "stack traceback", "Traceback")

# One query for the whole state of a PostgreSQL database: the schema (the
# audit history's own table left out: a failed step records its failure in
# a transaction of its own), every table's rows, and the successful history
# rows.
PG_STATE = r"""
SELECT json_build_object(
 'relations', (SELECT coalesce(json_agg(json_build_array(c.relname, c.relkind)
     ORDER BY c.relname), '[]') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relname NOT LIKE 'luamig\_history%'),
 'columns', (SELECT coalesce(json_agg(json_build_array(c.relname, a.attname,
     format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
     ORDER BY c.relname, a.attnum), '[]')
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
     AND c.relname <> 'luamig_history'),
 'indexes', (SELECT coalesce(json_agg(json_build_array(indexname, indexdef) ORDER BY indexname),
     '[]') FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'luamig_history'),
 'constraints', (SELECT coalesce(json_agg(json_build_array(c.relname, k.conname,
     pg_get_constraintdef(k.oid)) ORDER BY c.relname, k.conname), '[]')
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relname <> 'luamig_history'),
 'rows', (SELECT coalesce(json_object_agg(c.relname, query_to_xml(
     format('SELECT * FROM public.%I ORDER BY 1', c.relname), true, false, '')::text), '{}')
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'luamig_history'),
 'history', (SELECT CASE WHEN to_regclass('public.luamig_history') IS NOT NULL THEN
     query_to_xml('SELECT id, revision, operation FROM public.luamig_history WHERE success
     ORDER BY id', true, false, '')::text END))::text
"""


def history_rows(xml):
    return [(int(i), r, o) for i, r, o in re.findall(
        r"<id>(\d+)</id>\s*<revision>([^<]*)</revision>\s*<operation>([^<]*)</operation>",
        xml or "")]


class State:
    """A database's state: snapshot (the schema and every table's rows, the
    audit history's own table left out: a failed step records its failure
    in a transaction of its own), history (its successful rows: (id,
    revision, operation)) and version (the version table's one row, or
    None)."""

    def __init__(self, p):
        if p.backend == "sqlite":
            self.snapshot, self.history, versions = sqlite_state(p)
        else:
            s = json.loads(pg.psql(p.url, PG_STATE)[0][0])
            self.history = history_rows(s.pop("history"))
            self.snapshot = json.dumps(s, sort_keys=True)
            versions = re.findall(r"<version_num>([^<]*)</version_num>",
                                  s["rows"].get("luamig_version", ""))
        self.version = versions[0] if versions else None

    def last_id(self):
        return self.history[-1][0] if self.history else 0


def sqlite_state(p):
    if not os.path.exists(p.db_path):
        return ((), ()), [], []
    con = sqlite3.connect(p.db_path)
    try:
        master = sorted(tuple(r) for r in con.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name <> 'luamig_history'"))
        rows = tuple((t, tuple(sorted(map(repr, con.execute('SELECT * FROM "%s"' % t)))))
                     for (kind, t, _, _) in master if kind == "table")
        hist, versions = [], []
        names = [m[1] for m in master]
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'luamig_history'").fetchall():
            hist = [tuple(r) for r in con.execute(
                "SELECT id, revision, operation FROM luamig_history WHERE success ORDER BY id")]
        if "luamig_version" in names:
            versions = [r[0] for r in con.execute("SELECT version_num FROM luamig_version")]
        return (tuple(master), rows), hist, versions
    finally:
        con.close()


def reset(p):
    """An empty database."""
    if p.backend == "sqlite":
        for suffix in ("", "-journal"):
            if os.path.exists(p.db_path + suffix):
                os.remove(p.db_path + suffix)
    else:
        p.sql_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")


def read_log(path):
    """(counts dict, fired (kind, n) or None, [(call no, kind, alloc at the call)])."""
    counts, fired, calls = {}, None, []
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "counts":
                counts = {k: int(v) for k, v in (x.split("=") for x in w[1:])}
            elif w[0] == "fired":
                fired = (w[1], int(w[2]))
            elif w[0] == "call":
                calls.append((int(w[1]), w[2], int(w[4].split("=")[1])))
    return counts, fired, calls


class Config:
    def __init__(self, test, backend, per_migration, direction):
        self.backend, self.per_migration, self.direction = backend, per_migration, direction
        self.name = "%s, %s, %s" % (backend, "per migration" if per_migration else "per run",
                                    direction)
        self.p = Project(test, backend)
        self.p.set_option("history_table", "luamig_history")
        if per_migration:
            self.p.set_option("transaction_per_migration", "true")
        down = None
        for rev in REVS:
            self.p.revision_file(rev, down=down, up=UP[rev], downgrade=DOWN[rev],
                                 message=MESSAGES[rev])
            down = rev
        self.log = self.p.path("fault.log")
        self.failures = []
        self.rows = []  # (kind, points swept, outcomes, points where the run completed)

    def luamig(self, *args, fault=None):
        """Runs luamig with a fault; without one (the clean runs around the
        faulty ones, which other tests cover), without the leak check."""
        if fault:
            env = {"LUAMIG_FAULT": fault, "LUAMIG_FAULT_LOG": self.log}
        else:
            env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                   ":detect_leaks=0:malloc_context_size=0"}
        return run(args, cwd=self.p.dir, env=env)

    def must(self, *args):
        r = self.luamig(*args)
        if r.rc != 0:
            raise AssertionError("%s: %r" % (self.name, r))
        return r


class Faults(unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("LUAMIG_FAULT_SEED") or time.time_ns() % 1000000)
        self.alloc_points = int(os.environ.get("LUAMIG_FAULT_ALLOC_POINTS") or 20)
        print("fault sweep seed %d, %d allocation points per configuration" % (
            self.seed, self.alloc_points), flush=True)
        probe = run(["--version"], env={"LUAMIG_FAULT": "count",
                                        "LUAMIG_FAULT_LOG": os.devnull})
        r = run(["--version"], env={"LUAMIG_FAULT": "stmt:x"})
        if r.rc != 2:
            if pg.under_ci():
                self.fail("the binary ignores LUAMIG_FAULT: build with -DLUAMIG_FAULT_INJECTION=ON")
            self.skipTest("the binary was built without -DLUAMIG_FAULT_INJECTION=ON")
        self.assertEqual(r.err, "FAILED: LUAMIG_FAULT='stmt:x': expected count, or stmt, begin, "
                         "commit, drop or alloc, ':', a number from 1 (alloc:N+ fails from the "
                         "Nth on)\n")
        self.assertEqual(probe.rc, 0, repr(probe))

    # -- one configuration -------------------------------------------------------
    def prepare(self, c):
        """The states along the direction's path (by version), the start
        state, and the counting run's totals and call trace."""
        p = c.p
        reset(p)
        up_states = {None: State(p).snapshot}
        for rev in REVS:
            c.must("upgrade", "+1")
            up_states[rev] = State(p).snapshot
        c.head = up_states[REVS[-1]]
        if c.direction == "upgrade":
            c.path = [None] + REVS
            c.states = up_states
            reset(p)
        else:
            c.path = list(reversed(REVS)) + [None]
            c.states = {REVS[-1]: c.head}
            for rev in reversed(REVS):
                c.must("downgrade", "-1")
                st = State(p)
                c.states[st.version] = st.snapshot
            c.must("upgrade", "head")
        c.base_id = State(p).last_id() if c.direction == "downgrade" else 0
        c.target = c.path[-1]
        c.start_state = c.states[c.path[0]]
        r = c.luamig(*self.command(c), fault="count")
        self.assertEqual(r.rc, 0, repr(r))
        c.counts, _, c.calls = read_log(c.log)
        self.to_start(c, None)

    def command(self, c):
        return ["upgrade", "head"] if c.direction == "upgrade" else ["downgrade", "base"]

    def to_start(self, c, now):
        """Back to the start state, from the state now (None: unknown),
        with the audit history the counting run found: a run reads all of
        it (its checksum check), so that more rows would shift where its
        allocations fall."""
        if c.direction == "upgrade":
            reset(c.p)
            return
        if now is None or now.snapshot != c.head:
            c.must("upgrade", "head")
        c.p.sql_exec("DELETE FROM luamig_history WHERE id > %d" % c.base_id)

    def alloc_sample(self, c, rng):
        """Allocation numbers to fail: two before the first database call,
        the two right after each BEGIN and COMMIT and after three random
        calls (inside the driver, and SQLite's), every k-th over the rest
        with a random phase; and one point from which every allocation
        fails."""
        total = c.counts["alloc"]
        first = c.calls[0][2] if c.calls else total
        points = {rng.randint(1, first) for _ in range(2)}
        around = [a for (_, kind, a) in c.calls if kind in ("begin", "commit")]
        others = [a for (_, kind, a) in c.calls if kind not in ("begin", "commit")]
        around += rng.sample(others, min(3, len(others)))
        for a in around:
            points.update(x for x in (a + 1, a + 2) if x <= total)
        k = max(1, (total - first) // max(1, self.alloc_points - len(points)))
        points.update(range(first + rng.randrange(k), total + 1, k))
        return [("alloc", n, False) for n in sorted(points)] + \
            [("alloc", rng.randint(first, total), True)]

    def sweep(self, c):
        rng = random.Random("%d %s" % (self.seed, c.name))
        self.prepare(c)
        points = []
        for kind in ("stmt", "begin", "commit", "drop"):
            total = c.counts["call" if kind == "drop" else kind]
            points += [(kind, n, False) for n in range(1, total + 1)]
        points += self.alloc_sample(c, rng)
        outcomes = collections.OrderedDict()
        for kind, n, persistent in points:
            outcome = self.one(c, kind, n, persistent)
            key = kind + ("+" if persistent else "")
            outcomes.setdefault(key, []).append((n, outcome))
        for key, results in outcomes.items():
            c.rows.append((key, [n for n, _ in results],
                           collections.Counter(o for _, o in results),
                           [n for n, o in results if o == "completed"]))

    def one(self, c, kind, n, persistent):
        """Runs the command with one fault; checks it; returns the outcome."""
        p = c.p
        spec = "%s:%d%s" % (kind, n, "+" if persistent else "")
        what = "%s, LUAMIG_FAULT=%s (seed %d)" % (c.name, spec, self.seed)
        r = c.luamig(*self.command(c), fault=spec)
        _, fired, _ = read_log(c.log)
        st = State(p)
        after, version = st.snapshot, st.version
        steps = [(rev, op) for (i, rev, op) in st.history if i > c.base_id]
        problems = []
        for bad in SANITIZER:
            if bad in r.err:
                problems.append("stderr holds %r" % bad)
        if r.rc == 0:
            outcome = "completed"
            if "FAILED" in r.err:
                problems.append("exit status 0 after a FAILED line")
            if after != c.states[c.target]:
                problems.append("exit status 0 but the database is not at the target")
        else:
            lines = r.err.rstrip("\n").split("\n")
            failed = [line for line in lines if line.startswith("FAILED:")]
            if r.rc != 1:
                problems.append("exit status %d" % r.rc)
            if len(failed) != 1 or lines[-1] != failed[0]:
                problems.append("stderr does not end with one FAILED line")
            line = failed[-1] if failed else ""
            if fired is None:
                problems.append("failed, but the fault never fired")
            elif kind in ("stmt", "begin", "commit"):
                label = {"stmt": "statement", "begin": "begin", "commit": "commit"}[kind]
                if "injected fault: %s %d" % (label, n) not in line:
                    problems.append("the FAILED line does not name the injected fault")
            elif kind == "drop":
                if not any(m in line for m in LOST):
                    problems.append("the FAILED line does not say the connection was lost")
            elif not any(m in line for m in MEMORY):
                problems.append("the FAILED line does not say out of memory")
            if version not in c.path:
                problems.append("version %r is not on the path" % version)
            elif not c.per_migration:
                outcome = "rolled back"
                if after != c.start_state:
                    problems.append("per run, but the database is not as before the run")
            else:
                done = c.path.index(version)
                outcome = "rolled back" if done == 0 else "kept %d of %d" % (done, len(REVS))
                if after != c.states[version]:
                    problems.append("the database is not the state after %s" % version)
                want = [(rev, c.direction) for rev in (
                    REVS[:done] if c.direction == "upgrade" else list(reversed(REVS))[:done])]
                if steps != want:
                    problems.append("history rows %r, expected %r" % (steps, want))
        if not c.per_migration and r.rc != 0 and steps:
            problems.append("a failed run left successful history rows %r" % steps)
        follow = c.luamig("upgrade", "head")
        now = State(p) if follow.rc == 0 else None
        if follow.rc != 0:
            problems.append("the following upgrade head failed: %r" % follow)
        elif now.snapshot != c.head:
            problems.append("after the following upgrade head, the database is not at head")
        if problems:
            c.failures.append("%s: %s\n%r" % (what, "; ".join(problems), r))
            outcome = "FAILED CHECK"
        self.to_start(c, now)
        return outcome

    # -- the test --------------------------------------------------------------------
    def test_every_fault_point(self):
        only = os.environ.get("LUAMIG_FAULT_CONFIGS")  # e.g. "postgresql, per run"
        configs = [Config(self, b, pm, d) for b in backends() for pm in (False, True)
                   for d in ("upgrade", "downgrade")
                   if not only or only in "%s, %s, %s" % (
                       b, "per migration" if pm else "per run", d)]
        jobs = int(os.environ.get("LUAMIG_FAULT_JOBS") or 2)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for f in [pool.submit(self.sweep, c) for c in configs]:
                f.result()
        print("\n%d configurations swept in %.0f s" % (len(configs), time.monotonic() - t0))
        print("| backend, mode, direction | fault | N swept | outcomes |")
        print("|---|---|---|---|")
        for c in configs:
            for key, ns, outcomes, completed in c.rows:
                print("| %s | %s | %s (%d runs) | %s%s |" % (
                    c.name, key, spans(ns), len(ns),
                    ", ".join("%s: %d" % kv for kv in sorted(outcomes.items())),
                    " (completed at %s)" % spans(completed) if completed else ""))
        failures = [f for c in configs for f in c.failures]
        for f in failures:
            print("FAILED CHECK: " + f.split("\n")[0])
        self.assertEqual(failures, [], "\n\n".join(failures[:10]))


def spans(ns):
    """[1, 2, 3, 7, 9, 10] -> '1-3, 7, 9-10' (at most a few spans shown)."""
    out, start = [], None
    for i, n in enumerate(ns):
        if start is None:
            start = n
        if i + 1 == len(ns) or ns[i + 1] != n + 1:
            out.append(str(start) if start == n else "%d-%d" % (start, n))
            start = None
    return ", ".join(out) if len(out) <= 4 else "%s, ... %s (%d spans)" % (
        ", ".join(out[:2]), out[-1], len(out))


if __name__ == "__main__":
    main()
