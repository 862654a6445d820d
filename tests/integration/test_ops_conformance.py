"""The op API against Alembic 1.8.1: every recorded scenario of
tests/conformance/ops/recorded/<dialect>/*.json, its revisions ported by hand
to Lua in tests/conformance/ops/lua/<scenario>.lua, is run with the real
luamig binary on a fresh database:

1. online: `luamig upgrade <rev>` one revision at a time, then `luamig
   downgrade -1` back to base; after each step the schema is read through the
   database's own catalog (tests/lib/catalog.py: sqlite_master and PRAGMAs,
   pg_catalog through psql) and compared with Alembic's recorded snapshot:
   tables, columns (name, type, nullable, default, comment), primary keys,
   indexes, unique constraints, foreign keys, check constraints, rows, the
   version table, and the raw catalog rows (sqlite_master's SQL with
   whitespace collapsed; pg_indexes, pg_constraints, sequences, enums, schemas);
2. offline: `luamig upgrade|downgrade <a>:<b> --sql` against the recorded
   script, whitespace-normalised, with the table-level constraints of a
   CREATE TABLE compared as a set.

The recordings name the version table alembic_version; luamig's is
luamig_version: the recorded text is read with the name replaced.
Three differences are normalised away everywhere: luamig writes
BEGIN;/COMMIT; around an offline SQLite script (deliberate: its SQLite DDL
is transactional); it does not drop the version table at the end of an
offline downgrade to base (Alembic 1.19 no longer does either); and its
offline PostgreSQL INSERT into the version table has no
"RETURNING luamig_version.version_num" (SQLAlchemy 1.4's implicit returning,
not a choice of Alembic's).

Where Alembic failed, luamig fails the same way (error compared loosely) or
does better; each such case is listed in KNOWN_DIFFERENCES with the reason,
and the test asserts what luamig actually does.
"""
import json
import os
import re
import unittest

import catalog
from luamigtest import Project, backends, main

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = os.path.normpath(os.path.join(HERE, "..", "conformance", "ops"))
RECORDED = os.path.join(OPS, "recorded")
LUA = os.path.join(OPS, "lua")

VERSION_TABLE = "luamig_version"

# Loose forms of Alembic's errors: a pattern luamig's message must contain.
def error_pattern(err):
    msg = err.get("message", "")
    m = re.match(r"\((?:sqlite3|psycopg2)[.\w]*\) (.*?)(?:\n|$)", msg)
    if m:
        return re.escape(m.group(1).strip())
    if err.get("class") == "UnsupportedCompilationError":
        return re.escape("can't render element of type")
    if err.get("class") == "NotImplementedError":
        return re.escape("No support for ALTER of constraints in SQLite dialect")
    return re.escape(msg.split("\n")[0][:60])


# (dialect, scenario, phase, target-or-range) -> what luamig does instead.
#   "luamig": "ok"      luamig succeeds where Alembic failed (an improvement);
#             "fails"   luamig fails like Alembic, but with a different effect;
#   "check":  a function(testcase, snapshot-or-output) asserting luamig's result;
#   "reason": why.
def _col(snap, table, name):
    return [c for c in snap["tables"][table]["columns"] if c["name"] == name][0]


KNOWN_DIFFERENCES = {}


def known(dialect, scenario, phase, target, luamig, reason, check=None, error=None):
    KNOWN_DIFFERENCES[(dialect, scenario, phase, target)] = {
        "luamig": luamig, "reason": reason, "check": check, "error": error}


known("postgresql", "batch_add_column_index", "upgrade", "4f73084c9c3b", "fails",
      "batch_alter_table(recreate='always') on PostgreSQL: luamig reflects only SQLite tables "
      "for a rebuild, so it asks for copy_from where Alembic reflects the live table.",
      error=r"recreate='always' on postgresql needs copy_from")


