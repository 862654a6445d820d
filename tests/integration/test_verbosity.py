"""Verbosity and progress on upgrade, downgrade and stamp, on SQLite and PostgreSQL:
-v echoes every statement a connection sends (logger luamig.sql: the statement, then
"[<ms> ms] (<parameters>)"), with passwords redacted and -q silencing it; on a terminal a
progress line ("step N of M, ...") is drawn with \\r and erased when the run ends, and never
with -q, --json or when stderr is a pipe."""
import os
import pty
import re
import select
import subprocess
import unittest

import pg
from luamigtest import LUAMIG, Project, backends, db_name, main

ERASE = "\r\x1b[K"
TIME = r"\[\d+\.\d{3} ms\]"


def project(test, backend, n=1):
    """A project with n revisions; the first creates t1 and inserts one row with a parameter."""
    p = Project(test, backend)
    p.revision_file("aaaa1111", message="one", up="\n".join([
        '  op.execute("CREATE TABLE t1 (a VARCHAR(20))")',
        '  op.execute("INSERT INTO t1 (a) VALUES (:a)", { a = "it\'s" })']),
        downgrade='  op.execute("DROP TABLE t1")')
    down = "aaaa1111"
    for k in range(2, n + 1):
        rev = "%d" % k * 8
        p.revision_file(rev, down=down, message="step %d" % k,
                        up='  op.execute("SELECT 1")', downgrade='  op.execute("SELECT 1")')
        down = rev
    return p


def sql_lines(err):
    return [line for line in err.splitlines() if line.startswith("INFO  [luamig.sql]")]


