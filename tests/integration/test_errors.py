"""Errors a user can act on (issue 14, item 5): the exact one-line message of each, on SQLite
and PostgreSQL. A misspelt op/sa name gets a suggestion; a message names the user's file:line,
never luamig's own Lua files; a database error carries the database's own code (SQLite's
result code name, PostgreSQL's SQLSTATE), not a Python exception name; a duplicate revision
id names both files; an unknown revision in the version table says where it comes from and
how to get past it; --raiseerr prints the revision's traceback on several lines. Each
failure leaves the database as it was."""
import unittest

from luamigtest import Project, backends, main

REV = "migrations/versions/0001_a1.lua"
LINE = 11  # the first line of upgrade()'s body in Project.revision_file's layout
TABLE_T = '  op.create_table("t", sa.Column("id", sa.Integer, { primary_key = true }))'


def failed(test, r):
    """The one FAILED line of a run (INFO lines aside), asserting it is the only one."""
    lines = [l for l in r.err.split("\n") if l and not l.startswith("INFO ")]
    test.assertEqual(len(lines), 1, repr(r))
    return lines[0]


def upgrade_failure(test, backend, up, where=LINE):
    """Runs `upgrade head` over one revision a1 whose upgrade() is `up`; asserts it fails,
    touches nothing, and returns the message after "failed at <file>:<line>: "."""
    p = Project(test, backend)
    p.revision_file("a1", up=up)
    line = failed(test, p.fails("upgrade", "head"))
    prefix = "FAILED: upgrade of revision a1 failed at %s:%d: " % (REV, where)
    test.assertTrue(line.startswith(prefix), line)
    test.assertEqual(p.tables(), [])
    return line[len(prefix):]


class UnknownNames(unittest.TestCase):
    def test_misspelt_operation_suggests_the_nearest(self):
        for backend in backends():
            with self.subTest(backend=backend):
                self.assertEqual(
                    upgrade_failure(self, backend, TABLE_T.replace("create_table", "create_tabel")),
                    "no operation create_tabel; did you mean create_table?")

    def test_misspelt_sa_name_suggests_the_nearest_in_case(self):
        # INTEGER is as near as Integer but for the case of its letters
        for backend in backends():
            with self.subTest(backend=backend):
                self.assertEqual(
                    upgrade_failure(self, backend, TABLE_T.replace("sa.Integer", "sa.Intger")),
                    "sa has no Intger; did you mean Integer?")

    def test_unique_prefix_is_suggested_and_nothing_when_nothing_is_close(self):
        self.assertEqual(upgrade_failure(self, "sqlite", '  op.bulk_ins("t", {})'),
                         "no operation bulk_ins; did you mean bulk_insert?")
        self.assertEqual(upgrade_failure(self, "sqlite", '  op.frobnicate("t")'),
                         "no operation frobnicate")
        self.assertEqual(
            upgrade_failure(self, "sqlite", TABLE_T.replace("sa.Integer", "sa.Whatever")),
            "sa has no Whatever")

    def test_misspelt_name_in_env_lua_names_env_lua(self):
        # env.lua reaches sa through require (it is a global only in revisions)
        p = Project(self, "sqlite")
        env = p.read("migrations/env.lua")
        p.write("migrations/env.lua", 'local sa = require "luamig.sa"\nlocal x = sa.Strng\n' + env)
        self.assertEqual(failed(self, p.fails("upgrade", "head")),
                         "FAILED: migrations/env.lua:2: sa has no Strng; did you mean String?")
        self.assertEqual(p.tables(), [])


