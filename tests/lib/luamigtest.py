"""Helpers for integration tests: run the real `luamig` binary in a
temporary project against a real SQLite file or the throwaway PostgreSQL of
tests/pg, and read the result back through the database's own catalog.

    from luamigtest import Project, backends
    for backend in backends():          # "sqlite", and "postgresql" when it runs
        p = Project(self, backend)      # luamig init + url set, in a fresh temp dir
        p.revision("create account", body_up='op.create_table(...)', body_down='...')
        p.ok("upgrade", "head")
        p.tables()                      # from sqlite_master / pg_catalog
        p.version_rows()

The binary comes from $LUAMIG (set by ctest).
"""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import unittest

import pg


def default_sigint():
    """preexec_fn of a process that a test interrupts: SIGINT at its default. A test run started
    in the background of a non-interactive shell inherits SIGINT ignored, and luamig keeps an
    inherited ignored SIGINT ignored (as shells do): the test would wait for it for good."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

LUAMIG = os.environ.get("LUAMIG") or os.path.join(os.getcwd(), "luamig")
TMP_ROOT = os.environ.get("LUAMIG_TEST_TMP") or tempfile.gettempdir()


def backends():
    """The databases every dialect-neutral test runs on. PostgreSQL is
    required under CI=true (pg.require fails the test when it is missing)."""
    out = ["sqlite"]
    if pg.under_ci():
        pg.require()
        out.append("postgresql")
    elif pg.pg_available():
        out.append("postgresql")
    return out


class Result:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return "luamig %s -> %d\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.args), self.rc, self.out, self.err)


def run(args, cwd=None, env=None, input=None, timeout=120):
    """Runs luamig with args; returns a Result."""
    e = dict(os.environ)
    e.pop("LUAMIG_CONFIG", None)
    # the revision-header cache of the tests stays in the test tree
    e.setdefault("LUAMIG_CACHE_DIR", os.path.join(TMP_ROOT, "cache"))
    # luamig test on PostgreSQL checks at each state that the prints it kept up to date are
    # what printing every table gives (sqldialect/postgresql.lua)
    e.setdefault("LUAMIG_TEST_CHECK_PRINTS", "1")
    if env:
        e.update(env)
    proc = subprocess.run([LUAMIG] + list(args), cwd=cwd, env=e, input=input,
                          capture_output=True, text=True, timeout=timeout)
    return Result(args, proc)


_counter = [0]


def word_hash(data):
    """core/util.c's lm_word_hash of bytes (the seal of a header-cache line and of a
    chunk-cache entry), so that a test can write an entry the cache believes."""
    mask = (1 << 64) - 1
    h = (14695981039346656037 ^ len(data)) & mask
    i = 0
    while i + 8 <= len(data):
        h = ((h ^ int.from_bytes(data[i:i + 8], sys.byteorder)) * 1099511628211) & mask
        h ^= h >> 29
        i += 8
    for b in data[i:]:
        h = ((h ^ b) * 1099511628211) & mask
    return h


def temp_dir(test, prefix="t"):
    os.makedirs(TMP_ROOT, exist_ok=True)
    d = tempfile.mkdtemp(prefix=prefix + "-", dir=TMP_ROOT)
    test.addCleanup(shutil.rmtree, d, True)
    return d


def db_name(test):
    """A database name unique to this test and process."""
    _counter[0] += 1
    raw = "%s_%s_%d_%d" % (type(test).__name__, test._testMethodName, os.getpid(), _counter[0])
    return re.sub(r"[^a-z0-9_]", "_", raw.lower())[-60:]


class Project:
    """A luamig project in a temporary folder: `luamig init migrations`,
    then url = a fresh SQLite file or a fresh PostgreSQL database, or the
    PostgreSQL database `url` names (one the test made, e.g. on a server of
    its own), as it is. The generic template turns the audit history on
    (history_table); a Project removes that line unless history=True, so
    that a test sees Alembic's tables (and SQL scripts) unless it asks for
    the history."""

    def __init__(self, test, backend="sqlite", init=True, template_env=None, url=None,
                 history=False):
        self.test = test
        self.backend = backend
        self.dir = temp_dir(test, backend)
        self.script_dir = os.path.join(self.dir, "migrations")
        self.versions = os.path.join(self.script_dir, "versions")
        if url:
            self.db_path = None
            self.url = url
        elif backend == "sqlite":
            self.db_path = os.path.join(self.dir, "app.db")
            self.url = "sqlite:///app.db"
        else:
            self.db_path = None
            name = db_name(test)
            self.url = pg.create_database(name)
            test.addCleanup(pg.drop_database, name)
        self._n = 0
        if init:
            self.ok("init", "migrations")
            self.set_option("url", self.url)
            if not history:
                self.remove_option("history_table")

    # -- files -------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, rel, text):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()


    def set_option(self, key, value, section="luamig"):
        """Sets key = value in luamig.ini's section (replacing any line)."""
        ini = self.path("luamig.ini")
        with open(ini) as f:
            lines = f.read().split("\n")
        out, in_section, done = [], False, False
        for line in lines:
            m = re.match(r"^\[(.*)\]\s*$", line)
            if m:
                if in_section and not done:
                    out.append("%s = %s" % (key, value))
                    done = True
                in_section = m.group(1) == section
            elif in_section and re.match(r"^%s\s*[=:]" % re.escape(key), line):
                if not done:
                    out.append("%s = %s" % (key, value))
                    done = True
                continue
            out.append(line)
        if not done:
            if not in_section:
                out.append("[%s]" % section)
            out.append("%s = %s" % (key, value))
        with open(ini, "w") as f:
            f.write("\n".join(out))

    def remove_option(self, key, section="luamig"):
        """Removes the key = value line from luamig.ini's section."""
        ini = self.path("luamig.ini")
        with open(ini) as f:
            lines = f.read().split("\n")
        out, in_section = [], False
        for line in lines:
            m = re.match(r"^\[(.*)\]\s*$", line)
            if m:
                in_section = m.group(1) == section
            elif in_section and re.match(r"^%s\s*[=:]" % re.escape(key), line):
                continue
            out.append(line)
        with open(ini, "w") as f:
            f.write("\n".join(out))

    def use_models(self, text=None, target='require "models"'):
        """env.lua's target_metadata made `target` (by default the models.lua beside
        luamig.ini, whose text is written first when given), as a user edits env.lua."""
        if text is not None:
            self.write("models.lua", text)
        env = self.read("migrations/env.lua")
        if "\nlocal target_metadata = %s\n" % target in env:
            return  # (env.lua was pointed there already: only the models changed)
        self.test.assertIn("local target_metadata = nil\n", env)
        self.write("migrations/env.lua", env.replace(
            "local target_metadata = nil\n",
            'package.path = config.get_main_option("here") .. "/?.lua;" .. package.path\n'
            "local target_metadata = %s\n" % target))

    def revision_file(self, rev, down=None, up="", downgrade="", message=None,
                      branch_labels=None, depends_on=None, name=None, folder=None):
        """Writes a revision file by hand (as a user edits one)."""
        def lit(v):
            if v is None:
                return "nil"
            if isinstance(v, (list, tuple)):
                return "{ " + ", ".join('"%s"' % x for x in v) + " }"
            return '"%s"' % v
        self._n += 1
        fname = name or "%04d_%s.lua" % (self._n, rev)
        text = ('--[[ %s\n\nRevision ID: %s\n]]\nrevision = "%s"\ndown_revision = %s\n'
                'branch_labels = %s\ndepends_on = %s\n\nfunction upgrade()\n%s\nend\n\n'
                'function downgrade()\n%s\nend\n') % (
                    message if message is not None else "rev " + rev, rev, rev, lit(down),
                    lit(branch_labels), lit(depends_on), up, downgrade)
        return self.write(os.path.join(folder or "migrations/versions", fname), text)

    # -- running -----------------------------------------------------------
    def run(self, *args, env=None, input=None):
        return run(args, cwd=self.dir, env=env, input=input)

    def ok(self, *args, env=None):
        r = self.run(*args, env=env)
        self.test.assertEqual(r.rc, 0, repr(r))
        return r

    def fails(self, *args, rc=1, env=None):
        r = self.run(*args, env=env)
        self.test.assertEqual(r.rc, rc, repr(r))
        return r

    # -- the database, read through its own catalog ------------------------
    def sql(self, query):
        """Rows of a query, as tuples of text (PostgreSQL) or values (SQLite)."""
        if self.backend == "sqlite":
            con = sqlite3.connect(self.db_path)
            try:
                return [tuple(r) for r in con.execute(query).fetchall()]
            finally:
                con.close()
        return pg.psql(self.url, query)

    def sql_exec(self, statement):
        """Runs a statement that changes the database (outside luamig)."""
        if self.backend == "sqlite":
            con = sqlite3.connect(self.db_path)
            try:
                con.executescript(statement)
                con.commit()
            finally:
                con.close()
        else:
            pg.psql(self.url, statement)

    def tables(self):
        if self.backend == "sqlite":
            if not os.path.exists(self.db_path):
                return []
            return sorted(r[0] for r in self.sql(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"))
        return sorted(pg.table_names(self.url))

    def version_rows(self, table="luamig_version"):
        if table not in self.tables():
            return None
        return sorted(r[0] for r in self.sql("SELECT version_num FROM %s" % table))

    def columns(self, table):
        """[(name, type, notnull)] from the catalog."""
        if self.backend == "sqlite":
            return [(r[1], r[2], bool(r[3])) for r in self.sql("PRAGMA table_info(%s)" % table)]
        rows = self.sql(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = '%s' AND n.nspname = 'public' AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum" % table)
        return [(r[0], r[1], r[2] == "t") for r in rows]

    def indexes(self, table):
        if self.backend == "sqlite":
            return sorted(r[1] for r in self.sql("PRAGMA index_list(%s)" % table)
                          if not r[1].startswith("sqlite_autoindex"))
        return sorted(r[0] for r in self.sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = '%s' AND schemaname = 'public'"
            % table))

    def schema(self):
        """A full dump of the schema, comparable with ==."""
        if self.backend == "sqlite":
            if not os.path.exists(self.db_path):
                return []
            return sorted(tuple(r) for r in self.sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"))
        return pg.schema_dump(self.url)


def main():
    unittest.main(verbosity=2)