class VerboseSQL(unittest.TestCase):
    def test_verbose_echoes_every_statement_on_both_databases(self):
        for backend in backends():
            with self.subTest(backend=backend):
                self.echoes_every_statement(backend)

    def echoes_every_statement(self, backend):
        p = project(self, backend)
        mark = "?" if backend == "sqlite" else "$1"
        err = p.ok("upgrade", "-v", "head").err
        lines = err.splitlines()
        start = lines.index("INFO  [luamig.runtime.migration] Running upgrade  -> aaaa1111, one")
        step = lines[start + 1:start + 7]
        self.assertEqual(step[0], "INFO  [luamig.sql] CREATE TABLE t1 (a VARCHAR(20))")
        self.assertRegex(step[1], r"^INFO  \[luamig\.sql\] %s \(\)$" % TIME)
        self.assertEqual(step[2], "INFO  [luamig.sql] INSERT INTO t1 (a) VALUES (%s)" % mark)
        self.assertRegex(step[3], r"^INFO  \[luamig\.sql\] %s \('it''s'\)$" % TIME)
        self.assertEqual(step[4], "INFO  [luamig.sql] INSERT INTO luamig_version (version_num) "
                                  "VALUES (%s)" % mark)
        self.assertRegex(step[5], r"^INFO  \[luamig\.sql\] %s \('aaaa1111'\)$" % TIME)
        # the version table is made before the run, the run's transaction commits at the end
        self.assertIn("INFO  [luamig.sql] CREATE TABLE luamig_version (", lines)
        self.assertEqual(lines[-2], "INFO  [luamig.sql] COMMIT")
        self.assertRegex(lines[-1], r"^INFO  \[luamig\.sql\] %s \(\)$" % TIME)
        # every statement line is followed by its time line
        echoed = sql_lines(err)
        for k in range(1, len(echoed), 2):
            self.assertRegex(echoed[k], r"^INFO  \[luamig\.sql\] %s " % TIME)
        # downgrade and stamp echo too; without -v, or with -q, nothing is echoed
        self.assertIn("INFO  [luamig.sql] DROP TABLE t1", p.ok("downgrade", "-v", "base").err)
        self.assertIn("INFO  [luamig.sql] INSERT INTO luamig_version (version_num) VALUES (%s)"
                      % mark, p.ok("stamp", "-v", "head").err.splitlines())
        p.ok("stamp", "base")
        self.assertEqual(sql_lines(p.ok("upgrade", "head").err), [])
        self.assertEqual(p.ok("-q", "downgrade", "-v", "base").err, "")

    def test_failed_statement_and_rollback_are_echoed(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.revision_file("aaaa1111", up='  op.execute("SELECT nosuch FROM nowhere")')
                r = p.run("upgrade", "-v", "head")
                self.assertEqual(r.rc, 1, repr(r))
                lines = r.err.splitlines()
                k = lines.index("INFO  [luamig.sql] SELECT nosuch FROM nowhere")
                self.assertRegex(lines[k + 1], r"^INFO  \[luamig\.sql\] %s \(\) failed$" % TIME)
                self.assertIn("INFO  [luamig.sql] ROLLBACK", lines)

    def test_passwords_never_echoed(self):
        for backend in backends():
            with self.subTest(backend=backend):
                secret = "Sekr3tPw"
                url = "postgresql://bob:%s@db.example/x" % secret
                p = Project(self, backend)
                p.revision_file("aaaa1111", up="\n".join([
                    '  op.execute("SELECT \'%s\' AS u")' % url,
                    '  op.execute("SELECT :u AS u", { u = "%s" })' % url]))
                err = p.ok("upgrade", "-v", "head").err
                self.assertNotIn(secret, err)
                self.assertIn("INFO  [luamig.sql] SELECT 'postgresql://bob:***@db.example/x' "
                              "AS u", err.splitlines())

    def test_password_of_the_connection_url_never_echoed(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        name = db_name(self)
        pg.create_database(name, owner="luamig_pw")
        self.addCleanup(pg.drop_database, name)
        # the database reached as a role with a password, over TCP
        p = Project(self, "postgresql", url=pg.url(name, password=True, tcp=True))
        p.revision_file("aaaa1111", up='  op.execute("SELECT 1")')
        err = p.ok("upgrade", "-v", "head").err
        self.assertIn("INFO  [luamig.sql] SELECT 1", err.splitlines())
        self.assertNotIn(pg.password(), err)


class IniLevels(unittest.TestCase):
    """The generic template's [loggers], [logger_root] (WARN) and [logger_luamig] (INFO), read
    as Python's logging.config reads them: the level of the logger whose qualname is the
    longest prefix of a line's logger decides, then root's."""

    RUNNING = "INFO  [luamig.runtime.migration] Running upgrade  -> aaaa1111, one"

    def test_levels_of_the_ini_on_both_databases(self):
        for backend in backends():
            with self.subTest(backend=backend):
                self.levels(backend)

    def levels(self, backend):
        p = project(self, backend)
        ini = p.read("luamig.ini")
        for line in ("[loggers]\nkeys = root,luamig\n", "[logger_root]\nlevel = WARN\n",
                     "[logger_luamig]\nlevel = INFO\nhandlers =\nqualname = luamig\n"):
            self.assertIn(line, ini)
        # as init writes it: luamig's INFO lines are shown
        self.assertIn(self.RUNNING, p.ok("upgrade", "head").err.splitlines())
        p.ok("downgrade", "base")
        # level = WARN hides INFO lines
        p.set_option("level", "WARN", section="logger_luamig")
        self.assertEqual(p.ok("upgrade", "head").err, "")
        p.ok("downgrade", "base")
        # NOTSET inherits root's level: WARN hides, INFO shows
        p.set_option("level", "NOTSET", section="logger_luamig")
        self.assertEqual(p.ok("upgrade", "head").err, "")
        p.ok("downgrade", "base")
        p.set_option("level", "INFO", section="logger_root")
        self.assertIn(self.RUNNING, p.ok("upgrade", "head").err.splitlines())
        p.ok("downgrade", "base")
        # a logger of its own for the statements -v echoes: WARN keeps them out
        p.set_option("keys", "root,luamig,sql", section="loggers")
        p.set_option("level", "WARN", section="logger_sql")
        p.set_option("qualname", "luamig.sql", section="logger_sql")
        err = p.ok("upgrade", "-v", "head").err
        self.assertIn(self.RUNNING, err.splitlines())
        self.assertEqual(sql_lines(err), [])

    def test_warning_hidden_only_above_warning(self):
        p = Project(self, "sqlite", history=True)
        p.revision_file("aaaa1111", up='  op.execute("CREATE TABLE t1 (a INTEGER)")')
        p.ok("upgrade", "head")
        with open(p.path("migrations/versions/0001_aaaa1111.lua"), "a") as f:
            f.write("-- edited after it ran\n")
        p.set_option("level", "WARN", section="logger_luamig")
        self.assertIn("WARNING [", p.ok("current").err)
        p.set_option("level", "ERROR", section="logger_luamig")
        self.assertEqual(p.ok("current").err, "")

    def test_ini_without_loggers_shows_info(self):
        p = project(self, "sqlite")
        ini = p.read("luamig.ini")
        p.write("luamig.ini", ini[:ini.index("\n# Logging configuration")] + "\n")
        self.assertIn(self.RUNNING, p.ok("upgrade", "head").err.splitlines())

    def test_unknown_level_is_an_error_naming_the_file(self):
        p = project(self, "sqlite")
        p.set_option("level", "LOUD", section="logger_root")
        r = p.run("upgrade", "head")
        self.assertEqual(r.rc, 1, repr(r))
        self.assertEqual(r.err, "FAILED: %s: [logger_root] level = LOUD: not a logging level "
                                "(DEBUG, INFO, WARN, ERROR, CRITICAL, NOTSET)\n"
                         % p.path("luamig.ini"))
        self.assertFalse(os.path.exists(p.db_path))


def run_on_terminal(cwd, args):
    """Runs luamig with stderr on a pseudo-terminal (stdout a pipe); returns (rc, what the
    terminal received)."""
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("LUAMIG_CONFIG", None)
    proc = subprocess.Popen([LUAMIG] + list(args), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    proc.stdout.read()
    proc.stdout.close()
    return proc.wait(timeout=60), got.decode()


class Progress(unittest.TestCase):
    def test_progress_line_drawn_and_erased_on_a_terminal(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = project(self, backend, n=3)
                rc, tty = run_on_terminal(p.dir, ["upgrade", "head"])
                self.assertEqual(rc, 0, tty)
                self.assertRegex(tty, r"\r\x1b\[Kstep 1 of 3, upgrade aaaa1111, "
                                      r"elapsed \d+\.\d s")
                self.assertRegex(tty, r"\r\x1b\[Kstep 2 of 3, upgrade 22222222, "
                                      r"elapsed \d+\.\d s, about \d+\.\d s left")
                self.assertRegex(tty, r"\r\x1b\[Kstep 3 of 3, upgrade 33333333, "
                                      r"elapsed \d+\.\d s, about \d+\.\d s left")
                # erased at the end: after the last erase, no progress text is left behind
                self.assertTrue(tty.endswith(ERASE), repr(tty[-200:]))
                # log lines are whole lines: each erases the progress line first
                self.assertIn(ERASE + "INFO  [luamig.runtime.migration] Finished upgrade", tty)
                # downgrade draws it too
                rc, tty = run_on_terminal(p.dir, ["downgrade", "base"])
                self.assertEqual(rc, 0, tty)
                self.assertIn("step 3 of 3, downgrade aaaa1111", tty)
                self.assertTrue(tty.endswith(ERASE), repr(tty[-200:]))

    def test_no_progress_with_quiet_json_or_a_pipe(self):
        p = project(self, "sqlite", n=2)
        for args in (["-q", "upgrade", "head"], ["upgrade", "--json", "head"]):
            rc, tty = run_on_terminal(p.dir, args)
            self.assertEqual(rc, 0, tty)
            self.assertNotRegex(tty, r"step \d+ of")
            self.assertNotIn("\x1b[K", tty)
            p.ok("downgrade", "base")
        r = p.ok("upgrade", "head")
        self.assertNotRegex(r.err, r"step \d+ of")
        self.assertNotIn("\x1b", r.err)
        self.assertNotIn("\r", r.err)


if __name__ == "__main__":
    main()