class UserPositions(unittest.TestCase):
    def assert_create_table_fails(self, rest, message):
        """op.create_table("hero", sa.Column("id", sa.Integer), <rest>) fails on every backend
        with `message` after the user's file:line, and no other position."""
        for backend in backends():
            with self.subTest(backend=backend):
                self.assertEqual(
                    upgrade_failure(self, backend, '  op.create_table("hero", sa.Column("id", '
                                    'sa.Integer), %s)' % rest), message)

    def test_error_raised_inside_luamig_names_only_the_users_line(self):
        self.assert_create_table_fails('sa.Column("id", sa.Integer)',
                                       "op.create_table: sa.Table: duplicate column 'id' in table 'hero'")

    def test_table_option_error_names_no_position_inside_luamig(self):
        # sa.Table raises at its caller's level, which inside op.create_table is luamig's own
        self.assert_create_table_fails("{ nope = 1 }", "op.create_table: sa.Table: unknown option 'nope'")


class DatabaseCodes(unittest.TestCase):
    def test_existing_table_carries_the_databases_code(self):
        expected = {
            "sqlite": "[SQLITE_ERROR] table t already exists "
                      "[SQL: CREATE TABLE t ( \tid INTEGER NOT NULL,  \tPRIMARY KEY (id) )]",
            "postgresql": '[SQLSTATE 42P07] relation "t" already exists '
                          "[SQL: CREATE TABLE t ( \tid SERIAL NOT NULL,  \tPRIMARY KEY (id) )]",
        }
        for backend in backends():
            with self.subTest(backend=backend):
                self.assertEqual(upgrade_failure(self, backend, TABLE_T + "\n" + TABLE_T,
                                                 where=LINE + 1), expected[backend])

    def test_constraint_violation_carries_the_extended_code(self):
        up = TABLE_T + '\n  op.execute("INSERT INTO t (id) VALUES (1)")' \
                       '\n  op.execute("INSERT INTO t (id) VALUES (1)")'
        expected = {
            "sqlite": "[SQLITE_CONSTRAINT_PRIMARYKEY] UNIQUE constraint failed: t.id "
                      "[SQL: INSERT INTO t (id) VALUES (1)]",
            "postgresql": '[SQLSTATE 23505] duplicate key value violates unique constraint '
                          '"t_pkey" DETAIL:  Key (id)=(1) already exists. '
                          "[SQL: INSERT INTO t (id) VALUES (1)]",
        }
        for backend in backends():
            with self.subTest(backend=backend):
                msg = upgrade_failure(self, backend, up, where=LINE + 2)
                self.assertEqual(msg, expected[backend])
                self.assertNotIn("Error)", msg)


