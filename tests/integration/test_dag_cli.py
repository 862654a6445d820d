"""Branches from the command line, on the shape of Alembic's branch docs: a
main line, a feature branch spliced off the first revision with a label
(shoppingcart), a merge, and a second root in its own version location
(networking) whose last revision depends on the merge.

    1975ea83b712 create account table
      +-- ae1027a6acf0 add a column --------------------+
      +-- 27c6a30d7c24 add shopping cart table (shoppingcart)
            +-- d747a8a8879e add cart items ------------+-- 53fffde5ad5e merge
    3cac04ae8714 create networking branch (networking)   |  (model/networking)
      +-- 109ec7d132bf add ip number table               |
            +-- 29f859a13ea7 add ip account table  ..depends_on..

Every expected output below was recorded from Alembic 1.8.1 running the same
commands on the equivalent Python project (alembic -> luamig, .py -> .lua).
Where Alembic's order comes from a Python set (several branch labels) or
from os.listdir() (Alembic 1.8.1 does not sort revision files; luamig loads
them in sorted order, as the conformance cases do), luamig's order is
asserted and the spot is marked. Deliberate differences
(not asserted as Alembic's): FAILED goes to stderr with exit status 1
(Alembic: stdout, 255, plus an ERROR log line); SQLite DDL is transactional;
a refused command leaves no version table behind.
"""
import os
import re
import shlex
import stat
import unittest

from luamigtest import Project, backends, main

IDS = {
    "account": "1975ea83b712", "column": "ae1027a6acf0", "cart": "27c6a30d7c24",
    "items": "d747a8a8879e", "merge": "53fffde5ad5e", "net": "3cac04ae8714",
    "ipnum": "109ec7d132bf", "ipacct": "29f859a13ea7",
}
FILES = {
    "1975ea83b712": "migrations/versions/1975ea83b712_create_account_table.lua",
    "ae1027a6acf0": "migrations/versions/ae1027a6acf0_add_a_column.lua",
    "27c6a30d7c24": "migrations/versions/27c6a30d7c24_add_shopping_cart_table.lua",
    "d747a8a8879e": "migrations/versions/d747a8a8879e_add_cart_items.lua",
    "53fffde5ad5e": "migrations/versions/53fffde5ad5e_merge_cart_into_main.lua",
    "3cac04ae8714": "model/networking/3cac04ae8714_create_networking_branch.lua",
    "109ec7d132bf": "model/networking/109ec7d132bf_add_ip_number_table.lua",
    "29f859a13ea7": "model/networking/29f859a13ea7_add_ip_account_table.lua",
}

HISTORY = """\
109ec7d132bf (53fffde5ad5e) -> 29f859a13ea7 (networking) (head), add ip account table
3cac04ae8714 -> 109ec7d132bf (networking), add ip number table
<base> -> 3cac04ae8714 (networking), create networking branch
ae1027a6acf0, d747a8a8879e -> 53fffde5ad5e (shoppingcart) (effective head) (mergepoint), merge cart into main
1975ea83b712 -> ae1027a6acf0, add a column
27c6a30d7c24 -> d747a8a8879e (shoppingcart), add cart items
1975ea83b712 -> 27c6a30d7c24 (shoppingcart), add shopping cart table
<base> -> 1975ea83b712 (branchpoint), create account table
"""
MAIN_HISTORY = "".join(HISTORY.splitlines(True)[3:])
NET_HISTORY = "".join(HISTORY.splitlines(True)[:3])