# Where Alembic failed and luamig fails alike (the error compared loosely; online, the
# schema left behind equals Alembic's, since the failing statement is the revision's first).
_NO_ALTER = "SQLite has no ALTER for constraints: Alembic and luamig both refuse outside batch mode"
for _scenario, _rev, _reason in (
        ("add_column_nonconstant_default", "833088d6fcda",
         "SQLite refuses ADD COLUMN with a non-constant default (CURRENT_TIMESTAMP)"),
        ("alter_column_comment", "cf190b094e60", "SQLite has no column or table comments"),
        ("alter_column_nullable", "258fb9ca0e97",
         "SQLite has no ALTER COLUMN; outside batch mode both send it and SQLite rejects it"),
        ("alter_column_server_default", "58ce7e61b087",
         "SQLite has no ALTER COLUMN; outside batch mode both send it and SQLite rejects it"),
        ("check_constraint", "54e6e22c15ff", _NO_ALTER),
        ("foreign_key", "c38b6814cf08", _NO_ALTER),
        ("primary_key", "0139ded4acea", _NO_ALTER),
        ("unique_constraint", "48714fd67359", _NO_ALTER)):
    known("sqlite", _scenario, "upgrade", _rev, "fails", _reason)
    case = json.load(open(os.path.join(RECORDED, "sqlite", _scenario + ".json")))
    for _kind in ("upgrade", "downgrade"):
        entries = case["offline"][_kind] + ([case["offline"]["upgrade_all"]] if _kind == "upgrade" else [])
        for _e in entries:
            if not _e["ok"]:
                known("sqlite", _scenario, "offline " + _kind, _e["range"], "fails", _reason)
_NEEDS_COPY_FROM = ("batch mode that rebuilds the table needs the live table offline; without "
                    "copy_from both refuse --sql")
for _dialect, _scenario in (("sqlite", "batch_add_column_index"), ("sqlite", "batch_alter_column"),
                            ("sqlite", "batch_drop_column"), ("postgresql", "batch_add_column_index")):
    case = json.load(open(os.path.join(RECORDED, _dialect, _scenario + ".json")))
    for _kind in ("upgrade", "downgrade"):
        entries = case["offline"][_kind] + ([case["offline"]["upgrade_all"]] if _kind == "upgrade" else [])
        for _e in entries:
            if not _e["ok"]:
                known(_dialect, _scenario, "offline " + _kind, _e["range"], "fails", _NEEDS_COPY_FROM)


def _offline_bulk_insert_pg(test, out):
    test.assertIn("INSERT INTO acct (id, name, opened, seen, active, balance) VALUES "
                  "(1, 'alice', '2020-01-02', '2021-03-04 05:06:07.000000', true, 10.50);", out)
    test.assertIn("INSERT INTO acct (id, name, opened, seen, active, balance) VALUES "
                  "(5, 'erin', NULL, NULL, true, 1);", out)


for _range in ("56995ad15026:f1b14788e63d", "base:f1b14788e63d"):
    known("postgresql", "bulk_insert", "offline upgrade", _range, "ok",
          "Lua has no date type: dates are given as text, which renders as a literal, where "
          "SQLAlchemy has no literal renderer for datetime.date on PostgreSQL.",
          check=_offline_bulk_insert_pg)


# -- loading ---------------------------------------------------------------------

def load_case(dialect, scenario):
    with open(os.path.join(RECORDED, dialect, scenario + ".json")) as f:
        return json.loads(f.read().replace("alembic_version", VERSION_TABLE))


def load_lua(scenario):
    """{rev: {"upgrade": body, "downgrade": body}} from the scenario's Lua file."""
    bodies, cur = {}, None
    with open(os.path.join(LUA, scenario + ".lua")) as f:
        for line in f:
            m = re.match(r"^--- ([0-9a-f]+) (upgrade|downgrade)\s*$", line)
            if m:
                cur = bodies.setdefault(m.group(1), {})[m.group(2)] = []
                continue
            if cur is None:
                raise ValueError("%s.lua: text before the first marker" % scenario)
            cur.append("  " + line if line.strip() else line)
    return {rev: {k: "".join(v).rstrip("\n") for k, v in d.items()} for rev, d in bodies.items()}


def scenarios(dialect):
    return sorted(f[:-5] for f in os.listdir(os.path.join(RECORDED, dialect)) if f.endswith(".json"))


# -- normalising ---------------------------------------------------------------------