class Revisions(unittest.TestCase):
    def test_duplicate_revision_id_names_both_files(self):
        p = Project(self, "sqlite")
        first = p.revision_file("aaaa1111", up=TABLE_T)
        second = p.revision_file("aaaa1111", up=TABLE_T, name="0002_again.lua")
        for args in (["upgrade", "head"], ["heads"]):
            line = failed(self, p.fails(*args))
            self.assertEqual(line, "FAILED: Revision aaaa1111 is present more than once: "
                                   "in %s and in %s" % (first, second))
        self.assertEqual(p.tables(), [])

    def test_new_revision_with_a_taken_id_names_the_file_that_has_it(self):
        p = Project(self, "sqlite")
        first = p.revision_file("aaaa1111", up=TABLE_T)
        line = failed(self, p.fails("revision", "-m", "again", "--rev-id", "aaaa1111"))
        self.assertEqual(line, "FAILED: Revision aaaa1111 is present more than once: "
                               "%s has it already" % first)

    def test_unknown_revision_in_the_database_says_where_it_comes_from(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa1111", up=TABLE_T)
                p.ok("upgrade", "head")
                p.sql_exec("UPDATE luamig_version SET version_num = 'ffff9999'")
                want = ("FAILED: Can't locate revision identified by 'ffff9999' (a row of the "
                        "version table luamig_version, from a revision this script directory "
                        "does not have: restore its file, or replace the rows with "
                        "'luamig stamp --purge <revision>')")
                for args in (["upgrade", "head"], ["downgrade", "base"], ["current"],
                             ["stamp", "head"]):
                    self.assertEqual(failed(self, p.fails(*args)), want, args)
                self.assertEqual(p.version_rows(), ["ffff9999"])
                # the hint works
                p.ok("stamp", "--purge", "aaaa1111")
                self.assertEqual(p.version_rows(), ["aaaa1111"])

    def test_unknown_revision_on_the_command_line_keeps_alembics_words(self):
        p = Project(self, "sqlite")
        p.revision_file("aaaa1111", up=TABLE_T)
        p.ok("upgrade", "head")
        self.assertEqual(failed(self, p.fails("upgrade", "zzzz")),
                         "FAILED: Can't locate revision identified by 'zzzz'")


class RaiseErr(unittest.TestCase):
    def test_raiseerr_prints_the_revisions_traceback(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("a1", up='  local function deeper()\n    error("boom")\n  end\n'
                                          '  deeper()')
                self.assertEqual(failed(self, p.fails("upgrade", "head")),
                                 "FAILED: upgrade of revision a1 failed at %s:12: boom" % REV)
                r = p.fails("--raiseerr", "upgrade", "head")
                lines = [l for l in r.err.split("\n") if l and not l.startswith("INFO ")]
                self.assertEqual(lines, [
                    "FAILED: upgrade of revision a1 failed at %s:12: boom" % REV,
                    "stack traceback:",
                    "\t[C]: in function 'error'",
                    "\t%s:12: in local 'deeper'" % REV,
                    "\t%s:14: in function <%s:10>" % (REV, REV),
                ])
                self.assertEqual(p.tables(), [])


class TransactionControl(unittest.TestCase):
    """A statement that would end or open luamig's transaction is refused before it is sent:
    the run fails naming the words and the revision's line, and the table created before it
    in the same revision is rolled back."""

    ADVICE = (" would end the transaction luamig runs this migration in and leave it "
              "half-applied; run it inside op.get_context().autocommit_block(function() ... end)")

    def refused(self, backend, sql):
        up = TABLE_T + "\n  op.execute(%s)" % lua_string(sql)
        return upgrade_failure(self, backend, up, where=LINE + 1)

    def test_each_opening_or_ending_statement_is_refused(self):
        cases = [("COMMIT", "COMMIT"), ("  commit work", "COMMIT WORK"), ("END", "END"),
                 ("end transaction", "END TRANSACTION"), ("ROLLBACK", "ROLLBACK"),
                 ("BEGIN", "BEGIN"), ("start transaction", "START TRANSACTION"),
                 ("-- a comment first\nCOMMIT", "COMMIT"), ("/* c */ BEGIN", "BEGIN"),
                 ("SELECT 1; COMMIT", "COMMIT"), ("UPDATE t SET id = 2 WHERE 1 = 0;\nbegin;", "BEGIN")]
        for backend in backends():
            for sql, words in cases:
                with self.subTest(backend=backend, sql=sql):
                    self.assertEqual(self.refused(backend, sql), words + self.ADVICE)

    def test_the_words_elsewhere_are_not_refused(self):
        # in a string, a quoted name, a comment, a trigger's body, ROLLBACK TO a savepoint, or
        # inside a longer word: each runs
        sqls = ["INSERT INTO t (id) SELECT length('COMMIT; BEGIN')",
                'SELECT 1 AS "end"', "SELECT 1 -- COMMIT",
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
                "SELECT 1 AS ended", "SAVEPOINT s; ROLLBACK TO s"]
        for sql in sqls:
            with self.subTest(sql=sql):
                p = Project(self, "sqlite")
                p.revision_file("a1", up=TABLE_T + "\n  op.execute(%s)" % lua_string(sql))
                p.ok("upgrade", "head")
                self.assertEqual(p.tables(), ["luamig_version", "t"])


def lua_string(text):
    """text as a Lua string literal."""
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


if __name__ == "__main__":
    main()
