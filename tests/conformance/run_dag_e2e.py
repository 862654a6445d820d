#!/usr/bin/env python3
"""The revision DAG conformance cases, end to end through the real binary.

usage: run_dag_e2e.py --luamig PATH --dialect sqlite|postgresql
                      [--every K] [-v] CASE.json [CASE.json ...]

For each case of tests/conformance/dag/*.json (format: that folder's
README) this writes a luamig project: one Lua revision file per `dag` entry
(same id, down_revision, branch_labels, depends_on and message; files named
NNNN_<rev>.lua so that load order is the `dag` order) whose upgrade() and
downgrade() each append (direction, revision, version rows at that moment)
to a `trace` table with op.execute("INSERT INTO trace ..."), and print a
"TRACE <dir> <rev>" line that survives a rollback. Then, per query, it
spawns `luamig` as a user would:

  upgrade / downgrade / stamp   the database is reset (luamig_version holds
      the query's `current` rows, created directly; no table at all for a
      fresh `current == []`; an empty trace table), `luamig upgrade|
      downgrade|stamp TARGET...` runs, and the checker compares
        - the exit status, and for a failure the `FAILED: <message>` line
          on stderr with the recorded error message (Alembic's internal
          crashes only need a failure);
        - on success: the trace (= the recorded revision steps' (dir, rev),
          in order; stamp steps run no code), the version rows every
          migration saw when it started (= the recorded version-table
          changes replayed up to that step), the rows after (= heads_after),
          the "Running ..." log lines (= the README's formula, stamp steps
          included) and the warnings;
        - on failure: that nothing ran (no TRACE line: luamig refuses at
          plan time, also where Alembic crashed half-way) and that the
          database is untouched (same version rows, or still no table;
          empty trace).
  heads_cmd / branches_cmd / history
      `luamig heads [--resolve-dependencies]`, `luamig branches`,
      `luamig history [-r RANGE]`: the printed lines.

Unstable queries (Alembic's answer depends on Python set order) pass when
equal to `answer` or one of `alt_answers`, or else by the README's semantic
fallback (same steps as a multiset, same head sets, same heads after; lines
as multisets) -- counted as "soft". The queries of
dag_known_differences.json pass by the semantic check too. Which merged row
a merge step DELETEs and which it UPDATEs cannot be seen from outside (only
the rows after each step can), so those differences do not show here.

A case whose `load` failed must make `luamig heads` fail (the recorded
message, or any failure for Alembic's internal crashes).

--every K: only every K-th upgrade/downgrade/stamp query of each case (the
1st, the K+1-th, ...: a deterministic sample that still covers every block
of upgrades, downgrades and stamps from every starting state kind); the
listing queries always run. tests.cmake runs every query on SQLite and
--every 5 on PostgreSQL: one luamig process per query costs ~25 ms
(~90 ms under AddressSanitizer), and on PostgreSQL the reset and read-back
through psql about as much again.

Prints one summary line per case; exits 1 if any query disagrees.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

KNOWN = json.load(open(os.path.join(HERE, "dag_known_differences.json")))

VERSION_DDL = ("CREATE TABLE luamig_version (version_num VARCHAR(32) NOT NULL, "
               "CONSTRAINT luamig_version_pkc PRIMARY KEY (version_num))")
TRACE_DDL = "CREATE TABLE trace (n INTEGER NOT NULL, dir VARCHAR(8), rev VARCHAR(64), heads TEXT)"

# The version rows a migration sees when it starts, as one string.
HEADS_SQL = {
    "sqlite": "SELECT group_concat(version_num, ' ') FROM luamig_version",
    "postgresql": "SELECT string_agg(version_num, ' ') FROM luamig_version",
}

ENV_LUA = """-- env.lua of a generated conformance project: online only.
local luamig = require "luamig"
local connection = luamig.connect(context.config.get_main_option("url"))
if connection.dialect == "sqlite" then
  -- Throwaway databases: no fsync per commit (thousands of runs).
  connection:execute("PRAGMA synchronous = OFF")