SHOW_MERGE = """\
Rev: 53fffde5ad5e (head) (mergepoint)
Merges: ae1027a6acf0, d747a8a8879e
Branch names: shoppingcart
Path: {dir}/migrations/versions/53fffde5ad5e_merge_cart_into_main.lua

    merge cart into main
    
    Revision ID: 53fffde5ad5e
    Revises: ae1027a6acf0, d747a8a8879e
    Create Date: <D>

"""
SHOW_IPACCT = """\
Rev: 29f859a13ea7 (head)
Parent: 109ec7d132bf
Also depends on: 53fffde5ad5e
Branch names: networking
Path: {dir}/model/networking/29f859a13ea7_add_ip_account_table.lua

    add ip account table
    
    Revision ID: 29f859a13ea7
    Revises: 109ec7d132bf
    Create Date: <D>

"""
SHOW_NET = """\
Rev: 3cac04ae8714
Parent: <base>
Branch names: networking
Path: {dir}/model/networking/3cac04ae8714_create_networking_branch.lua

    create networking branch
    
    Revision ID: 3cac04ae8714
    Revises: 
    Create Date: <D>

"""
SHOW_ITEMS = """\
Rev: d747a8a8879e
Parent: 27c6a30d7c24
Branch names: shoppingcart
Path: {dir}/migrations/versions/d747a8a8879e_add_cart_items.lua

    add cart items
    
    Revision ID: d747a8a8879e
    Revises: 27c6a30d7c24
    Create Date: <D>

"""
SHOW_COLUMN = """\
Rev: ae1027a6acf0
Parent: 1975ea83b712
Path: {dir}/migrations/versions/ae1027a6acf0_add_a_column.lua

    add a column
    
    Revision ID: ae1027a6acf0
    Revises: 1975ea83b712
    Create Date: <D>

"""

MULTIPLE_HEADS = ("Multiple head revisions are present for given argument 'head'; please specify "
                  "a specific target revision, '<branchname>@head' to narrow to a specific head, "
                  "or 'heads' for all heads")
REVISION_MULTIPLE_HEADS = ("Multiple heads are present; please specify the head revision on "
                           "which the new revision should be based, or perform a merge.")


def dated(text):
    return re.sub(r"Create Date: .*", "Create Date: <D>", text)


def failed(r):
    lines = [l for l in r.err.splitlines() if l.startswith("FAILED: ")]
    return lines[-1][len("FAILED: "):] if lines else None


def running(r):
    return [l.split("] Running ", 1)[1] for l in r.err.splitlines() if "] Running " in l]


def new_project(test, backend="sqlite"):
    p = Project(test, backend)
    p.set_option("version_path_separator", "os")
    p.set_option("version_locations",
                 "%(here)s/migrations/versions:%(here)s/model/networking")
    return p


def build(test, p):
    """The tree, made with luamig's own commands, checking what each prints."""
    def gen(rel):
        return "Generating %s ...  done\n" % p.path(rel)

    r = p.fails("revision", "-m", "create account table", "--rev-id", IDS["account"])
    test.assertEqual(failed(r), "Multiple version locations present, please specify --version-path")
    r = p.ok("revision", "-m", "create account table", "--rev-id", IDS["account"],
             "--version-path", "migrations/versions")
    test.assertEqual(r.out, gen(FILES[IDS["account"]]))
    r = p.ok("revision", "-m", "add a column", "--rev-id", IDS["column"])
    test.assertEqual(r.out, gen(FILES[IDS["column"]]))

    r = p.fails("revision", "-m", "add shopping cart table", "--head", "1975ea83b712",
                "--branch-label", "shoppingcart")
    test.assertEqual(failed(r), "Revision 1975ea83b712 is not a head revision; please specify "
                                "--splice to create a new branch from this revision")
    r = p.ok("revision", "-m", "add shopping cart table", "--head", "1975ea", "--splice",
             "--branch-label", "shoppingcart", "--rev-id", IDS["cart"])
    test.assertEqual(r.out, gen(FILES[IDS["cart"]]))
    r = p.fails("revision", "-m", "another")
    test.assertEqual(failed(r), REVISION_MULTIPLE_HEADS)
    r = p.ok("revision", "-m", "add cart items", "--head", "shoppingcart@head",
             "--rev-id", IDS["items"])
    test.assertEqual(r.out, gen(FILES[IDS["items"]]))

    r = p.ok("merge", "ae1027a6acf0", "d747", "-m", "merge cart into main",
             "--rev-id", IDS["merge"])
    test.assertEqual(r.out, gen(FILES[IDS["merge"]]))

    r = p.fails("revision", "-m", "create networking branch", "--head=base",
                "--branch-label=networking")
    test.assertEqual(failed(r), "Multiple version locations present, please specify --version-path")
    r = p.fails("revision", "-m", "create networking branch", "--head=base",
                "--branch-label=networking", "--version-path=elsewhere")
    test.assertEqual(failed(r), "Path elsewhere is not represented in current version locations")
    test.assertFalse(os.path.exists(p.path("model")))
    r = p.ok("revision", "-m", "create networking branch", "--head=base",
             "--branch-label=networking", "--version-path=model/networking",
             "--rev-id", IDS["net"])
    test.assertEqual(r.out, "Creating directory %s ...  done\n" % p.path("model/networking") +
                     gen(FILES[IDS["net"]]))
    r = p.ok("revision", "-m", "add ip number table", "--head=networking@head",
             "--rev-id", IDS["ipnum"])
    test.assertEqual(r.out, gen(FILES[IDS["ipnum"]]))
    r = p.ok("revision", "-m", "add ip account table", "--head=networking@head",
             "--depends-on=53ff", "--rev-id", IDS["ipacct"])
    test.assertEqual(r.out, gen(FILES[IDS["ipacct"]]))