def norm_index(ix, dialect):
    out = {"name": ix["name"], "column_names": ix["column_names"], "unique": bool(ix["unique"])}
    opts = ix.get("dialect_options") or {}
    where = opts.get("sqlite_where") or opts.get("postgresql_where")
    if isinstance(where, dict):
        where = where.get("repr")
    if "where" in ix:
        where = ix["where"]
    if where is not None:
        out["where"] = " ".join(where.split())
    return out


def norm_table(t, dialect):
    cols = []
    for c in t["columns"]:
        col = {k: c.get(k) for k in ("name", "type", "nullable", "default")}
        if dialect == "postgresql":
            col["comment"] = c.get("comment")
        cols.append(col)
    by_name = lambda x: (x.get("name") or "", json.dumps(x, sort_keys=True))
    out = {
        "columns": cols,
        "primary_key": {"name": t["primary_key"]["name"], "columns": t["primary_key"]["columns"]},
        "indexes": sorted((norm_index(i, dialect) for i in t["indexes"]), key=by_name),
        "unique_constraints": sorted(({"name": u["name"], "column_names": u["column_names"]}
                                      for u in t["unique_constraints"]), key=by_name),
        "foreign_keys": sorted(({k: fk.get(k) for k in ("name", "constrained_columns",
                                                        "referred_schema", "referred_table",
                                                        "referred_columns", "options")}
                                for fk in t["foreign_keys"]), key=by_name),
        "check_constraints": sorted(({"name": c["name"], "sqltext": " ".join(c["sqltext"].split())}
                                     for c in t["check_constraints"]), key=by_name),
        "rows": sorted(t["rows"], key=catalog.row_key),
    }
    if dialect == "postgresql":
        out["comment"] = t.get("comment")
    return out


def norm_master_sql(sql):
    if sql is None:
        return None
    if re.match(r"\s*CREATE\s+TABLE\b", sql, re.I):
        return catalog.canonical_create_table(sql)
    return " ".join(sql.split())


def norm_schema(s, dialect):
    out = {"tables": {k: norm_table(v, dialect) for k, v in s["tables"].items()},
           VERSION_TABLE: s.get(VERSION_TABLE)}
    if dialect == "sqlite":
        out["sqlite_master"] = sorted([r[0], r[1], r[2], norm_master_sql(r[3])]
                                      for r in s["sqlite_master"])
    else:
        # sorted here: the recordings sorted by alembic_version's name
        for k in ("schemas", "enums", "sequences", "pg_indexes", "pg_constraints"):
            out[k] = sorted(s[k], key=lambda v: json.dumps(v, sort_keys=True))
    return out