end
context.configure { connection = connection }
context.run_migrations()
connection:close()
"""


def as_list(v):
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return list(v)


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_value(v):
    """None, a string, or a list: written as Alembic's file would hold them
    (a one-element list becomes a plain string)."""
    if v is None:
        return "nil"
    if isinstance(v, str):
        return lua_str(v)
    if len(v) == 1:
        return lua_str(v[0])
    return "{ " + ", ".join(lua_str(x) for x in v) + " }"


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def revision_source(r, dialect):
    rev = r["revision"]
    insert = ("INSERT INTO trace (n, dir, rev, heads) SELECT COUNT(*) + 1, %%s, %s, (%s) FROM trace"
              % (sql_str(rev), HEADS_SQL[dialect]))
    return "\n".join([
        "--[[ %s" % r["message"],
        "",
        "Revision ID: %s" % rev,
        "]]",
        "revision = %s" % lua_str(rev),
        "down_revision = %s" % lua_value(r["down_revision"]),
        "branch_labels = %s" % lua_value(r["branch_labels"]),
        "depends_on = %s" % lua_value(r["depends_on"]),
        "",
        "local function trace(dir)",
        '  io.stdout:write("TRACE " .. dir .. " " .. revision .. "\\n")',
        "  op.execute(string.format(%s, \"'\" .. dir .. \"'\"))" % lua_str(insert),
        "end",
        "",
        "function upgrade()",
        '  trace("up")',
        "end",
        "",
        "function downgrade()",
        '  trace("down")',
        "end",
        "",
    ])


# ---- databases ---------------------------------------------------------------

class SQLiteDB:
    def __init__(self, project_dir, name):
        self.path = os.path.join(project_dir, "conformance.db")
        self.url = "sqlite:///conformance.db"

    def _run(self, fn):
        con = sqlite3.connect(self.path, isolation_level=None)
        con.execute("PRAGMA synchronous = OFF")
        try:
            return fn(con)
        finally:
            con.close()

    def reset(self, current):
        def go(con):
            con.execute("BEGIN")
            con.execute("DROP TABLE IF EXISTS luamig_version")
            con.execute("DROP TABLE IF EXISTS trace")
            if current:
                con.execute(VERSION_DDL)
                for v in current:
                    con.execute("INSERT INTO luamig_version (version_num) VALUES (?)", (v,))
            con.execute(TRACE_DDL)
            con.execute("COMMIT")
        self._run(go)

    def state(self):
        """(version rows sorted or None without a table, trace rows)."""
        def go(con):
            has = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                              "name='luamig_version'").fetchall()
            rows = sorted(r[0] for r in con.execute(
                "SELECT version_num FROM luamig_version")) if has else None
            trace = [tuple(r) for r in con.execute("SELECT dir, rev, heads FROM trace ORDER BY n")]
            return rows, trace
        return self._run(go)

    def drop(self):
        pass


class PostgresDB:
    def __init__(self, project_dir, name):
        import pg
        self.pg = pg
        self.name = name
        self.url = pg.create_database(name)

    def reset(self, current):
        stmts = ["BEGIN;", "DROP TABLE IF EXISTS luamig_version;", "DROP TABLE IF EXISTS trace;"]
        if current:
            stmts.append(VERSION_DDL + ";")
            stmts += ["INSERT INTO luamig_version (version_num) VALUES (%s);" % sql_str(v)
                      for v in current]
        stmts += [TRACE_DDL + ";", "COMMIT;"]
        self.pg.psql(self.url, "\n".join(stmts))

    def state(self):
        rows = self.pg.psql(self.url, "\n".join([
            "SELECT to_regclass('luamig_version') IS NOT NULL AS has \\gset",
            "\\if :has",
            "SELECT 'v', version_num, NULL, NULL FROM luamig_version;",
            "\\endif",
            "SELECT 't', dir, rev, coalesce(heads, '') || '|' || n FROM trace ORDER BY n;",
            "SELECT 'x', :'has', NULL, NULL;", ""]))
        has = any(r[0] == "x" and r[1] in ("t", "true") for r in rows)
        versions = sorted(r[1] for r in rows if r[0] == "v") if has else None
        trace = []
        for r in rows:
            if r[0] == "t":
                heads = r[3].rsplit("|", 1)[0]
                trace.append((r[1], r[2], heads or None))
        return versions, trace

    def drop(self):
        self.pg.drop_database(self.name)


# ---- running luamig ----------------------------------------------------------

class Project:
    def __init__(self, luamig, case, dialect, root):
        self.luamig = luamig
        self.dir = tempfile.mkdtemp(prefix="dag-e2e-%s-" % case["case"], dir=root)
        versions = os.path.join(self.dir, "migrations", "versions")
        os.makedirs(versions)
        dbname = ("dag_e2e_%s_%d" % (case["case"], os.getpid())).lower()
        self.db = SQLiteDB(self.dir, dbname) if dialect == "sqlite" else PostgresDB(self.dir, dbname)
        with open(os.path.join(self.dir, "luamig.ini"), "w") as f:
            f.write("[luamig]\nscript_location = %%(here)s/migrations\nurl = %s\n" % self.db.url)
        with open(os.path.join(self.dir, "migrations", "env.lua"), "w") as f:
            f.write(ENV_LUA)
        for i, r in enumerate(case["dag"]):
            with open(os.path.join(versions, "%04d_%s.lua" % (i, r["revision"])), "w") as f:
                f.write(revision_source(r, dialect))
        self.runs = 0
        self.seconds = 0.0

    def run(self, args):
        env = dict(os.environ)
        env.pop("LUAMIG_CONFIG", None)
        t0 = time.monotonic()
        proc = subprocess.run([self.luamig] + args, cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=120)
        self.seconds += time.monotonic() - t0
        self.runs += 1
        return proc

    def close(self):
        self.db.drop()
        shutil.rmtree(self.dir, ignore_errors=True)


def failed_message(stderr):
    for line in stderr.splitlines():
        if line.startswith("FAILED: "):
            return line[len("FAILED: "):]
    return None


def lines_of(text):
    return text.splitlines()


# ---- expectations ------------------------------------------------------------

def resolved_answers(queries, i):
    a = queries[i]["answer"]
    if isinstance(a, dict) and "same_as" in a:
        return resolved_answers(queries, a["same_as"])
    return [a] + list(queries[i].get("alt_answers") or [])


def step_log(dag, s):
    """The "Running ..." text of a recorded step (README formula)."""
    if s.get("stamp"):
        return "stamp_revision %s -> %s" % (", ".join(s["from"]), ", ".join(s["to"]))
    rev = dag[s["rev"]]
    down = as_list(rev["down_revision"])
    up = s["dir"] == "up"
    frm, to = (down, [s["rev"]]) if up else ([s["rev"]], down)
    text = "%s %s -> %s" % ("upgrade" if up else "downgrade", ", ".join(frm), ", ".join(to))
    if rev.get("message"):
        text += ", " + rev["message"]
    return text


def replay(current, steps):
    """Head sets after every step."""
    heads = set(current)
    seq = []
    for s in steps:
        for op in s["ops"]:
            p = op.split()
            if p[0] == "insert":
                heads.add(p[1])
            elif p[0] == "delete":
                heads.discard(p[1])
            else:
                heads.discard(p[1])
                heads.add(p[2])
        seq.append(frozenset(heads))
    return seq


def expected_migration(q, answer, dag):
    """What can be observed from outside for a recorded answer."""
    if not answer.get("ok"):
        return {"ok": False, "message": answer["error"].get("message"),
                "internal": bool(answer["error"].get("internal"))}
    steps = answer["steps"]
    before = [frozenset(q["current"])] + replay(q["current"], steps)
    trace = [(s["dir"], s["rev"], before[k]) for k, s in enumerate(steps) if not s.get("stamp")]
    return {"ok": True, "trace": trace, "logs": [step_log(dag, s) for s in steps],
            "heads_after": sorted(answer.get("heads_after", [])),
            "warnings": list(answer.get("warnings") or [])}


def observed_migration(proc, versions, trace):
    if proc.returncode != 0:
        return {"ok": False, "message": failed_message(proc.stderr), "rc": proc.returncode}
    logs, warnings = [], []
    for line in proc.stderr.splitlines():
        if line.startswith("INFO  [luamig.runtime.migration] Running "):
            logs.append(line.split("] Running ", 1)[1])
        elif line.startswith("WARNING [luamig.runtime.migration] "):
            warnings.append(line.split("] ", 1)[1])
    return {"ok": True,
            "trace": [(d, r, frozenset((h or "").split())) for d, r, h in trace],
            "logs": logs, "heads_after": versions or [], "warnings": warnings}


def soft_migration(mine, ref):
    """The README's semantic fallback for unstable answers."""
    if mine["ok"] != ref["ok"]:
        return False
    if not ref["ok"]:
        return True

    def norm_log(line):
        # stamp_revision's from list is Python-set ordered.
        if line.startswith("stamp_revision "):
            a, b = line[len("stamp_revision "):].split(" -> ")
            return "stamp_revision %s -> %s" % (", ".join(sorted(a.split(", "))), b)
        return line
    return (sorted((d, r) for d, r, _ in mine["trace"]) ==
            sorted((d, r) for d, r, _ in ref["trace"]) and
            sorted(map(norm_log, mine["logs"])) == sorted(map(norm_log, ref["logs"])) and
            mine["heads_after"] == ref["heads_after"] and
            mine["warnings"] == ref["warnings"])


