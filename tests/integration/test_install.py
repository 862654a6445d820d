"""The manual page and the shell completion scripts: generated at build time
from the command line's own tables (tools/gendoc.c), installed by
`cmake --install` to the standard places, and working: `man -l` renders the
page with every command and option, and bash, zsh and fish complete
commands, options, templates and the project's revision ids."""
import os
import re
import shutil
import subprocess
import unittest

import pg
from luamigtest import LUAMIG, Project, main, temp_dir

BUILD = os.path.dirname(os.path.abspath(LUAMIG))
HERE = os.path.dirname(os.path.abspath(__file__))
ZSH_COMPLETE = os.path.join(HERE, "..", "lib", "zsh_complete.zsh")

COMMANDS = ["branches", "check", "checkpoint", "convert", "current", "downgrade", "edit",
            "ensure_version", "heads",
            "history", "init", "lint", "list_templates", "log", "merge", "revision", "show",
            "stamp", "test", "upgrade", "validate"]


def long_options(command):
    """The long options `luamig COMMAND --help` lists: what completion must offer after "--"."""
    out = subprocess.run([LUAMIG, command, "--help"], capture_output=True, text=True).stdout
    section = out.split("\noptions:\n", 1)[1]
    names = set()
    for line in section.split("\n"):
        if line.startswith("  -"):
            names.update(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line.split("  ", 2)[1]))
    return sorted(names)


def need(test, program):
    """The shell or tool, or skip (tests/run installs them; under CI=true missing is a failure)."""
    path = shutil.which(program)
    if not path:
        if pg.under_ci():
            test.fail("%s is not installed (tests/run installs it)" % program)
        test.skipTest("%s is not installed" % program)
    return path