def fill_bodies(p):
    """Each revision creates (and drops) a table named after it, so that what
    ran can be read back from the database."""
    for rev, rel in FILES.items():
        text = p.read(rel)
        text = text.replace("function upgrade()\n\nend",
                            'function upgrade()\n  op.create_table("t_%s", '
                            'sa.Column("id", sa.Integer, { primary_key = true }))\nend' % rev)
        text = text.replace("function downgrade()\n\nend",
                            'function downgrade()\n  op.drop_table("t_%s")\nend' % rev)
        p.write(rel, text)


class Revisions(unittest.TestCase):
    def test_files_say_what_was_asked(self):
        p = new_project(self)
        build(self, p)
        files = sorted(os.path.relpath(os.path.join(d, f), p.dir)
                       for sub in ("migrations/versions", "model/networking")
                       for d, _, fs in os.walk(p.path(sub)) for f in fs)
        self.assertEqual(files, sorted(FILES.values()))
        cart = p.read(FILES[IDS["cart"]])
        self.assertIn('down_revision = "1975ea83b712"\nbranch_labels = "shoppingcart"\n', cart)
        merge = p.read(FILES[IDS["merge"]])
        self.assertIn('down_revision = { "ae1027a6acf0", "d747a8a8879e" }\n', merge)
        self.assertIn("Revises: ae1027a6acf0, d747a8a8879e\n", merge)
        net = p.read(FILES[IDS["net"]])
        self.assertIn('down_revision = nil\nbranch_labels = "networking"\n', net)
        ipacct = p.read(FILES[IDS["ipacct"]])
        # The prefix given to --depends-on is written as the full id.
        self.assertIn('down_revision = "109ec7d132bf"\nbranch_labels = nil\n'
                      'depends_on = "53fffde5ad5e"\n', ipacct)

    def test_revision_errors(self):
        p = new_project(self)
        build(self, p)
        r = p.fails("revision", "-m", "x")
        self.assertEqual(failed(r), REVISION_MULTIPLE_HEADS)
        r = p.fails("revision", "-m", "x", "--head", "ae1027a6acf0")
        self.assertEqual(failed(r), "Revision ae1027a6acf0 is not a head revision; please "
                                    "specify --splice to create a new branch from this revision")
        r = p.fails("revision", "-m", "x", "--head", "networking@head", "--depends-on", "nosuch")
        self.assertEqual(failed(r), "Can't locate revision identified by 'nosuch'")
        r = p.fails("revision", "-m", "x", "--head", "merged@head")
        self.assertEqual(failed(r), "Can't locate revision identified by 'merged'")

    def test_merge_with_a_label_then_a_revision_on_it(self):
        p = new_project(self)
        build(self, p)
        r = p.ok("revision", "-m", "top of networking", "--head", "networking@head",
                 "--rev-id", "7f7f7f7f7f7f")
        r = p.ok("merge", "53ff", "7f7f", "-m", "merge all", "--branch-label", "everything",
                 "--rev-id", "9a9a9a9a9a9a")
        # A merge goes beside its first parent.
        self.assertEqual(r.out, "Generating %s ...  done\n"
                         % p.path("migrations/versions/9a9a9a9a9a9a_merge_all.lua"))
        # The merge carries every label of its lineage (Alembic lists them in
        # Python set order).
        r = p.ok("heads")
        self.assertEqual(r.out, "9a9a9a9a9a9a (everything, networking, shoppingcart) (head)\n")
        p.ok("revision", "-m", "after", "--head", "everything@head", "--rev-id", "8b8b8b8b8b8b")
        r = p.ok("history", "-r", "9a9a:")
        self.assertEqual(r.out,
                         "9a9a9a9a9a9a -> 8b8b8b8b8b8b (everything, networking, shoppingcart) "
                         "(head), after\n"
                         "53fffde5ad5e, 7f7f7f7f7f7f -> 9a9a9a9a9a9a (everything, networking, "
                         "shoppingcart) (mergepoint), merge all\n")