def unordered_line(line):
    out, depth, cur = [], 0, ""
    for ch in line:
        if ch == "(":
            depth += 1
            out.append(cur)
            cur = ""
        elif ch == ")" and depth:
            depth -= 1
            out.append("(" + ", ".join(sorted(cur.split(", "))) + ")")
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return "".join(out)


def expected_listing(op, answer):
    if not answer.get("ok"):
        return {"ok": False, "message": answer["error"].get("message"),
                "internal": bool(answer["error"].get("internal"))}
    v = answer["value"]
    if op == "history":
        v = v["lines"]
    return {"ok": True, "lines": list(v)}


# ---- one case ----------------------------------------------------------------

def listing_args(q):
    op = q["op"]
    if op == "heads_cmd":
        return ["heads"] + (["--resolve-dependencies"] if q.get("resolve_dependencies") else [])
    if op == "branches_cmd":
        return ["branches"]
    if q.get("range") is None:
        return ["history"]
    return ["history", "-r", q["range"]]


def check_case(luamig, dialect, path, every, verbose, root):
    case = json.load(open(path))
    name = case["case"]
    known = KNOWN.get(name, {})
    dag = {r["revision"]: r for r in case["dag"]}
    project = Project(luamig, case, dialect, root)
    t0 = time.monotonic()
    try:
        if not case["load"]["ok"]:
            return check_load_error(project, case)
        exact = soft = bad = knowndiff = 0
        report = []
        migrations = 0
        for i, q in enumerate(case["queries"]):
            op = q["op"]
            if op in ("upgrade", "downgrade", "stamp"):
                migrations += 1
                if every is not None and (migrations - 1) % every != 0:
                    continue
                verdict, detail = check_migration(project, q, resolved_answers(case["queries"], i),
                                                  dag)
            elif op in ("heads_cmd", "branches_cmd", "history"):
                verdict, detail = check_listing(project, q, resolved_answers(case["queries"], i))
            else:
                continue
            if verdict == "bad" and str(i) in known and detail.get("semantic"):
                verdict = "known"
            if verdict == "exact":
                exact += 1
            elif verdict == "soft":
                soft += 1
            elif verdict == "known":
                knowndiff += 1
            else:
                bad += 1
                report.append((i, q, detail))
        print("%-36s %-10s %5d queries: %5d exact, %4d soft, %4d differ%s  (%d runs, %.1f s, luamig %.1f s)" % (
            name, dialect, exact + soft + bad + knowndiff, exact, soft, bad,
            ", %d known difference(s)" % knowndiff if knowndiff else "", project.runs,
            time.monotonic() - t0, project.seconds))
        for i, q, detail in report[: (1000 if verbose else 5)]:
            qd = {k: v for k, v in q.items() if k not in ("answer", "alt_answers")}
            print("   #%d %s" % (i, json.dumps(qd)))
            for k, v in detail.items():
                print("      %s: %s" % (k, v))
        sys.stdout.flush()
        return bad == 0, exact, soft, bad, knowndiff
    finally:
        project.close()