UPGRADE_OPTIONS = long_options("upgrade")


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prefix = os.path.join(os.environ.get("LUAMIG_TEST_TMP", "/tmp"),
                                  "install-%d" % os.getpid())
        shutil.rmtree(cls.prefix, True)
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        cls.bindir = os.path.join(cls.prefix, "bin")
        cls.share = os.path.join(cls.prefix, "share")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, True)

    def setUp(self):
        # a project with two revisions, for the revision ids completion offers
        self.p = Project(self)
        self.p.ok("revision", "-m", "one", "--rev-id", "aaaa1111")
        self.p.ok("revision", "-m", "two", "--rev-id", "bbbb2222")
        self.env = dict(os.environ, PATH=self.bindir + os.pathsep + os.environ["PATH"],
                        HOME=temp_dir(self, "home"), TERM="dumb")
        self.env.pop("LUAMIG_CONFIG", None)

    def test_upgrade_options_from_help(self):
        # what the completion tests expect after "luamig upgrade --", read from --help
        for opt in ["--help", "--sql", "--tag", "--no-lock"]:
            self.assertIn(opt, UPGRADE_OPTIONS)

    def test_installed_to_the_standard_places(self):
        for rel in ["bin/luamig", "share/man/man1/luamig.1",
                    "share/bash-completion/completions/luamig",
                    "share/zsh/vendor-completions/_luamig",
                    "share/fish/vendor_completions.d/luamig.fish"]:
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, rel)), rel)

    def test_man_renders_every_command_and_option(self):
        man = need(self, "man")
        r = subprocess.run([man, "--warnings", "-l",
                            os.path.join(self.share, "man", "man1", "luamig.1")],
                           capture_output=True, text=True, env=dict(self.env, MANWIDTH="80"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        page = r.stdout
        self.assertTrue(page.startswith("LUAMIG(1)"), page[:200])
        self.assertIn("luamig - database schema migrations in Lua, the Alembic way", page)
        for c in COMMANDS:
            self.assertIn("\n   %s\n" % c, page)
        # each command's usage line is the one its --help prints
        for c in COMMANDS:
            usage = subprocess.run([LUAMIG, c, "--help"], capture_output=True,
                                   text=True).stdout.split("\n")[0][len("usage: "):]
            self.assertIn(usage, " ".join(page.split()), c)
        for opt in ["-c CONFIG, --config CONFIG", "--autogenerate", "--rev-range REV_RANGE",
                    "--purge", "--check-heads", "-x X", "LUAMIG_CONFIG", "EXIT STATUS"]:
            self.assertIn(opt, page)

    def bash(self, *words):
        script = os.path.join(self.share, "bash-completion", "completions", "luamig")
        code = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));'
                ' _luamig; printf "%s\\n" "${COMPREPLY[@]}"')
        r = subprocess.run(["bash", "--norc", "-c", code, "bash", script] + list(words),
                           capture_output=True, text=True, cwd=self.p.dir, env=self.env)
        self.assertEqual(r.stderr, "")
        return sorted(x for x in r.stdout.split("\n") if x)

    def test_bash_completes(self):
        self.assertEqual(self.bash("luamig", "up"), ["upgrade"])
        self.assertEqual(self.bash("luamig", ""), COMMANDS)
        self.assertEqual(self.bash("luamig", "--c"), ["--config"])
        self.assertEqual(self.bash("luamig", "-c", "luamig.ini", "-x", "a=b", "st"), ["stamp"])
        self.assertEqual(self.bash("luamig", "upgrade", "--"),
                         UPGRADE_OPTIONS)
        self.assertEqual(self.bash("luamig", "revision", "--auto"), ["--autogenerate"])
        self.assertEqual(self.bash("luamig", "upgrade", ""),
                         ["aaaa1111", "base", "bbbb2222", "head", "heads"])
        self.assertEqual(self.bash("luamig", "downgrade", "a"), ["aaaa1111"])
        self.assertEqual(self.bash("luamig", "history", "-r", "b"), ["base", "bbbb2222"])
        self.assertEqual(self.bash("luamig", "init", "-t", ""), ["generic", "multidb"])
        self.assertEqual(self.bash("luamig", "log", "--revision", "aa"), ["aaaa1111"])
        self.assertEqual(self.bash("luamig", "log", "--f"), ["--failed"])
        self.assertEqual(self.bash("luamig", "convert", "--o"), ["--output"])
        self.assertEqual(self.bash("luamig", "revision", "-m", ""), [])

    def test_zsh_completes(self):
        zsh = need(self, "zsh")
        fpath = os.path.join(self.share, "zsh", "vendor-completions")
        cases = [
            ("luamig up", ["upgrade"]),
            ("luamig --conf", ["--config"]),
            ("luamig upgrade --", UPGRADE_OPTIONS),
            ("luamig revision --autog", ["--autogenerate"]),
            ("luamig upgrade ", ["aaaa1111", "base", "bbbb2222", "head", "heads"]),
            ("luamig -c luamig.ini downgrade b", ["base", "bbbb2222"]),
            ("luamig init -t ", ["generic", "multidb"]),
        ]
        # one shell for every line (compinit is slow): "== LINE", then its matches
        r = subprocess.run([zsh, "-f", ZSH_COMPLETE, fpath] + [c[0] for c in cases],
                           capture_output=True, text=True, cwd=self.p.dir, env=self.env,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        expected = "".join("== %s\n%s" % (line, "".join(m + "\n" for m in matches))
                           for line, matches in cases)
        self.assertEqual(r.stdout, expected)

    def fish(self, line):
        fish = need(self, "fish")
        script = os.path.join(self.share, "fish", "vendor_completions.d", "luamig.fish")
        r = subprocess.run([fish, "-N", "-c", 'source $argv[1]; complete -C $argv[2]',
                            script, line], capture_output=True, text=True, cwd=self.p.dir,
                           env=self.env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return sorted(x.split("\t")[0] for x in r.stdout.split("\n") if x)

    def test_fish_completes(self):
        self.assertEqual(self.fish("luamig up"), ["upgrade"])
        self.assertEqual(self.fish("luamig --conf"), ["--config"])
        self.assertEqual(self.fish("luamig upgrade --"), UPGRADE_OPTIONS)
        self.assertEqual(self.fish("luamig revision --autog"), ["--autogenerate"])
        self.assertEqual(self.fish("luamig upgrade "),
                         ["aaaa1111", "base", "bbbb2222", "head", "heads"])
        self.assertEqual(self.fish("luamig -c luamig.ini downgrade b"), ["base", "bbbb2222"])


if __name__ == "__main__":
    main()