class Listings(unittest.TestCase):
    def setUp(self):
        self.p = new_project(self)
        build(self, self.p)

    def out(self, *args):
        return dated(self.p.ok(*args).out)

    def test_heads(self):
        self.assertEqual(self.out("heads"), "53fffde5ad5e (shoppingcart) (effective head)\n"
                                            "29f859a13ea7 (networking) (head)\n")
        self.assertEqual(self.out("heads", "--resolve-dependencies"),
                         "29f859a13ea7 (networking) (head)\n")
        self.assertEqual(self.out("heads", "-v"),
                         (SHOW_MERGE + SHOW_IPACCT).format(dir=self.p.dir))

    def test_branches(self):
        # Alembic prints the two children in Python set order (either way).
        self.assertEqual(self.out("branches"), "1975ea83b712 (branchpoint)\n"
                                               "             -> 27c6a30d7c24 (shoppingcart)\n"
                                               "             -> ae1027a6acf0\n\n")
        v = self.out("branches", "-v")
        self.assertTrue(v.startswith("Rev: 1975ea83b712 (branchpoint)\nParent: <base>\n"
                                     "Branches into: 27c6a30d7c24, ae1027a6acf0\n"), v)
        self.assertTrue(v.endswith("    create account table\n    \n"
                                   "    Revision ID: 1975ea83b712\n    Revises: \n"
                                   "    Create Date: <D>\n\n"
                                   "             -> 27c6a30d7c24 (shoppingcart), add shopping cart table\n"
                                   "             -> ae1027a6acf0, add a column\n\n"), v)

    def test_history(self):
        self.assertEqual(self.out("history"), HISTORY)
        self.assertEqual(self.out("history", "-r", ":shoppingcart@head"), MAIN_HISTORY)
        self.assertEqual(self.out("history", "-r", "shoppingcart@base:shoppingcart@head"),
                         MAIN_HISTORY)
        self.assertEqual(self.out("history", "-r", "networking:"), NET_HISTORY)
        # networking@base:networking@head takes in the dependency's ancestors.
        self.assertEqual(self.out("history", "-r", "networking@base:networking@head"), HISTORY)
        v = self.out("history", "-v")
        self.assertTrue(v.startswith(SHOW_IPACCT.format(dir=self.p.dir)), v)
        self.assertEqual(v.count("\nRev: "), 7)
        r = self.p.fails("history", "-r", "ae1027a6acf0:d747a8a8879e")
        self.assertEqual(failed(r), "Requested range ae1027a6acf0:d747a8a8879e does not refer to "
                                    "ancestor/descendant revisions along the same branch")
        r = self.p.fails("history", "-r", "shoppingcart@head:xyz")
        self.assertEqual(failed(r), "Can't locate revision identified by 'xyz'")

    def test_show(self):
        self.assertEqual(self.out("show", "53ff"), SHOW_MERGE.format(dir=self.p.dir))
        self.assertEqual(self.out("show", "shoppingcart@head"), SHOW_MERGE.format(dir=self.p.dir))
        # A label names the revision that declares it, not the branch's head.
        self.assertEqual(self.out("show", "networking"), SHOW_NET.format(dir=self.p.dir))
        r = self.p.fails("show", "merged")
        self.assertEqual(failed(r), "Can't locate revision identified by 'merged'")

    def test_edit(self):
        script = self.p.write("editor.sh", '#!/bin/sh\necho "$1" >> "%s"\n'
                              % self.p.path("edited.txt"))
        os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR)
        env = {"EDITOR": script, "VISUAL": ""}

        def edited(*args):
            self.p.ok("edit", *args, env=env)
            with open(self.p.path("edited.txt")) as f:
                lines = f.read().splitlines()
            os.remove(self.p.path("edited.txt"))
            return lines

        self.assertEqual(edited("53ff"), [self.p.path(FILES["53fffde5ad5e"])])
        self.assertEqual(edited("shoppingcart@head"), [self.p.path(FILES["53fffde5ad5e"])])
        self.assertEqual(edited("heads"), [self.p.path(FILES["29f859a13ea7"])])
        for args, msg in ((["xyz"], "Can't locate revision identified by 'xyz'"),
                          (["current"], "Database file 'app.db' (sqlite:///app.db) does not "
                           "exist; 'luamig edit' only reads a database and does not create one"),
                          (["base"], "No revision files indicated by symbol 'base'")):
            r = self.p.fails("edit", *args, env=env)
            self.assertEqual(failed(r), msg)
        self.assertFalse(os.path.exists(self.p.path("edited.txt")))
        self.p.ok("stamp", "base")  # the database exists now, at base
        r = self.p.fails("edit", "current", env=env)
        self.assertEqual(failed(r), "No current revisions")
        self.p.ok("upgrade", "27c6")
        self.assertEqual(edited("current"), [self.p.path(FILES["27c6a30d7c24"])])
        self.p.ok("stamp", "heads")
        self.assertEqual(edited("current"), [self.p.path(FILES["29f859a13ea7"])])