def diff(expected, actual, path=""):
    """Human-readable differences between two normalised values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for k in sorted(set(expected) | set(actual), key=str):
            if k not in actual:
                out.append("%s/%s: missing (expected %r)" % (path, k, expected[k]))
            elif k not in expected:
                out.append("%s/%s: unexpected %r" % (path, k, actual[k]))
            else:
                out += diff(expected[k], actual[k], "%s/%s" % (path, k))
        return out
    if expected != actual:
        return ["%s:\n    expected %s\n    actual   %s" % (path, json.dumps(expected), json.dumps(actual))]
    return []


def norm_offline(text, dialect, from_luamig):
    """The statements of an offline script, whitespace-normalised."""
    out = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        c = chunk.strip()
        if not c:
            continue
        if from_luamig and dialect == "sqlite" and c in ("BEGIN;", "COMMIT;"):
            continue
        if not from_luamig and c == "DROP TABLE %s;" % VERSION_TABLE:
            continue
        if not from_luamig:
            # SQLAlchemy 1.4's implicit RETURNING on PostgreSQL, which luamig does not copy
            # (SQLAlchemy 2.0 no longer adds it for an explicit primary key value).
            c = re.sub(r"^(INSERT INTO (?:\w+\.)?%s \(version_num\) VALUES \('\w+'\)) "
                       r"RETURNING (?:\w+\.)?%s\.version_num;$" % (VERSION_TABLE, VERSION_TABLE),
                       r"\1;", c)
        if re.match(r"CREATE\s+TABLE\b", c, re.I):
            c = catalog.canonical_create_table(c.rstrip(";").rstrip()) + ";"
        else:
            c = " ".join(c.split())
        out.append(c)
    return out


# -- the runner --------------------------------------------------------------------

class Scenario:
    def __init__(self, test, dialect, name):
        self.test, self.dialect, self.name = test, dialect, name
        self.case = load_case(dialect, name)
        self.lua = load_lua(name)
        self.p = Project(test, dialect)
        for i, rev in enumerate(self.case["revisions"]):
            body = self.lua.get(rev["revision"])
            test.assertIsNotNone(body, "%s.lua has no revision %s" % (name, rev["revision"]))
            self.p.revision_file(rev["revision"], rev["down_revision"], up=body["upgrade"],
                                 downgrade=body["downgrade"], message="",
                                 name="%04d_%s.lua" % (i, rev["revision"]))
        self.problems = []

    def known(self, phase, target):
        return KNOWN_DIFFERENCES.get((self.dialect, self.name, phase, target))

    def snapshot(self):
        where = self.p.db_path if self.dialect == "sqlite" else self.p.url
        return norm_schema(catalog.snapshot(self.dialect, where, VERSION_TABLE), self.dialect)

    def compare(self, what, expected, actual):
        for d in diff(expected, actual):
            self.problems.append("%s %s: %s" % (self.name, what, d))

    def run_online(self):
        ups = self.case["online"]["upgrade"]
        before = self.snapshot()
        applied = 0
        history = []        # luamig's schema before each applied revision
        for i, step in enumerate(ups):
            what = "online upgrade %s" % step["target"]
            r = self.p.run("upgrade", step["target"])
            k = self.known("upgrade", step["target"])
            if step["ok"]:
                if r.rc != 0 and k and k["luamig"] == "fails":
                    # Alembic succeeded, luamig cannot: stop here, downgrade what was applied
                    # back through the states luamig went through (Alembic's recorded
                    # downgrades start from a state luamig never reached).
                    self.test.assertRegex(r.err, k["error"])
                    self.compare(what + " (failed, rolled back)", before, self.snapshot())
                    for j in range(applied - 1, -1, -1):
                        r = self.p.run("downgrade", "-1")
                        self.test.assertEqual(r.rc, 0, repr(r))
                        want = history[j] if j else norm_schema(
                            self.case["online"]["downgrade"][-1]["schema"], self.dialect)
                        self.compare("online downgrade -1 to state %d" % j, want, self.snapshot())
                    return
                if r.rc != 0:
                    self.problems.append("%s %s: luamig failed:\n%s" % (self.name, what, r.err))
                    return
                history.append(before)
                self.compare(what, norm_schema(step["schema"], self.dialect), self.snapshot())
                applied += 1
                before = self.snapshot()
                continue
            # Alembic failed here: luamig fails alike, leaving what Alembic left, or does
            # something else listed in KNOWN_DIFFERENCES.
            if k is None:
                self.problems.append("%s %s: Alembic failed (%s) and KNOWN_DIFFERENCES has no "
                                     "entry; luamig rc=%d" % (self.name, what,
                                                              step["error"]["message"][:80], r.rc))
                return
            if k["luamig"] == "ok":
                if r.rc != 0:
                    self.problems.append("%s %s: expected luamig to succeed (%s):\n%s"
                                         % (self.name, what, k["reason"], r.err))
                    return
                after = self.snapshot()
                if k["check"]:
                    k["check"](self.test, after)
                # ... and its downgrade returns to the state before.
                r = self.p.run("downgrade", "-1")
                kd = self.known("downgrade-after", step["target"])
                if kd and kd["luamig"] == "fails":
                    self.test.assertNotEqual(r.rc, 0, repr(r))
                    self.test.assertRegex(r.err, kd["error"])
                    self.compare(what + " (failed downgrade leaves it)", after, self.snapshot())
                    return
                self.test.assertEqual(r.rc, 0, repr(r))
                self.compare(what + " then downgrade -1", before, self.snapshot())
            else:
                self.test.assertNotEqual(r.rc, 0, "%s: %s" % (what, repr(r)))
                self.test.assertRegex(r.err, k["error"] or error_pattern(step["error"]))
                # what Alembic left behind, which is also the state before: luamig's SQLite DDL
                # is transactional, nothing of the failed revision stays
                self.compare(what + " (failed)", norm_schema(step["schema"], self.dialect),
                             self.snapshot())
                self.compare(what + " (failed, rolled back)", before, self.snapshot())
            break
        downs = self.case["online"]["downgrade"]
        recorded_applied = sum(1 for u in ups if u["ok"])
        for step in downs[recorded_applied - applied:]:
            what = "online downgrade %s from %s" % (step["target"], ",".join(step.get("from") or []))
            r = self.p.run("downgrade", step["target"])
            if not step["ok"]:
                self.problems.append("%s %s: Alembic failed; not expected in the recordings" % (self.name, what))
                return
            if r.rc != 0:
                self.problems.append("%s %s: luamig failed:\n%s" % (self.name, what, r.err))
                return
            self.compare(what, norm_schema(step["schema"], self.dialect), self.snapshot())

    def run_offline(self):
        off = self.case["offline"]
        entries = [("upgrade", e) for e in off["upgrade"]] + [("upgrade", off["upgrade_all"])] + \
                  [("downgrade", e) for e in off["downgrade"]]
        for cmd, e in entries:
            what = "offline %s %s" % (cmd, e["range"])
            r = self.p.run(cmd, e["range"], "--sql")
            if e["ok"]:
                if r.rc != 0:
                    self.problems.append("%s %s: luamig failed:\n%s" % (self.name, what, r.err))
                    continue
                exp = norm_offline(e["sql"], self.dialect, False)
                act = norm_offline(r.out, self.dialect, True)
                if exp != act:
                    self.problems.append("%s %s:\n  expected %s\n  actual   %s" % (
                        self.name, what, json.dumps(exp, indent=1), json.dumps(act, indent=1)))
                continue
            k = self.known("offline " + cmd, e["range"])
            if k is None:
                self.problems.append("%s %s: Alembic failed (%s) and KNOWN_DIFFERENCES has no "
                                     "entry; luamig rc=%d" % (self.name, what,
                                                              e["error"]["message"][:100], r.rc))
                continue
            if k["luamig"] == "ok":
                if r.rc != 0:
                    self.problems.append("%s %s: expected luamig to succeed (%s):\n%s"
                                         % (self.name, what, k["reason"], r.err))
                    continue
                # What Alembic wrote before failing comes first, unchanged.
                exp = norm_offline(e["sql"], self.dialect, False)
                act = norm_offline(r.out, self.dialect, True)
                exp = [s for s in exp if s != "COMMIT;"]
                if act[:len(exp)] != exp:
                    self.problems.append("%s %s: start differs:\n  expected %s\n  actual   %s" % (
                        self.name, what, json.dumps(exp, indent=1), json.dumps(act, indent=1)))
                if k["check"]:
                    k["check"](self.test, r.out)
            else:
                self.test.assertNotEqual(r.rc, 0, "%s: %s" % (what, repr(r)))
                self.test.assertRegex(r.err, k["error"] or error_pattern(e["error"]))


def make_test(dialect, name):
    def test(self):
        if dialect not in backends():
            self.skipTest("PostgreSQL not available")
        s = Scenario(self, dialect, name)
        s.run_online()
        s.run_offline()
        if s.problems:
            self.fail("\n".join(s.problems))
    return test


class OpsConformance(unittest.TestCase):
    def test_every_scenario_is_ported(self):
        for dialect in ("sqlite", "postgresql"):
            for name in scenarios(dialect):
                case = load_case(dialect, name)
                lua = load_lua(name)
                self.assertEqual([r["revision"] for r in case["revisions"]], list(lua),
                                 "%s/%s: the Lua port has the recorded revisions, in order" % (dialect, name))
                for rev in lua.values():
                    self.assertEqual(sorted(rev), ["downgrade", "upgrade"])

    def test_known_differences_name_recorded_failures(self):
        for (dialect, name, phase, target), k in KNOWN_DIFFERENCES.items():
            self.assertIn(k["luamig"], ("ok", "fails"))
            self.assertTrue(k["reason"])
            self.assertTrue(os.path.exists(os.path.join(RECORDED, dialect, name + ".json")), name)


for _dialect in ("sqlite", "postgresql"):
    for _name in scenarios(_dialect):
        setattr(OpsConformance, "test_%s_%s" % (_dialect, _name), make_test(_dialect, _name))


if __name__ == "__main__":
    main()