def check_load_error(project, case):
    proc = project.run(["heads"])
    err = case["load"]
    variants = [err["error"]] + [a["error"] for a in err.get("alt_answers", [])]
    internal = err["error"].get("internal")
    mine = failed_message(proc.stderr)
    good = proc.returncode == 1 and mine is not None and (
        internal or mine in [v["message"] for v in variants])
    print("%-36s %-10s load error   %s   luamig: %s" % (
        case["case"], project_dialect(project), "agrees" if good else "DIFFERS", mine))
    return good, int(good), 0, int(not good), 0


def project_dialect(project):
    return "sqlite" if isinstance(project.db, SQLiteDB) else "postgresql"


def check_migration(project, q, answers, dag):
    current = list(q["current"])
    project.db.reset(current)
    before = (sorted(current) if current else None, [])
    targets = q["target"] if isinstance(q["target"], list) else [q["target"]]
    args = [q["op"]] + (["--purge"] if q.get("purge") else []) + list(targets)
    proc = project.run(args)
    versions, trace = project.db.state()
    mine = observed_migration(proc, versions, trace)
    ran = [line for line in proc.stdout.splitlines() if line.startswith("TRACE ")]
    refs = [expected_migration(q, a, dag) for a in answers]
    ref = refs[0]
    detail = {"alembic": ref, "luamig": mine}
    if proc.returncode != 0 or not ref["ok"]:
        detail["stderr"] = proc.stderr.strip()[-600:]

    if not ref["ok"]:
        # A failure: the same message (any, for Alembic's crashes), exit
        # status 1, nothing ran, the database untouched.
        untouched = (versions, trace) == before and not ran
        same = mine["ok"] is False and proc.returncode == 1 and (
            ref["internal"] or mine["message"] in [r.get("message") for r in refs])
        if not untouched:
            detail["problem"] = "database touched or code ran: %r" % (ran,)
        return ("exact" if same and untouched else "bad"), detail
    if not mine["ok"]:
        return "bad", detail
    # What ran (stdout) must be what the trace table holds.
    printed = [tuple(line.split()[1:3]) for line in ran]
    if printed != [(d, r) for d, r, _ in mine["trace"]]:
        detail["problem"] = "printed trace %r differs from the trace table" % printed
        return "bad", detail
    if mine in refs:
        return "exact", detail
    semantic = soft_migration(mine, ref)
    detail["semantic"] = semantic
    if not q["stable"] and semantic:
        return "soft", detail
    return "bad", detail