class Database(unittest.TestCase):
    """upgrade / downgrade / stamp / current along the branches, on both
    databases: the log lines and messages Alembic prints, the version rows,
    and the tables the revisions made."""

    def test_session(self):
        for backend in backends():
            with self.subTest(backend=backend):
                self.session(backend)

    def session(self, backend):
        p = new_project(self, backend)
        build(self, p)
        fill_bodies(p)

        def step(args, runs=(), rows=None, error=None):
            r = p.run(*args)
            if error:
                self.assertEqual((r.rc, failed(r)), (1, error), repr(r))
            else:
                self.assertEqual(r.rc, 0, repr(r))
            self.assertEqual(running(r), list(runs), repr(r))
            if rows is not None:
                self.assertEqual(p.version_rows(), sorted(rows))
                applied = set()
                for row in rows:
                    applied |= ancestors(row)
                self.assertEqual(sorted(t for t in p.tables() if t.startswith("t_")),
                                 sorted("t_" + a for a in applied))
            return r

        up = lambda rev: "upgrade %s -> %s, %s" % ALL[rev]
        down = lambda rev: "downgrade %s -> %s, %s" % (ALL[rev][1], ALL[rev][0], ALL[rev][2])

        if p.backend == "sqlite":
            # a read-only command creates no database file
            p.fails("current")
            p.fails("show", "current")
            self.assertFalse(os.path.exists(p.db_path))
        else:
            self.assertEqual(p.ok("current").out, "")
            self.assertEqual(p.ok("show", "current").out, "")
        step(["upgrade", "head"], error=MULTIPLE_HEADS)
        self.assertEqual(p.tables(), [])        # refused before anything ran
        step(["upgrade", "xyz"], error="Can't locate revision identified by 'xyz'")
        # label@rev: a revision of that branch (a prefix will do).
        step(["upgrade", "shoppingcart@d747"],
             [up("1975ea83b712"), up("27c6a30d7c24"), up("d747a8a8879e")], ["d747a8a8879e"])
        self.assertEqual(p.ok("current").out, "d747a8a8879e\n")
        step(["upgrade", "heads"],
             [up("ae1027a6acf0"), up("53fffde5ad5e"), up("3cac04ae8714"), up("109ec7d132bf"),
              up("29f859a13ea7")], ["29f859a13ea7"])
        self.assertEqual(p.ok("current").out, "53fffde5ad5e (effective head) (mergepoint)\n"
                                              "29f859a13ea7 (head)\n")
        r = p.ok("current", "-v")
        self.assertEqual(dated(r.out.split("\n", 1)[1]),
                         (SHOW_MERGE + SHOW_IPACCT).format(dir=p.dir))
        self.assertTrue(r.out.startswith("Current revision(s) for "), r.out)
        self.assertEqual(p.ok("history", "-i").out, HISTORY.replace(
            "(networking) (head), add ip", "(networking) (head) (current), add ip"))
        self.assertEqual(p.ok("history", "-r", "current:").out, HISTORY.splitlines(True)[0])
        self.assertEqual(dated(p.ok("show", "current").out), SHOW_IPACCT.format(dir=p.dir))

        # Only the networking branch; what it depends on stays.
        step(["downgrade", "networking@base"],
             [down("29f859a13ea7"), down("109ec7d132bf"), down("3cac04ae8714")],
             ["53fffde5ad5e"])
        step(["upgrade", "networking@+2"], [up("3cac04ae8714"), up("109ec7d132bf")],
             ["109ec7d132bf", "53fffde5ad5e"])
        self.assertEqual(dated(p.ok("show", "current").out),
                         (SHOW_MERGE + SHOW_IPNUM).format(dir=p.dir))
        step(["upgrade", "networking@+1"], [up("29f859a13ea7")], ["29f859a13ea7"])
        step(["downgrade", "networking@-1"], [down("29f859a13ea7")],
             ["109ec7d132bf", "53fffde5ad5e"])
        step(["upgrade", "heads"], [up("29f859a13ea7")], ["29f859a13ea7"])
        step(["upgrade", "heads"], [], ["29f859a13ea7"])
        # Downgrading the labeled branch takes its dependents with it.
        step(["downgrade", "shoppingcart@base"],
             [down("29f859a13ea7"), down("53fffde5ad5e"), down("ae1027a6acf0"),
              down("d747a8a8879e"), down("27c6a30d7c24"), down("1975ea83b712")],
             ["109ec7d132bf"])
        step(["downgrade", "base"], [down("109ec7d132bf"), down("3cac04ae8714")], [])

        step(["upgrade", "1975ea83b712+2"], error="Ambiguous walk", rows=[])
        step(["upgrade", "shoppingcart@+1"], [up("1975ea83b712")], ["1975ea83b712"])
        step(["upgrade", "+1"], error="Ambiguous walk", rows=["1975ea83b712"])
        step(["upgrade", "-1"], error="Relative revision -1 didn't produce 1 migrations")
        step(["downgrade", "ae1027a6acf0"],
             error="Destination ae1027a6acf0 is not a valid downgrade target from current head(s)")
        step(["downgrade", "networking@+1"],
             error="Relative revision +1 didn't produce 1 migrations")
        step(["upgrade", "27c6a30d7c24"], [up("27c6a30d7c24")], ["27c6a30d7c24"])
        step(["upgrade", "ae10"], [up("ae1027a6acf0")], ["27c6a30d7c24", "ae1027a6acf0"])
        step(["upgrade", "heads-1"], [up("3cac04ae8714"), up("109ec7d132bf")],
             ["109ec7d132bf", "27c6a30d7c24", "ae1027a6acf0"])
        step(["upgrade", "1975ea83b712"], [], ["109ec7d132bf", "27c6a30d7c24", "ae1027a6acf0"])
        step(["downgrade", "networking@-1"], [down("109ec7d132bf")],
             ["27c6a30d7c24", "3cac04ae8714", "ae1027a6acf0"])
        # Independent branches go in file order: luamig sorts file names;
        # Alembic 1.8.1 takes os.listdir() order, which here put ae10... first.
        step(["downgrade", "base"], [down("27c6a30d7c24"), down("ae1027a6acf0"),
                                     down("1975ea83b712"), down("3cac04ae8714")], [])
        step(["upgrade", "shoppingcart@+1"], [up("1975ea83b712")], ["1975ea83b712"])
        step(["upgrade", "27c6a30d7c24+1"], [up("27c6a30d7c24"), up("d747a8a8879e")],
             ["d747a8a8879e"])
        # The merge carries the label: one step up the branch brings in the
        # merge's other parent first.
        step(["upgrade", "shoppingcart@+1"], [up("ae1027a6acf0"), up("53fffde5ad5e")],
             ["53fffde5ad5e"])
        step(["downgrade", "shoppingcart@-2"], error="Ambiguous walk", rows=["53fffde5ad5e"])

    def test_stamp(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = new_project(self, backend)
                build(self, p)
                fill_bodies(p)

                def stamp(args, runs=(), rows=None, error=None):
                    r = p.run("stamp", *args)
                    if error:
                        self.assertEqual((r.rc, failed(r)), (1, error), repr(r))
                    else:
                        self.assertEqual(r.rc, 0, repr(r))
                    self.assertEqual(running(r), list(runs), repr(r))
                    self.assertEqual(p.version_rows(), sorted(rows), repr(r))
                    # stamp runs no migration code.
                    self.assertEqual([t for t in p.tables() if t.startswith("t_")], [])

                stamp(["heads"], ["stamp_revision  -> 29f859a13ea7"], ["29f859a13ea7"])
                self.assertEqual(p.ok("current").out,
                                 "53fffde5ad5e (effective head) (mergepoint)\n"
                                 "29f859a13ea7 (head)\n")
                stamp(["27c6"], ["stamp_revision 29f859a13ea7 -> 27c6a30d7c24"],
                      ["27c6a30d7c24"])
                stamp(["ae10", "109e"], ["stamp_revision  -> ae1027a6acf0",
                                         "stamp_revision  -> 109ec7d132bf"],
                      ["109ec7d132bf", "27c6a30d7c24", "ae1027a6acf0"])
                stamp(["--purge", "d747"], ["stamp_revision  -> d747a8a8879e"],
                      ["d747a8a8879e"])
                stamp(["base"], ["stamp_revision d747a8a8879e -> "], [])
                stamp(["head"], error="Multiple heads are present; please specify a single "
                                      "target revision", rows=[])
                stamp(["networking@head"], ["stamp_revision  -> 29f859a13ea7"],
                      ["29f859a13ea7"])
                stamp(["xyz"], error="Can't locate revision identified by 'xyz'",
                      rows=["29f859a13ea7"])


SHOW_IPNUM = """\
Rev: 109ec7d132bf
Parent: 3cac04ae8714
Branch names: networking
Path: {dir}/model/networking/109ec7d132bf_add_ip_number_table.lua

    add ip number table
    
    Revision ID: 109ec7d132bf
    Revises: 3cac04ae8714
    Create Date: <D>

"""

# rev -> (from, to, message) of its upgrade log line.
ALL = {
    "1975ea83b712": ("", "1975ea83b712", "create account table"),
    "ae1027a6acf0": ("1975ea83b712", "ae1027a6acf0", "add a column"),
    "27c6a30d7c24": ("1975ea83b712", "27c6a30d7c24", "add shopping cart table"),
    "d747a8a8879e": ("27c6a30d7c24", "d747a8a8879e", "add cart items"),
    "53fffde5ad5e": ("ae1027a6acf0, d747a8a8879e", "53fffde5ad5e", "merge cart into main"),
    "3cac04ae8714": ("", "3cac04ae8714", "create networking branch"),
    "109ec7d132bf": ("3cac04ae8714", "109ec7d132bf", "add ip number table"),
    "29f859a13ea7": ("109ec7d132bf", "29f859a13ea7", "add ip account table"),
}
PARENTS = {
    "1975ea83b712": [], "ae1027a6acf0": ["1975ea83b712"], "27c6a30d7c24": ["1975ea83b712"],
    "d747a8a8879e": ["27c6a30d7c24"], "53fffde5ad5e": ["ae1027a6acf0", "d747a8a8879e"],
    "3cac04ae8714": [], "109ec7d132bf": ["3cac04ae8714"],
    "29f859a13ea7": ["109ec7d132bf", "53fffde5ad5e"],     # incl. depends_on
}


def ancestors(rev):
    out = {rev}
    for p in PARENTS[rev]:
        out |= ancestors(p)
    return out


def readme_section(title):
    """The text of README.md's '### <title>' section."""
    src = os.environ.get("LUAMIG_SOURCE_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "README.md")) as f:
        text = f.read()
    start = text.index("### %s\n" % title)
    end = text.find("\n#", start + 1)
    return text[start:end if end >= 0 else len(text)]


def readme_blocks(section):
    """[(kind, body)] of the fenced blocks, in order."""
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


class ReadmeBranches(unittest.TestCase):
    """README.md's "Branches" walk-through, command by command, on both
    databases: each `$ luamig ...` must print what the README shows (for
    upgrades, its "Running" lines; revision ids are passed with --rev-id so
    that file order, hence output order, is the README's)."""

    def test_walk_through(self):
        section = readme_section("Branches")
        blocks = readme_blocks(section)
        self.assertGreaterEqual(len(blocks), 4)
        for backend in backends():
            with self.subTest(backend=backend):
                self.walk(backend, blocks)

    def walk(self, backend, blocks):
        p = Project(self, backend)
        # Where the tutorial left off: two revisions, downgraded to base.
        p.ok("revision", "-m", "create account table", "--rev-id", "1975ea83b712")
        p.ok("revision", "-m", "Add a column", "--rev-id", "ae1027a6acf")
        p.ok("upgrade", "head")
        p.ok("downgrade", "base")
        home = "/home/me/myproject"
        for kind, body in blocks:
            if kind == "ini":
                for line in body.splitlines():
                    key, value = [x.strip() for x in line.split("=", 1)]
                    p.set_option(key, value)
                continue
            self.assertEqual(kind, "console")
            commands = []
            for line in body.split("\n")[:-1]:
                if line.startswith("$ "):
                    commands.append((line[2:], []))
                else:
                    commands[-1][1].append(line)
            for command, expected in commands:
                args = shlex.split(command)
                self.assertEqual(args[0], "luamig")
                args = args[1:]
                expected = "".join(l.replace(home, p.dir) + "\n" for l in expected)
                m = re.search(r"/([^/_]+)_[^/]*\.lua \.\.\.  done", expected)
                if args[0] in ("revision", "merge") and m:
                    args += ["--rev-id", m.group(1)]
                r = p.ok(*args)
                if expected.startswith("INFO  ["):
                    self.assertEqual(running(r), running(Result(expected)), command)
                else:
                    self.assertEqual(r.out, expected, command)
        # What the prose says.
        self.assertEqual(p.version_rows(), ["29f859a13ea7"])
        p.ok("downgrade", "networking@base")
        self.assertEqual(p.version_rows(), ["53fffde5ad5e"])
        p.ok("upgrade", "heads")
        self.assertEqual(p.version_rows(), ["29f859a13ea7"])


class Result:
    def __init__(self, err):
        self.err = err


if __name__ == "__main__":
    main()
