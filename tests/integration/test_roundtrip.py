"""`luamig test`: every revision upgraded, downgraded and upgraded again on a scratch database
that luamig creates and removes itself (SQLite: a file in $TMPDIR; PostgreSQL: a database
luamig_test_* on the configured server, or with --schema a schema luamig_test_* in the
configured database).

A broken downgrade (drops the wrong index, forgets a column) is reported with the exact
differences as `check` prints them, and exit 1; with --data, a downgrade that deletes rows of a
table it does not touch is reported with the rows lost; a clean history passes on both
databases, and with target_metadata the schema at the heads is checked against the models.
The configured database is never touched, and no scratch database is left behind: after a
pass, a failing step, and SIGINT in the middle of a step."""
import os
import signal
import subprocess
import time
import unittest

import pg
from luamigtest import LUAMIG, TMP_ROOT, Project, backends, default_sigint, main, temp_dir

ACCOUNT_UP = '''  op.create_table("account",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50), { nullable = false }))
  op.create_index("ix_account_name", "account", { "name" })'''
ACCOUNT_DOWN = '''  op.drop_index("ix_account_name", { table_name = "account" })
  op.drop_table("account")'''
EMAIL_UP = '''  op.add_column("account", sa.Column("email", sa.String(100)))
  op.create_index("ix_account_email", "account", { "email" })'''
EMAIL_DOWN = '''  op.drop_index("ix_account_email", { table_name = "account" })
  op.drop_column("account", "email")'''
# the wrong index dropped, the column forgotten
EMAIL_DOWN_BROKEN = '''  op.drop_index("ix_account_name", { table_name = "account" })'''
LOG_UP = '''  op.create_table("log",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), { nullable = false }),
    sa.Column("at", sa.DateTime),
    sa.Column("ok", sa.Boolean))'''
LOG_DOWN = '''  op.drop_table("log")'''
# also deletes rows of a table the revision does not change
LOG_DOWN_LOSES_ROWS = LOG_DOWN + '''
  op.execute("DELETE FROM account WHERE id % 2 = 0")'''

MARKER_UP = '''
  op.create_table("marker", sa.Column("n", sa.Integer))'''
MARKER_DOWN = '''  op.drop_table("marker")
'''
# the index only while marker is empty; the downgrade drops it and leaves a row in marker
INDEX_UNLESS_MARKED = '''  local n = op.get_bind():query("SELECT count(*) FROM marker")[1][1]
  if n == 0 then op.create_index("ix_marker_n", "marker", { "n" }) end'''
UNINDEX_AND_MARK = '''  op.execute("DROP INDEX IF EXISTS ix_marker_n")
  op.execute("INSERT INTO marker (n) VALUES (1)")'''

HEADER = 'local op = require "luamig.op"\nlocal sa = require "luamig.sa"\n'
# the heading of a downgrade that does not restore the schema, as `luamig test` prints it
RESTORE = ("       downgrade does not restore the schema before the upgrade (what would take the "
           "database back to it):")

MODELS = '''local sa = require "luamig.sa"
local metadata = sa.MetaData()
sa.Table("account", metadata,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(50), { nullable = false }),
  sa.Column("email", sa.String(%d)),
  sa.Index("ix_account_name", "name"),
  sa.Index("ix_account_email", "email"))
sa.Table("log", metadata,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"), { nullable = false }),
  sa.Column("at", sa.DateTime),
  sa.Column("ok", sa.Boolean))
return metadata
'''

STARTED = '''  local f = io.open(os.getenv("LUAMIG_TEST_STARTED"), "w")
  f:close()
'''
# what the stalled revision does once it has made the file "started": a Lua loop, or a statement
# that runs far longer than the test waits (the signal must cancel it)
STALLS = {
    "loop": lambda backend: "  while true do end",
    "statement": lambda backend: (
        '  op.execute("SELECT pg_sleep(60)")' if backend == "postgresql" else
        '  op.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c '
        'WHERE x < 1000000000) SELECT count(*) FROM c")'),
}


class Scratch:
    """Where a backend's scratch databases would be left: a private $TMPDIR for SQLite, the
    pg_database / pg_namespace rows named luamig_test_* for PostgreSQL."""

    def __init__(self, test, p):
        self.p = p
        self.tmpdir = temp_dir(test, "scratch")

    def env(self, extra=None):
        e = {"TMPDIR": self.tmpdir}
        e.update(extra or {})
        return e

    def left(self, running=None):
        if self.p.backend == "sqlite":
            return sorted(os.listdir(self.tmpdir))
        return ([(name,) for name in pg.scratch_databases_left(running)]
                + self.p.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'luamig_test_%'"))


def history(p, email_down=EMAIL_DOWN, log_down=LOG_DOWN):
    p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP, ACCOUNT_DOWN, message="create account")
    p.revision_file("bbbb0002", "aaaa0001", HEADER + EMAIL_UP, email_down, message="add email")
    p.revision_file("cccc0003", "bbbb0002", HEADER + LOG_UP, log_down, message="create log")


def use_models(p, email_length=100):
    p.use_models(MODELS % email_length)


def forgotten_column(p, up, message, account_up="", account_down=""):
    """aaaa0001 creates account (and does account_up/account_down too); bbbb0002 runs `up`, and
    its downgrade forgets to undo it."""
    p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP + account_up,
                    ACCOUNT_DOWN + account_down, message="create account")
    p.revision_file("bbbb0002", "aaaa0001", HEADER + up, "  -- forgets the column",
                    message=message)


def last_line(text):
    return text.strip().split("\n")[-1]