def check_listing(project, q, answers):
    proc = project.run(listing_args(q))
    if proc.returncode == 0:
        mine = {"ok": True, "lines": lines_of(proc.stdout)}
    else:
        mine = {"ok": False, "message": failed_message(proc.stderr)}
    refs = [expected_listing(q["op"], a) for a in answers]
    ref = refs[0]
    detail = {"alembic": ref, "luamig": mine}
    if not ref["ok"]:
        good = not mine["ok"] and proc.returncode == 1 and (
            ref["internal"] or mine["message"] in [r["message"] for r in refs])
        return ("exact" if good else "bad"), detail
    if not mine["ok"]:
        return "bad", detail
    if any(mine == {"ok": True, "lines": r["lines"]} for r in refs if r["ok"]):
        return "exact", detail
    semantic = sorted(map(unordered_line, mine["lines"])) == sorted(map(unordered_line, ref["lines"]))
    detail["semantic"] = semantic
    if not q["stable"] and semantic:
        return "soft", detail
    return "bad", detail


def main(argv):
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    luamig = dialect = None
    every = None
    cases = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--luamig":
            luamig = os.path.abspath(argv[i + 1])
            i += 2
        elif a == "--dialect":
            dialect = argv[i + 1]
            i += 2
        elif a == "--every":
            every = int(argv[i + 1])
            i += 2
        else:
            cases.append(a)
            i += 1
    if not luamig or dialect not in ("sqlite", "postgresql") or not cases:
        print(__doc__)
        return 2
    if dialect == "postgresql":
        import pg
        pg.require()          # skips (77) outside CI, fails under CI=true
    root = os.environ.get("LUAMIG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    t0 = time.monotonic()
    ok = True
    totals = [0, 0, 0, 0]
    for path in cases:
        res = check_case(luamig, dialect, path, every, verbose, root)
        ok = res[0] and ok
        for k in range(4):
            totals[k] += res[1 + k]
    print("%s: %d queries: %d exact, %d soft, %d differ, %d known difference(s); %.1f s" % (
        dialect, sum(totals), totals[0], totals[1], totals[2], totals[3], time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