class TestRoundtrip(unittest.TestCase):
    """Each test runs `luamig test` on SQLite, and on PostgreSQL as a database and a schema."""

    def modes(self):
        """(backend, extra arguments): PostgreSQL both as a database and as a schema."""
        out = []
        for b in backends():
            out.append((b, ()))
            if b == "postgresql":
                out.append((b, ("--schema",)))
        return out

    def failing_test(self, p, *args):
        """Runs `luamig test ARGS` on p, which must fail; returns the result, its stdout's
        lines, and the Scratch its scratch databases would be left in."""
        s = Scratch(self, p)
        r = p.fails("test", *args, env=s.env())
        return r, r.out.split("\n"), s

    def assert_untouched(self, p):
        self.assertEqual(p.tables(), [])
        if p.backend == "sqlite":
            self.assertFalse(os.path.exists(p.db_path))

    def test_clean_history_passes(self):
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                history(p)
                s = Scratch(self, p)
                r = p.ok("test", *extra, env=s.env())
                self.assertEqual(r.out, "ok   aaaa0001  create account\n"
                                        "ok   bbbb0002  add email\n"
                                        "ok   cccc0003  create log\n"
                                        "All 3 revisions round-trip\n")
                r = p.ok("test", "--data", *extra, env=s.env())
                self.assertIn("All 3 revisions round-trip", r.out)
                self.assertNotIn("no rows could be inserted", r.out)
                self.assertEqual(s.left(), [])
                self.assert_untouched(p)

    def test_role_without_createdb_uses_schema(self):
        """A role that may not create databases is told about --schema, which then works."""
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL is not running")
        name = role = "rt_nocreatedb_%d" % os.getpid()
        admin = pg.info()["LUAMIG_TEST_PG_URL"]
        pg.psql(admin, "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN NOCREATEDB;" % (role, role))
        self.addCleanup(pg.psql, admin, "DROP ROLE IF EXISTS %s;" % role)
        pg.create_database(name, owner=role)
        self.addCleanup(pg.drop_database, name)
        url = pg.url(name).replace("postgres@", role + "@", 1)
        self.assertIn(role + "@", url)
        p = Project(self, "postgresql", url=url)
        history(p)
        s = Scratch(self, p)
        r = p.fails("test", env=s.env())
        self.assertRegex(last_line(r.err), r"^FAILED: luamig test: cannot create the scratch "
                         r"database luamig_test_\w+ \(.*permission denied to create database.*\); "
                         r"--schema tests in a temporary schema of the configured database "
                         r"instead$")
        r2 = p.ok("test", "--schema", env=s.env())
        self.assertIn("All 3 revisions round-trip", r2.out)
        self.assertEqual(s.left(), [])
        self.assert_untouched(p)

    def test_downgrade_fails_and_second_upgrade_differs(self):
        """A downgrade that raises is reported and the test goes on from the upgraded schema; an
        upgrade whose result depends on rows its downgrade left (not on the schema) differs the
        second time."""
        p = Project(self, "sqlite")
        p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP + MARKER_UP,
                        MARKER_DOWN + ACCOUNT_DOWN, message="create account")
        p.revision_file("bbbb0002", "aaaa0001", HEADER + INDEX_UNLESS_MARKED, UNINDEX_AND_MARK,
                        message="index marker")
        p.revision_file("cccc0003", "bbbb0002", HEADER + LOG_UP, '  error("cannot go back")',
                        message="create log")
        p.revision_file("dddd0004", "cccc0003", HEADER + '  op.add_column("log", '
                        'sa.Column("note", sa.Text))', '  op.drop_column("log", "note")',
                        message="log note")
        s = Scratch(self, p)
        r = p.fails("test", env=s.env())
        self.assertEqual(r.out.split("\n"), [
            "ok   aaaa0001  create account",
            "FAIL bbbb0002  index marker",
            "       upgrade after the downgrade differs from the first (what would take the "
            "database to the first upgrade's schema):",
            "         add_index ix_marker_n on marker (n)",
            "FAIL cccc0003  create log",
            "       downgrade fails: downgrade of revision cccc0003 failed at "
            "migrations/versions/0003_cccc0003.lua:21: cannot go back",
            "ok   dddd0004  log note",
            ""])
        self.assertEqual(last_line(r.err), "FAILED: 2 of 4 revisions do not round-trip")
        self.assertEqual(s.left(), [])

    def test_after_a_second_upgrade_that_differs_the_next_revision_starts_afresh(self):
        """The revision after one whose second upgrade differs is compared with the schema the
        database really has (with the index the second upgrade left out), not with the first
        upgrade's."""
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP + MARKER_UP,
                                MARKER_DOWN + ACCOUNT_DOWN, message="create account")
                p.revision_file("bbbb0002", "aaaa0001", HEADER + INDEX_UNLESS_MARKED,
                                UNINDEX_AND_MARK, message="index marker")
                p.revision_file("cccc0003", "bbbb0002", HEADER + LOG_UP, LOG_DOWN,
                                message="create log")
                r, lines, s = self.failing_test(p, *extra)
                self.assertEqual(lines, [
                    "ok   aaaa0001  create account",
                    "FAIL bbbb0002  index marker",
                    "       upgrade after the downgrade differs from the first (what would take "
                    "the database to the first upgrade's schema):",
                    "         add_index ix_marker_n on marker (n)",
                    "ok   cccc0003  create log",
                    ""])
                self.assertEqual(s.left(), [])

    def test_a_downgrade_that_leaves_a_column_is_reported(self):
        """A trace only in a table's definition (no name in the catalog changes)."""
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                forgotten_column(p, '  op.add_column("account", sa.Column("note", sa.Text, '
                                 '{ server_default = "none" }))', "add note")
                r, lines, s = self.failing_test(p, *extra)
                self.assertEqual(lines[:3], [
                    "ok   aaaa0001  create account",
                    "FAIL bbbb0002  add note",
                    RESTORE])
                self.assertEqual(lines[3].strip(), "remove_column account.note sa.TEXT()")
                self.assertEqual(s.left(), [])

    def test_sqlite_states_kept_as_catalog_rows_compare_as_reflections(self):
        """On SQLite, without --data, a state is kept as its catalog rows and only the tables
        whose rows differ are reflected, the earlier side made again from its rows (a virtual
        table with its shadow tables, a view, a trigger, an AUTOINCREMENT table); the
        differences are those the whole reflections give (--data keeps whole reflections)."""
        p = Project(self, "sqlite")
        p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP + """
  op.create_table("counter",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id")),
    sa.UniqueConstraint("account_id", { name = "uq_counter_account" }),
    { sqlite_autoincrement = true })
  op.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
  op.execute("CREATE VIEW named AS SELECT name FROM account")
  op.execute("CREATE TRIGGER counter_touch AFTER INSERT ON counter BEGIN SELECT 1; END")""",
                        """  op.execute("DROP TRIGGER counter_touch")
  op.execute("DROP VIEW named")
  op.execute("DROP TABLE docs")
  op.drop_table("counter")
""" + ACCOUNT_DOWN, message="create all")
        # the downgrade puts docs back with another column, forgets counter's new column and
        # drops the wrong index
        p.revision_file("bbbb0002", "aaaa0001", HEADER + """  op.execute("DROP TABLE docs")
  op.add_column("counter", sa.Column("n", sa.Integer))
  op.create_index("ix_counter_n", "counter", { "n" })""",
                        """  op.execute("CREATE VIRTUAL TABLE docs USING fts5(body, title)")
  op.drop_index("ix_account_name", { table_name = "account" })""", message="change all")
        s = Scratch(self, p)
        outs = []
        for extra in ((), ("--data",)):
            r = p.fails("test", *extra, env=s.env())
            # --data says which tables took no rows; the rest is the same
            lines = [x for x in r.out.split("\n") if "(--data:" not in x]
            self.assertEqual(lines[:3], [
                "ok   aaaa0001  create all",
                "FAIL bbbb0002  change all",
                RESTORE], extra)
            self.assertEqual(sorted(x.strip() for x in lines[3:8]), [
                "add_index ix_account_name on account (name)",
                "remove_column counter.n sa.INTEGER()",
                "remove_column docs.title sa.NullType()",
                "remove_column docs_content.c1 sa.NullType()",
                "remove_index ix_counter_n on counter (n)"], extra)
            self.assertTrue(lines[8].strip().startswith("upgrade after the downgrade fails:"),
                            lines[8])
            outs.append(lines)
            self.assertEqual(s.left(), [])
        self.assertEqual(outs[0], outs[1])

    def test_sqlite_catalog_states_and_what_other_tables_lend(self):
        """What a table's reflection takes from other tables or loses in the catalog: a foreign
        key naming no columns takes the referred table's primary key (a change there changes
        the referring table; a referring table made again needs the referred one); a trigger
        keeps its table's name as written; VACUUM puts a virtual table after its shadow tables.
        Each reports what the whole reflections (--data) report."""
        parent = ("  op.execute(\"CREATE TABLE parent (id INTEGER NOT NULL, code TEXT NOT NULL, "
                  "PRIMARY KEY (id))\")\n"
                  "  op.execute(\"CREATE TABLE child (x INTEGER PRIMARY KEY, "
                  "pid INTEGER REFERENCES parent)\")")
        cases = [
            ("primary key of a referred table", [
                (parent, '  op.execute("DROP TABLE child")\n  op.execute("DROP TABLE parent")'),
                ('  op.execute("DROP TABLE parent")\n  op.execute("CREATE TABLE parent '
                 '(id INTEGER NOT NULL, code TEXT NOT NULL, PRIMARY KEY (code))")', "")],
             ["remove_fk foreign key (unnamed) on child (pid) -> parent(code)",
              "add_fk foreign key (unnamed) on child (pid) -> parent(id)"]),
            ("a referring table made again", [
                (parent, '  op.execute("DROP TABLE child")\n  op.execute("DROP TABLE parent")'),
                ('  op.execute("CREATE TRIGGER IF NOT EXISTS t1 AFTER INSERT ON child '
                 'BEGIN SELECT 1; END")\n  op.create_index("ix_child_pid", "child", { "pid" })',
                 "")],
             ["remove_index ix_child_pid on child (pid)"]),
            ("an index moved to another table", [
                (ACCOUNT_UP + '\n  op.create_table("other", sa.Column("name", sa.Text))', 
                 '  op.drop_table("other")\n' + ACCOUNT_DOWN),
                ('  op.drop_index("ix_account_name", { table_name = "account" })\n'
                 '  op.create_index("ix_account_name", "other", { "name" })',
                 "  -- leaves the index on other")],
             ["add_index ix_account_name on account (name)",
              "remove_index ix_account_name on other (name)"]),
            ("a trigger spelling its table otherwise", [
                (ACCOUNT_UP + '\n  op.execute("CREATE TRIGGER t1 AFTER INSERT ON Account '
                 'BEGIN SELECT 1; END")', ACCOUNT_DOWN),
                ('  op.execute("DROP TRIGGER IF EXISTS t1")', "")],
             None),
            ("a virtual table after a VACUUM", [
                ('  op.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")',
                 '  op.execute("DROP TABLE docs")'),
                ('  op.get_context():autocommit_block(function() op.execute("VACUUM") end)', ""),
                ('  op.execute("DROP TABLE docs")',
                 '  op.execute("CREATE VIRTUAL TABLE docs USING fts5(body, title)")')],
             ["remove_column docs.title sa.NullType()"]),
        ]
        for name, revisions, expected in cases:
            with self.subTest(case=name):
                p = Project(self, "sqlite")
                prev = None
                for i, (up, down) in enumerate(revisions):
                    rev = "%04d%04d" % (i + 1, i + 1)
                    p.revision_file(rev, prev, HEADER + up, down or "  -- nothing",
                                    message="step %d" % (i + 1))
                    prev = rev
                s = Scratch(self, p)
                outs = []
                for extra in ((), ("--data",)):
                    if expected is None:   # triggers are not compared: it round-trips
                        r = p.ok("test", *extra, env=s.env())
                        self.assertEqual(last_line(r.out), "All %d revisions round-trip"
                                         % len(revisions), extra)
                        continue
                    r = p.fails("test", *extra, env=s.env())
                    # --data's own findings (tables that took no rows, rows lost) left out
                    lines = [x for x in r.out.split("\n") if "(--data:" not in x
                             and "lose rows" not in x and "rows lost" not in x]
                    for want in expected:
                        self.assertIn(want, [x.strip() for x in lines], (extra, r.out))
                    self.assertEqual(last_line(r.err), "FAILED: 1 of %d revisions do not round-trip"
                                     % len(revisions), extra)
                    outs.append(lines)
                if outs:
                    self.assertEqual(outs[0], outs[1])
                self.assertEqual(s.left(), [])

    def test_postgresql_states_kept_as_prints_compare_as_reflections(self):
        """On PostgreSQL, without --data, a state is kept as a print of each table's catalog rows
        and only the tables whose prints differ are reflected, the earlier side from a replay of
        the revisions on a second scratch database: each trace a downgrade leaves (a comment, a
        default, NOT NULL, a check, a foreign key's ON DELETE, an index's predicate, a unique
        constraint, an identity column, a partial revert on another table) is reported as the
        whole reflections (--data) report it, in both scratch modes."""
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        base = HEADER + ACCOUNT_UP + """
  op.create_table("item",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id", { ondelete = "CASCADE" })),
    sa.Column("qty", sa.Integer, { server_default = "1" }),
    sa.Column("code", sa.String(10)),
    sa.Column("mood", sa.Enum("sad", "ok", { name = "mood" })),
    sa.Column("size", sa.Integer),
    sa.CheckConstraint("qty > 0", { name = "ck_item_qty" }))
  op.create_index("ix_item_code", "item", { "code" })
  op.execute("CREATE DOMAIN small AS integer")
  op.execute("ALTER TABLE item ALTER COLUMN size TYPE small")
  op.execute("CREATE TABLE ev (id integer, at date) PARTITION BY RANGE (at)")
  op.execute("CREATE INDEX ix_ev_id ON ev (id)")"""
        base_down = ('  op.execute("DROP TABLE ev")\n'
                     '  op.drop_table("item")\n  op.execute("DROP TYPE IF EXISTS mood")\n'
                     '  op.execute("DROP DOMAIN IF EXISTS small")\n' + ACCOUNT_DOWN)
        # each change's upgrade, and a downgrade that forgets to undo it
        changes = [
            ('  op.execute("COMMENT ON TABLE item IS \'things\'")', "  -- keeps the comment",
             "remove_table_comment item"),
            ('  op.execute("COMMENT ON COLUMN item.code IS \'sku\'")', "",
             'modify_comment item.code: "sku" -> none'),
            ('  op.alter_column("item", "qty", { server_default = "2" })', "", None),
            ('  op.alter_column("item", "code", { nullable = false, '
             'existing_type = sa.String(10) })', "", "modify_nullable item.code: NOT NULL -> NULL"),
            ('  op.drop_constraint("ck_item_qty", "item", { type_ = "check" })', "",
             "add_constraint check constraint 'ck_item_qty' on item qty > 0"),
            ('  op.execute("ALTER TABLE item DROP CONSTRAINT item_account_id_fkey, ADD CONSTRAINT '
             'item_account_id_fkey FOREIGN KEY (account_id) REFERENCES account (id)")', "",
             "add_fk foreign key 'item_account_id_fkey' on item (account_id) -> account(id)"),
            ('  op.drop_index("ix_item_code", { table_name = "item" })\n'
             '  op.create_index("ix_item_code", "item", { "code" }, '
             '{ postgresql_where = sa.text("code IS NOT NULL") })', "", None),
            ('  op.create_unique_constraint("uq_account_name", "account", { "name" })', "",
             "remove_constraint unique constraint 'uq_account_name' on account (name)"),
            ('  op.add_column("account", sa.Column("n", sa.Integer, sa.Identity()))', "",
             "remove_column account.n sa.INTEGER() NOT NULL"),
            ('  op.execute("ALTER TYPE mood ADD VALUE IF NOT EXISTS \'glad\'")', "", None),
            # a partitioned table with an index (whose definition says ON ONLY <schema>.ev)
            ('  op.execute("COMMENT ON COLUMN ev.id IS \'n\'")', "",
             'modify_comment ev.id: "n" -> none'),
            # a trace behind a domain: the reflection reads the domain's NOT NULL as the column's
            ('  op.execute("ALTER DOMAIN small SET NOT NULL")', "",
             "modify_nullable item.size: NOT NULL -> NULL"),
        ]
        # the line each reports; None: what compare does not look at, as Alembic's defaults
        # (compare_server_default off, an index's predicate, an enum's labels): both ways pass
        for backend, extra in self.modes():
            if backend != "postgresql":
                continue
            for up, down, what in changes:
                with self.subTest(extra=extra, change=what):
                    p = Project(self, backend)
                    p.revision_file("aaaa0001", None, base, base_down, message="base")
                    p.revision_file("bbbb0002", "aaaa0001", HEADER + up, down or "  -- nothing",
                                    message="change")
                    s = Scratch(self, p)
                    outs = []
                    for more in ((), ("--data",)):
                        r = p.run("test", *(extra + more), env=s.env())
                        lines = [x for x in r.out.split("\n") if "(--data:" not in x
                                 and "lose rows" not in x and "rows lost" not in x]
                        if what is None:
                            self.assertEqual(r.rc, 0, (more, r.out))
                        else:
                            self.assertEqual(r.rc, 1, (more, r.out))
                            self.assertEqual(lines[:3], [
                                "ok   aaaa0001  base", "FAIL bbbb0002  change",
                                RESTORE], (more, r.out))
                            self.assertIn(what, r.out)
                        outs.append(lines)
                        self.assertEqual(s.left(), [])
                    self.assertEqual(outs[0], outs[1])

    def test_postgresql_prints_follow_what_tables_depend_on(self):
        """PostgreSQL: a state's prints are kept up to date by printing again only the tables a
        step may have changed, and the tests check each time that this gives what printing
        every table does (LUAMIG_TEST_CHECK_PRINTS, set by luamigtest). Each revision here
        round-trips, and each changes what a table's print shows without writing a row of that
        table: the table its foreign key names, the name of the column it refers to, the
        sequence its default names, its domain's default, a comment gone, a constraint gone, a
        temporary table that makes its foreign key's table name qualified, a function its check
        calls, its text search configuration; a type or a table renamed that a check names
        without a dependency on it (an empty array of it); a table without constraints gone; a
        table in another schema that it refers to, and that a table of the test's schema then
        hides."""
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        base = HEADER + ACCOUNT_UP + """
  op.execute("CREATE SEQUENCE code_seq")
  op.execute("CREATE DOMAIN small AS integer")
  op.execute("CREATE FUNCTION positive(integer) RETURNS boolean LANGUAGE sql IMMUTABLE "
    .. "AS 'SELECT $1 > 0'")
  op.execute("CREATE TABLE item (id serial PRIMARY KEY, account_id integer CONSTRAINT item_fk "
    .. "REFERENCES account (id), code integer DEFAULT nextval('code_seq'), size small, "
    .. "qty integer CONSTRAINT ck_qty CHECK (positive(qty)), "
    .. "CONSTRAINT item_fk2 FOREIGN KEY (account_id) REFERENCES account (id))")
  op.execute("COMMENT ON TABLE item IS 'things'")
  op.execute("CREATE TEXT SEARCH CONFIGURATION app_fts (COPY = english)")
  op.execute("ALTER TABLE item ADD COLUMN words tsvector GENERATED ALWAYS AS "
    .. "(to_tsvector('app_fts', code::text)) STORED")
  op.execute("ALTER TABLE account ADD CONSTRAINT ck_none CHECK "
    .. "(cardinality(ARRAY[]::small[]) + cardinality(ARRAY[]::item[]) = 0)")"""
        base_down = ('  op.execute("ALTER TABLE account DROP CONSTRAINT ck_none")\n'
                     '  op.execute("DROP TABLE item")\n  op.execute("DROP FUNCTION positive")\n'
                     '  op.execute("DROP TEXT SEARCH CONFIGURATION app_fts")\n'
                     '  op.execute("DROP DOMAIN small")\n  op.execute("DROP SEQUENCE code_seq")\n'
                     + ACCOUNT_DOWN)
        # (each revision's upgrade stays for the next: account is acct from the first on, its
        # id ident from the second, the domain tiny from the fifth)
        steps = [
            ('op.rename_table("account", "acct")', 'op.rename_table("acct", "account")'),
            ('op.alter_column("acct", "id", { new_column_name = "ident" })',
             'op.alter_column("acct", "ident", { new_column_name = "id" })'),
            ('op.execute("ALTER SEQUENCE code_seq RENAME TO code_seq2")',
             'op.execute("ALTER SEQUENCE code_seq2 RENAME TO code_seq")'),
            ('op.execute("ALTER DOMAIN small SET DEFAULT 3")',
             'op.execute("ALTER DOMAIN small DROP DEFAULT")'),
            ('op.execute("ALTER DOMAIN small RENAME TO tiny")',
             'op.execute("ALTER DOMAIN tiny RENAME TO small")'),
            ('op.execute("COMMENT ON TABLE item IS NULL")',
             'op.execute("COMMENT ON TABLE item IS \'things\'")'),
            ('op.execute("ALTER TABLE item DROP CONSTRAINT item_fk2")',
             'op.execute("ALTER TABLE item ADD CONSTRAINT item_fk2 FOREIGN KEY (account_id) '
             'REFERENCES acct (ident)")'),
            ('op.execute("CREATE TEMP TABLE acct (id integer)")',
             'op.execute("DROP TABLE pg_temp.acct")'),
            ('op.execute("ALTER FUNCTION positive(integer) RENAME TO pos")',
             'op.execute("ALTER FUNCTION pos(integer) RENAME TO positive")'),
            ('op.execute("CREATE TABLE bare (n integer)")', 'op.execute("DROP TABLE bare")'),
            ('op.execute("ALTER TEXT SEARCH CONFIGURATION app_fts RENAME TO app_search")',
             'op.execute("ALTER TEXT SEARCH CONFIGURATION app_search RENAME TO app_fts")'),
            ('op.rename_table("item", "thing")', 'op.rename_table("thing", "item")'),
            ('op.rename_table("thing", "item")', 'op.rename_table("item", "thing")'),
            # (what the test prepared in the session is prepared again)
            ('op.execute("DEALLOCATE ALL")', 'op.execute("DEALLOCATE ALL")'),
            # (last, as every table is printed again from here on) a table in another schema,
            # which the search path then finds by its name
            ('op.execute("CREATE SCHEMA luamig_other")\n'
             '  op.execute("CREATE TABLE luamig_other.ref (id integer PRIMARY KEY)")\n'
             '  op.execute("ALTER TABLE item ADD COLUMN ref_id integer '
             'REFERENCES luamig_other.ref (id)")\n'
             '  op.execute("SELECT set_config(\'search_path\', '
             'current_setting(\'search_path\') || \', luamig_other\', false)")',
             'op.execute("ALTER TABLE item DROP COLUMN ref_id")\n'
             '  op.execute("DROP SCHEMA luamig_other CASCADE")\n'
             '  op.execute("SELECT set_config(\'search_path\', '
             'replace(current_setting(\'search_path\'), \', luamig_other\', \'\'), false)")'),
            # which a table of the test's schema then hides: the foreign key names it in full
            ('op.execute("CREATE TABLE ref (id integer)")', 'op.execute("DROP TABLE ref")'),
        ]
        for backend, extra in self.modes():
            if backend != "postgresql":
                continue
            with self.subTest(extra=extra):
                p = Project(self, backend)
                p.revision_file("r00", None, base, base_down, message="base")
                prev = "r00"
                for i, (up, down) in enumerate(steps, 1):
                    rev = "r%02d" % i
                    p.revision_file(rev, prev, HEADER + "  " + up, "  " + down,
                                    message="step %d" % i)
                    prev = rev
                s = Scratch(self, p)
                r = p.run("test", *extra, env=s.env())
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.out.split("\n")[-2], "All %d revisions round-trip"
                                 % (len(steps) + 1), r)
                self.assertEqual(s.left(), [])

    def test_postgresql_a_table_no_replay_gives_is_said_not_shown(self):
        """PostgreSQL: the earlier side of a difference comes from replaying the steps the test
        applied up to that state (after a revision whose second upgrade differed too: cccc0003's
        difference is shown). A table an earlier revision's second upgrade made otherwise than
        its first (marker, by bbbb0002) is not what a replay gives: dddd0004's difference there
        is named, not shown."""
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        forgets = "  -- forgets the column"
        for backend, extra in self.modes():
            if backend != "postgresql":
                continue
            with self.subTest(extra=extra):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP + MARKER_UP,
                                MARKER_DOWN + ACCOUNT_DOWN, message="create account")
                p.revision_file("bbbb0002", "aaaa0001", HEADER + INDEX_UNLESS_MARKED,
                                UNINDEX_AND_MARK, message="index marker")
                p.revision_file("cccc0003", "bbbb0002", HEADER + '  op.execute("ALTER TABLE '
                                'account ADD COLUMN IF NOT EXISTS note TEXT")', forgets,
                                message="account note")
                p.revision_file("dddd0004", "cccc0003", HEADER + '  op.execute("ALTER TABLE '
                                'marker ADD COLUMN IF NOT EXISTS note TEXT")', forgets,
                                message="marker note")
                r, lines, s = self.failing_test(p, *extra)
                self.assertEqual(lines[4:], [
                    "FAIL cccc0003  account note", RESTORE,
                    "         remove_column account.note sa.TEXT()",
                    "FAIL dddd0004  marker note", RESTORE,
                    "         table marker changed in the catalog (how, and whether check would "
                    "report it, cannot be shown: replaying the revisions before it does not give "
                    "the schema the test found)",
                    ""], r.out)
                self.assertEqual(last_line(r.err), "FAILED: 3 of 4 revisions do not round-trip")
                self.assertEqual(s.left(), [])

    def test_postgresql_column_numbers_that_move_still_compare(self):
        """PostgreSQL never reuses a dropped column's number: after a revision that adds an
        indexed column with a foreign key and drops it again, the column the second upgrade
        makes has another number than the first's; a downgrade that adds a column again puts
        it last. Both are the same schema (the revisions round-trip), and a later difference on
        the same table is still shown: the replay's prints name columns, in no order."""
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        add = ('  op.add_column("account", sa.Column("%s", sa.Integer, '
               'sa.ForeignKey("account.id")))\n'
               '  op.create_index("ix_account_%s", "account", { "%s" })')
        drop = ('  op.drop_index("ix_account_%s", { table_name = "account" })\n'
                '  op.drop_column("account", "%s")')
        for backend, extra in self.modes():
            if backend != "postgresql":
                continue
            with self.subTest(extra=extra):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP, ACCOUNT_DOWN,
                                message="create account")
                prev = "aaaa0001"
                for rev, col in (("bbbb0002", "b"), ("cccc0003", "c")):
                    p.revision_file(rev, prev, HEADER + add % (col, col, col), drop % (col, col),
                                    message="add " + col)
                    prev = rev
                # the downgrade also makes name again, after b and c: the same schema, in
                # another order than a replay's from here on
                p.revision_file("dddd0004", prev, HEADER + '  op.add_column("account", '
                                'sa.Column("e", sa.Text))',
                                '  op.drop_column("account", "e")\n'
                                '  op.drop_index("ix_account_name", { table_name = "account" })\n'
                                '  op.drop_column("account", "name")\n'
                                '  op.add_column("account", sa.Column("name", sa.String(50), '
                                '{ nullable = false }))\n  op.create_index("ix_account_name", '
                                '"account", { "name" })', message="add e")
                p.revision_file("eeee0005", "dddd0004", HEADER + '  op.add_column("account", '
                                'sa.Column("d", sa.Text))', "  -- forgets the column",
                                message="add d")
                r, lines, s = self.failing_test(p, *extra)
                self.assertEqual(lines, [
                    "ok   aaaa0001  create account", "ok   bbbb0002  add b",
                    "ok   cccc0003  add c", "ok   dddd0004  add e", "FAIL eeee0005  add d",
                    RESTORE,
                    "         remove_column account.d sa.TEXT()",
                    "       upgrade after the downgrade fails: " + r.out.split(
                        "upgrade after the downgrade fails: ")[-1].split("\n")[0],
                    "Stopped: the second upgrade of eeee0005 failed; later revisions were not "
                    "tested", ""])
                self.assertEqual(s.left(), [])

    def test_postgresql_a_replay_that_fails_is_said(self):
        """With --schema the replay runs in the configured database too: a revision that makes
        a schema of its own cannot be replayed there. The difference is then named with the
        replay's error, the test goes on and prints its report (in --json, a difference of kind
        table_differs); in a database of its own the replay works and shows it."""
        import json
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        side = "side_%d" % os.getpid()
        for backend, extra in self.modes():
            if backend != "postgresql":
                continue
            with self.subTest(extra=extra):
                p = Project(self, backend)
                self.addCleanup(p.sql_exec, "DROP SCHEMA IF EXISTS %s CASCADE" % side)
                forgotten_column(p, '  op.execute("ALTER TABLE account ADD COLUMN IF NOT EXISTS '
                                 'note TEXT")', "account note",
                                 '\n  op.execute("CREATE SCHEMA %s")' % side,
                                 '\n  op.execute("DROP SCHEMA %s")' % side)
                r, lines, s = self.failing_test(p, *extra)
                self.assertEqual(lines[:3], [
                    "ok   aaaa0001  create account", "FAIL bbbb0002  account note",
                    RESTORE], r.out)
                if extra:
                    self.assertTrue(lines[3].startswith(
                        "         table account changed in the catalog (how, and whether check "
                        "would report it, cannot be shown: replaying the revisions before it "
                        "failed: upgrade of revision aaaa0001 failed at "),
                        r.out)
                    self.assertIn('schema "%s" already exists' % side, lines[3])
                    # (the first run's upgrades left the schema in the configured database)
                    p.sql_exec("DROP SCHEMA %s" % side)
                    r = p.fails("test", "--json", *extra, env=s.env())
                    doc = json.JSONDecoder().raw_decode(r.out)[0]
                    diff = doc["revisions"][1]["problems"][0]["differences"]
                    self.assertEqual([(d["kind"], d["table"]) for d in diff],
                                     [("table_differs", "account")])
                    self.assertIn("already exists", diff[0]["detail"])
                else:
                    self.assertEqual(lines[3], "         remove_column account.note sa.TEXT()")
                self.assertEqual(last_line(r.err), "FAILED: 1 of 2 revisions do not round-trip")
                self.assertEqual(s.left(), [])

    def test_postgresql_a_lost_connection_stops_the_test(self):
        """PostgreSQL: the scratch database's backend ends in a downgrade (here env.lua's
        on_version_apply terminates it): the failed downgrade is reported, the test stops saying
        why, the revisions' lines are still printed, and no scratch database is left."""
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        p = Project(self, "postgresql")
        history(p)
        env = p.read("migrations/env.lua")
        anchor = "    connection = connection,\n"
        self.assertIn(anchor, env)
        p.write("migrations/env.lua", env.replace(anchor, anchor + (
            '    on_version_apply = function(info)\n'
            '      if not info.step.upgrade and info.step.rev.revision == "bbbb0002" then\n'
            '        info.ctx:execute("SELECT pg_terminate_backend(pg_backend_pid())")\n'
            '      end\n'
            '    end,\n'), 1))
        r, lines, s = self.failing_test(p)
        self.assertEqual(lines[:2], ["ok   aaaa0001  create account", "FAIL bbbb0002  add email"])
        self.assertTrue(lines[2].startswith("       downgrade fails: "), r.out)
        self.assertTrue(lines[2].endswith("[SQL: SELECT pg_terminate_backend(pg_backend_pid())]"),
                        r.out)
        self.assertEqual(lines[3:], ["Stopped: the connection to the scratch database was lost "
                                     "in the downgrade of bbbb0002; later revisions were not "
                                     "tested", ""])
        self.assertEqual(last_line(r.err), "FAILED: 1 of 2 revisions do not round-trip")
        self.assertEqual(s.left(), [])

    def test_postgresql_a_scratch_it_cannot_drop_is_named(self):
        """PostgreSQL: the connection that made the scratch database (or schema) is lost just as
        it drops it, after every revision passed (fault injection: the run's last driver call,
        counted by a first run). The test still passes, and a warning names what was left for
        the user to remove; that database or schema is indeed there."""
        if "postgresql" not in backends():
            self.skipTest("needs PostgreSQL")
        probe = subprocess.run([LUAMIG, "--version"], env=dict(os.environ, LUAMIG_FAULT="stmt:x"),
                               capture_output=True, text=True)
        if probe.returncode == 0:
            if pg.under_ci():
                self.fail("the binary ignores LUAMIG_FAULT: build with -DLUAMIG_FAULT_INJECTION=ON")
            self.skipTest("the binary was built without -DLUAMIG_FAULT_INJECTION=ON")
        for extra, kind in (((), "database"), (("--schema",), "schema")):
            with self.subTest(kind=kind):
                p = Project(self, "postgresql")
                history(p)
                s = Scratch(self, p)
                log = os.path.join(temp_dir(self, "faults"), "count.log")
                p.ok("test", *extra, env=s.env({"LUAMIG_FAULT": "count", "LUAMIG_FAULT_LOG": log}))
                with open(log) as f:
                    calls = int(f.read().rsplit("call=", 1)[1].split()[0])
                r = p.ok("test", *extra, env=s.env({"LUAMIG_FAULT": "drop:%d" % calls}))
                self.assertEqual(last_line(r.out), "All 3 revisions round-trip")
                warning = [line for line in r.err.split("\n") if line.startswith("WARNING")]
                self.assertEqual(len(warning), 1, r.err)
                head = "WARNING [luamig.scratch] could not remove the scratch %s " % kind
                self.assertTrue(warning[0].startswith(head), r.err)
                self.assertTrue(warning[0].endswith("); remove it by hand"), r.err)
                name = warning[0][len(head):].split(" ", 1)[0]
                self.assertTrue(name.startswith("luamig_test_"), r.err)
                self.assertIn("server closed the connection unexpectedly", warning[0])
                self.assertEqual(s.left(), [(name,)])
                if kind == "database":
                    pg.drop_database(name)
                else:
                    p.sql_exec("DROP SCHEMA %s CASCADE" % name)
                self.assertEqual(s.left(), [])
                self.assert_untouched(p)

    def test_range_tests_only_its_revisions(self):
        p = Project(self, "sqlite")
        history(p)
        s = Scratch(self, p)
        r = p.ok("test", "aaaa0001:bbbb0002", env=s.env())
        self.assertEqual(r.out, "ok   bbbb0002  add email\nAll 1 revision round-trip\n")

    def test_broken_downgrade_reported_with_differences(self):
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                history(p, email_down=EMAIL_DOWN_BROKEN)
                r, lines, s = self.failing_test(p, *extra)
                self.assertEqual(lines[0], "ok   aaaa0001  create account")
                self.assertEqual(lines[1], "FAIL bbbb0002  add email")
                self.assertEqual(lines[2].strip(), "downgrade does not restore the schema before "
                                 "the upgrade (what would take the database back to it):")
                self.assertEqual(sorted(x.strip() for x in lines[3:6]), [
                    "add_index ix_account_name on account (name)",
                    "remove_column account.email sa.VARCHAR{ length = 100 }",
                    "remove_index ix_account_email on account (email)",
                ])
                # the column is still there: the second upgrade cannot add it, and the test stops
                self.assertTrue(lines[6].strip().startswith(
                    "upgrade after the downgrade fails: upgrade of revision bbbb0002 failed at "
                    "migrations/versions/0002_bbbb0002.lua:"), lines[6])
                self.assertEqual(lines[7], "Stopped: the second upgrade of bbbb0002 failed; "
                                 "later revisions were not tested")
                self.assertEqual(last_line(r.err), "FAILED: 1 of 2 revisions do not round-trip")
                self.assertEqual(s.left(), [])
                self.assert_untouched(p)

    def test_json(self):
        import json
        p = Project(self, "sqlite")
        history(p, email_down=EMAIL_DOWN_BROKEN)
        s = Scratch(self, p)
        r = p.fails("test", "--json", env=s.env())
        # the document, then (a failure) the final error event, as check, lint and validate do
        doc, at = json.JSONDecoder().raw_decode(r.out)
        end = json.loads(r.out[at:])
        self.assertEqual((end["event"], end["message"]),
                         ("error", "1 of 2 revisions do not round-trip"))
        self.assertEqual(doc["format"], 1)
        self.assertFalse(doc["ok"])
        self.assertEqual(doc["dialect"], "sqlite")
        self.assertEqual([e["ok"] for e in doc["revisions"]], [True, False])
        problems = doc["revisions"][1]["problems"]
        self.assertEqual([x["kind"] for x in problems], ["downgrade_differs", "reupgrade_failed"])
        self.assertEqual(sorted((d["kind"], d["name"] or d["column"])
                                for d in problems[0]["differences"]),
                         [("add_index", "ix_account_name"), ("remove_column", "email"),
                          ("remove_index", "ix_account_email")])
        r = p.fails("test", "--json", "--data", env=s.env())
        self.assertTrue(json.JSONDecoder().raw_decode(r.out)[0]["data"])

    def test_data_lost_by_downgrade(self):
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                history(p, log_down=LOG_DOWN_LOSES_ROWS)
                s = Scratch(self, p)
                # without --data the schema round-trips
                p.ok("test", *extra, env=s.env())
                r = p.fails("test", "--data", *extra, env=s.env())
                lines = r.out.split("\n")
                self.assertEqual(lines[:3], ["ok   aaaa0001  create account",
                                             "ok   bbbb0002  add email",
                                             "FAIL cccc0003  create log"])
                self.assertEqual(lines[3].strip(),
                                 "downgrade and upgrade lose rows they should keep:")
                # two rows before each of the 3 upgrades and 1 more before the downgrade: 8,
                # ids 1..8 (generated), the even ones deleted
                self.assertEqual(lines[4].strip(), 'table account (id, name, email): 4 of 8 rows '
                                 'lost, e.g. ("10", "r10", "r10")')
                self.assertEqual(last_line(r.err), "FAILED: 1 of 3 revisions do not round-trip")
                self.assertEqual(s.left(), [])
                self.assert_untouched(p)

    def test_models_at_heads(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                history(p)
                use_models(p)
                s = Scratch(self, p)
                r = p.ok("test", env=s.env())
                self.assertIn("ok   the schema at the heads equals target_metadata\n", r.out)
                use_models(p, email_length=200)
                r = p.fails("test", env=s.env())
                self.assertIn("FAIL the schema at the heads differs from target_metadata (as "
                              "`luamig check` prints it):\n         modify_type account.email: "
                              "sa.VARCHAR{ length = 100 } -> sa.String{ length = 200 }\n", r.out)
                self.assertEqual(last_line(r.err),
                                 "FAILED: the schema at the heads differs from target_metadata")
                self.assertEqual(s.left(), [])

    def test_failing_step_leaves_no_scratch(self):
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP, ACCOUNT_DOWN)
                p.revision_file("bbbb0002", "aaaa0001", '  error("no such thing")', "")
                s = Scratch(self, p)
                r = p.fails("test", *extra, env=s.env())
                self.assertIn("FAIL bbbb0002  rev bbbb0002\n       upgrade fails: upgrade of "
                              "revision bbbb0002 failed at migrations/versions/0002_bbbb0002.lua"
                              ":11: no such thing\nStopped: the upgrade of bbbb0002 failed; later "
                              "revisions were not tested\n", r.out)
                self.assertEqual(s.left(), [])
                self.assert_untouched(p)

    def test_a_closed_pipe_on_stdout_leaves_no_scratch(self):
        """`luamig test | head -1`: the reader is gone long before the run ends; the lines are
        written once the scratch database is dropped, so the broken pipe leaves nothing."""
        for backend, extra in self.modes():
            with self.subTest(backend=backend, extra=extra):
                p = Project(self, backend)
                prev = None
                for i in range(1, 201):
                    rev = "r%04d" % i
                    p.revision_file(rev, prev, '  op.create_table("t%d", sa.Column("n", '
                                    'sa.Integer))' % i, '  op.drop_table("t%d")' % i,
                                    message="a message long enough to fill a buffer, step %d" % i)
                    prev = rev
                s = Scratch(self, p)
                env = dict(os.environ)
                env.pop("LUAMIG_CONFIG", None)
                env.setdefault("LUAMIG_CACHE_DIR", os.path.join(TMP_ROOT, "cache"))
                env.update(s.env())
                proc = subprocess.Popen([LUAMIG, "test"] + list(extra), cwd=p.dir, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                self.addCleanup(proc.kill)
                first = proc.stdout.readline()
                proc.stdout.close()       # as head does after its line
                proc.wait(timeout=120)
                self.assertEqual(first, b"ok   r0001  a message long enough to fill a buffer, "
                                 b"step 1\n")
                self.assertEqual(s.left(), [])

    def test_sigint_leaves_no_scratch(self):
        for (backend, extra), stall in [(m, k) for m in self.modes() for k in sorted(STALLS)]:
            with self.subTest(backend=backend, extra=extra, stall=stall):
                p = Project(self, backend)
                p.revision_file("aaaa0001", None, HEADER + ACCOUNT_UP, ACCOUNT_DOWN)
                p.revision_file("bbbb0002", "aaaa0001",
                                HEADER + STARTED + STALLS[stall](backend), "")
                s = Scratch(self, p)
                started = os.path.join(p.dir, "started")
                env = dict(os.environ)
                env.pop("LUAMIG_CONFIG", None)
                env.setdefault("LUAMIG_CACHE_DIR", os.path.join(TMP_ROOT, "cache"))
                env.update(s.env({"LUAMIG_TEST_STARTED": started}))
                proc = subprocess.Popen([LUAMIG, "test"] + list(extra), cwd=p.dir, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=default_sigint)
                self.addCleanup(proc.kill)
                deadline = time.time() + 30
                while not os.path.exists(started) and time.time() < deadline:
                    time.sleep(0.02)
                self.assertTrue(os.path.exists(started))
                # the scratch database exists while the test runs
                self.assertNotEqual(s.left(running=proc.pid), [])
                t0 = time.time()
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=30)
                # a statement in flight is cancelled, not waited for
                self.assertLess(time.time() - t0, 10)
                self.assertEqual(proc.returncode, -signal.SIGINT, err)
                self.assertIn("Interrupted by SIGINT during upgrade of revision bbbb0002",
                              last_line(err))
                self.assertEqual(s.left(), [])
                self.assert_untouched(p)


if __name__ == "__main__":
    main()
