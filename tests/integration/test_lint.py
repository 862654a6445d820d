"""luamig lint: each revision's operations, recorded without a database, checked against the
rules (PostgreSQL lock levels, rewrites and scans; DB-neutral drops and renames; SQLite batch
rebuilds), with severities, waivers and user rules from luamig.ini; `lint = error` in front of
upgrade.  The lock levels lint predicts are checked against pg_locks of a real session running
the same statements, and against what upgrade --dry-run measures."""
import re
import unittest

import pg
from luamigtest import Project, main

BASE = """
  op.create_table("team", sa.Column("id", sa.Integer, { primary_key = true }))
  op.create_table("hero", sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50)), sa.Column("team_id", sa.Integer),
    sa.Column("power", sa.Integer))
  op.create_index("ix_hero_power", "hero", { "power" })
  op.create_check_constraint("ck_power", "hero", "power > 0", { postgresql_not_valid = true })
"""

# revision id, body, the lock lint predicts on hero (measured in test_locks_match_pg_locks)
LOCK_CASES = [
    ("c_index", 'op.create_index("ix_hero_name", "hero", { "name" })', "SHARE"),
    ("c_addcol", 'op.add_column("hero", sa.Column("age", sa.Integer, { server_default = "0" }))',
     "ACCESS EXCLUSIVE"),
    ("c_totext", 'op.alter_column("hero", "name", { type_ = sa.Text(), '
                 'existing_type = sa.String(50) })', "ACCESS EXCLUSIVE"),
    ("c_fknv", 'op.create_foreign_key("fk_team", "hero", "team", { "team_id" }, { "id" }, '
               '{ postgresql_not_valid = true })', "SHARE ROW EXCLUSIVE"),
    ("c_fk", 'op.create_foreign_key("fk_team", "hero", "team", { "team_id" }, { "id" })',
     "SHARE ROW EXCLUSIVE"),
    ("c_cknv", 'op.create_check_constraint("ck_name", "hero", "name <> \'\'", '
               '{ postgresql_not_valid = true })', "ACCESS EXCLUSIVE"),
    ("c_validate", 'op.execute("ALTER TABLE hero VALIDATE CONSTRAINT ck_power")',
     "SHARE UPDATE EXCLUSIVE"),
    ("c_comment", 'op.create_table_comment("hero", "heroes")', "SHARE UPDATE EXCLUSIVE"),
    ("c_dropcol", 'op.drop_column("hero", "power")', "ACCESS EXCLUSIVE"),
    ("c_unique", 'op.create_unique_constraint("uq_name", "hero", { "name" })', "ACCESS EXCLUSIVE"),
    ("c_notnull", 'op.alter_column("hero", "name", { nullable = false, '
                  'existing_type = sa.String(50) })', "ACCESS EXCLUSIVE"),
    ("c_update", 'op.execute("UPDATE hero SET power = 1 WHERE id < 0")', "ROW EXCLUSIVE"),
    ("c_dropix", 'op.drop_index("ix_hero_power", "hero")', "ACCESS EXCLUSIVE"),
]

PG_MODES = {
    "AccessShareLock": "ACCESS SHARE", "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE", "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE", "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE", "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}
STRENGTH = ["ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
            "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"]

DANGEROUS = """
  op.create_index("ix_hero_name", "hero", { "name" })
  op.create_foreign_key("fk_team", "hero", "team", { "team_id" }, { "id" })
  op.alter_column("hero", "name", { nullable = false, existing_type = sa.String(50) })
  op.alter_column("hero", "power", { type_ = sa.BigInteger(), existing_type = sa.Integer() })
  op.add_column("hero", sa.Column("tok", sa.String(36), { server_default = sa.text("gen_random_uuid()") }))
  op.create_unique_constraint("uq_hero_name", "hero", { "name" })
  op.drop_column("hero", "team_id")
  op.rename_table("team", "squad")
  op.execute("VACUUM hero")
  op.create_index("ix_in_tx", "hero", { "power" }, { postgresql_concurrently = true })
"""
# rule -> line in the revision file (the body starts on line 11, see revision_file)
DANGEROUS_RULES = {
    "index-not-concurrent": 11, "constraint-not-valid": 12, "set-not-null": 13,
    "type-change-rewrite": 14, "volatile-default": 15, "unique-not-from-index": 16,
    "drop-column": 17, "rename-table": 18, "unknown-sql": 19, "concurrently-in-transaction": 20,
}

SAFE = """
  op.get_context().autocommit_block(function()
    op.create_index("ix_hero_name", "hero", { "name" }, { postgresql_concurrently = true })
    op.create_index("uq_hero_name_ix", "hero", { "name" }, { unique = true, postgresql_concurrently = true })
  end)
  op.execute("ALTER TABLE hero ADD CONSTRAINT uq_hero_name UNIQUE USING INDEX uq_hero_name_ix")
  op.create_foreign_key("fk_team", "hero", "team", { "team_id" }, { "id" }, { postgresql_not_valid = true })
  op.execute("ALTER TABLE hero VALIDATE CONSTRAINT fk_team")
  op.create_check_constraint("ck_name_nn", "hero", "name IS NOT NULL", { postgresql_not_valid = true })
  op.execute("ALTER TABLE hero VALIDATE CONSTRAINT ck_name_nn")
  op.alter_column("hero", "name", { nullable = false, existing_type = sa.String(50) })
  op.alter_column("hero", "name", { type_ = sa.String(100), existing_type = sa.String(50) })
  op.alter_column("hero", "name", { type_ = sa.Text(), existing_type = sa.String(100) })
  op.add_column("hero", sa.Column("created", sa.DateTime, { server_default = sa.text("now()") }))
  op.add_column("hero", sa.Column("level", sa.Integer, { server_default = "1" }))
  op.create_table("sidekick", sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("hero_id", sa.Integer))
  op.create_index("ix_sidekick_hero", "sidekick", { "hero_id" })
  op.create_foreign_key("fk_sidekick_hero", "sidekick", "hero", { "hero_id" }, { "id" })
  op.drop_table("sidekick")
"""


def finding_lines(out):
    """{(rule, line, level)} from lint's output."""
    found = set()
    for m in re.finditer(r"^\S+?:(\d+): (error|warn) \[([\w-]+)\]", out, re.M):
        found.add((m.group(3), int(m.group(1)), m.group(2)))
    return found


class LintPostgreSQL(unittest.TestCase):
    def setUp(self):
        pg.skip_unless_available()
        self.p = Project(self, "postgresql")
        self.p.revision_file("r0", up=BASE.strip("\n"), downgrade='  op.drop_table("hero")\n  op.drop_table("team")')

    def test_each_rule_fires_where_it_should_and_not_on_the_safe_recipe(self):
        p = self.p
        p.revision_file("danger", down="r0", up=DANGEROUS.strip("\n"), name="0002_danger.lua")
        p.revision_file("safe", down="r0", up=SAFE.strip("\n"), name="0003_safe.lua")
        r = p.fails("lint", "danger")
        found = finding_lines(r.out)
        for rule, line in DANGEROUS_RULES.items():
            level = "warn" if rule == "unknown-sql" else "error"
            self.assertIn((rule, line, level), found, r.out)
        self.assertIn("migrations/versions/0002_danger.lua:11: error [index-not-concurrent]", r.out)
        self.assertIn("lint: 9 errors, 1 warning, 0 waived (1 revision, 10 operations)", r.out)
        self.assertEqual(r.err.strip().splitlines()[-1], "FAILED: lint found 9 unwaived errors")
        r = p.ok("lint", "safe")
        self.assertEqual(finding_lines(r.out), set(), r.out)
        self.assertIn("lint: 0 errors, 0 warnings", r.out)
        # the proven NOT NULL, the widening and VARCHAR -> TEXT: no scan, no rewrite
        self.assertRegex(r.out, r"alter_column hero.name: lock ACCESS EXCLUSIVE on hero, "
                                r"a validated CHECK proves it: no scan")
        self.assertNotIn("rewrites", r.out)
        # nothing was sent: the database has no tables
        self.assertEqual(p.tables(), [])

    def test_fix_names_a_long_constraint_as_the_database_has_it(self):
        """The advice's SQL names the constraint as its DDL names it: an op.f() name past 63
        characters shortened (SQLAlchemy's rule), not the whole name the database never had."""
        p = self.p
        p.revision_file("long", down="r0", name="0002_long.lua",
                        up='  op.create_check_constraint(op.f(string.rep("c", 70)), "hero", "power > 0")')
        r = p.fails("lint", "long")
        short = "c" * 55 + "_fe65"
        self.assertIn('VALIDATE CONSTRAINT %s")' % short, r.out)
        p.ok("upgrade", "head")
        self.assertEqual(p.sql("SELECT conname FROM pg_constraint WHERE conrelid = 'hero'::regclass "
                               "AND conname LIKE 'ccc%'"), [(short,)])

    def test_locks_match_pg_locks(self):
        p = self.p
        for rev, body, _ in LOCK_CASES:
            p.revision_file(rev, down="r0", up="  " + body)
        p.ok("upgrade", "r0")
        for rev, body, expected in LOCK_CASES:
            r = p.run("lint", rev)
            m = re.search(r": lock ([A-Z ]+) on hero", r.out)
            self.assertIsNotNone(m, r.out)
            self.assertEqual(m.group(1), expected, (rev, r.out))
            sql = p.ok("upgrade", "r0:" + rev, "--sql").out
            body_sql = sql.split("-- Running upgrade r0 -> %s\n\n" % rev)[1]
            body_sql = body_sql.split("UPDATE luamig_version")[0]
            rows = pg.psql(p.url, "BEGIN;\n" + body_sql + "\nSELECT mode FROM pg_locks WHERE "
                           "pid = pg_backend_pid() AND relation = 'hero'::regclass;\nROLLBACK;")
            modes = [PG_MODES[row[0]] for row in rows]
            strongest = max(modes, key=STRENGTH.index)
            self.assertEqual(strongest, expected, (rev, body_sql, modes))
            # and upgrade --dry-run measures the same
            dry = p.ok("upgrade", rev, "--dry-run").out
            measured = [PG_MODES[m] for m in re.findall(r"^    (\w+) on public\.hero$", dry, re.M)]
            self.assertEqual(max(measured, key=STRENGTH.index), expected, (rev, dry))
        self.assertEqual(p.version_rows(), ["r0"])

    def test_default_range_is_what_the_database_has_not_applied(self):
        p = self.p
        p.revision_file("danger", down="r0", up=DANGEROUS.strip("\n"), name="0002_danger.lua")
        r = p.fails("lint")
        self.assertIn("Revision r0 ", r.out)
        p.ok("upgrade", "r0")
        r = p.fails("lint")
        self.assertNotIn("Revision r0 ", r.out)
        self.assertIn("Revision danger ", r.out)
        # no database: a warning, and every revision
        p.set_option("url", "postgresql://postgres@127.0.0.1:1/nowhere")
        r = p.fails("lint")
        self.assertIn("Revision r0 ", r.out)
        self.assertIn("linting every revision", r.err)
        r = p.fails("lint", "--sql")
        self.assertIn("Revision r0 ", r.out)

    def test_severities_from_the_ini(self):
        p = self.p
        p.revision_file("drop", down="r0", up='  op.drop_column("hero", "power")',
                        name="0002_drop.lua")
        r = p.fails("lint", "drop")
        self.assertIn(("drop-column", 11, "error"), finding_lines(r.out))
        p.set_option("lint.drop-column", "warn")
        r = p.ok("lint", "drop")
        self.assertIn(("drop-column", 11, "warn"), finding_lines(r.out))
        p.set_option("lint.drop-column", "off")
        r = p.ok("lint", "drop")
        self.assertEqual(finding_lines(r.out), set())
        p.set_option("lint.drop-column", "maybe")
        r = p.fails("lint", "drop")
        self.assertEqual(r.err.strip().splitlines()[-1],
                         "FAILED: luamig.ini: lint.drop-column = maybe: expected error, warn or off")
        p.set_option("lint.drop-column", "warn")
        p.set_option("lint.no-such-rule", "warn")
        r = p.fails("lint", "drop")
        self.assertIn("FAILED: luamig.ini: lint.no-such-rule: no lint rule 'no-such-rule'", r.err)

    def test_waivers_in_the_revision_file(self):
        p = self.p
        path = p.revision_file("drop", down="r0", up='  op.drop_column("hero", "power")',
                               name="0002_drop.lua")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text + '\nlint_waivers = { { rule = "drop-column", reason = "unused since v2" } }\n')
        r = p.ok("lint", "drop")
        self.assertIn("migrations/versions/0002_drop.lua:11: waived error [drop-column]: column "
                      "hero.power is dropped", r.out)
        self.assertIn("(reason: unused since v2)", r.out)
        self.assertIn("lint: 0 errors, 0 warnings, 1 waived", r.out)
        with open(path, "w") as f:
            f.write(text + '\nlint_waivers = { { rule = "drop-column" } }\n')
        r = p.fails("lint", "drop")
        self.assertEqual(r.err.strip().splitlines()[-1],
                         'FAILED: migrations/versions/0002_drop.lua: lint_waivers[1]: a waiver '
                         'needs rule = "..." and a reason = "..."')

    def test_user_rule_in_lua(self):
        p = self.p
        p.revision_file("cols", down="r0", name="0002_cols.lua",
                        up='  op.add_column("hero", sa.Column("Bad", sa.Integer))\n'
                           '  op.add_column("hero", sa.Column("good", sa.Integer))')
        p.write("rules.lua", """
return {
  ["lowercase-columns"] = function(o, info)
    if o.kind == "add_column" and o.column.name:match("%u") then
      return { message = "column " .. o.column.name .. " on " .. info.table .. " is not lower case",
               fix = "name it " .. o.column.name:lower() }
    end
  end,
}
""")
        p.set_option("lint_rules", "rules.lua")
        r = p.fails("lint", "cols")
        self.assertIn("migrations/versions/0002_cols.lua:11: error [lowercase-columns]: column Bad "
                      "on hero is not lower case", r.out)
        self.assertIn("    fix: name it bad", r.out)
        self.assertEqual(len(finding_lines(r.out)), 1, r.out)
        p.set_option("lint.lowercase-columns", "warn")
        r = p.ok("lint", "cols")
        self.assertIn(("lowercase-columns", 11, "warn"), finding_lines(r.out))

    def test_upgrade_with_lint_error_applies_nothing(self):
        p = self.p
        p.ok("upgrade", "r0")
        p.revision_file("ok1", down="r0", name="0002_ok1.lua",
                        up='  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))')
        p.revision_file("drop", down="ok1", up='  op.drop_column("hero", "power")',
                        name="0003_drop.lua")
        before = p.schema()
        p.set_option("lint", "error")
        r = p.fails("upgrade", "head")
        self.assertIn("migrations/versions/0003_drop.lua:11: error [drop-column]", r.err)
        self.assertEqual(r.err.strip().splitlines()[-1],
                         "FAILED: lint = error: 1 unwaived lint error in the revisions to apply; "
                         "nothing was applied")
        self.assertEqual(p.schema(), before)
        self.assertEqual(p.version_rows(), ["r0"])
        p.set_option("lint", "warn")
        r = p.ok("upgrade", "head")
        self.assertIn("error [drop-column]", r.err)
        self.assertEqual(p.version_rows(), ["drop"])

    def test_an_unknown_lint_setting_stops_the_upgrade_before_anything(self):
        p = self.p
        p.ok("upgrade", "r0")
        p.revision_file("ok1", down="r0", name="0002_ok1.lua",
                        up='  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))')
        before = p.schema()
        p.set_option("lint", "Maybe")
        r = p.fails("upgrade", "head")
        self.assertEqual(r.err.strip().splitlines()[-1],
                         "FAILED: luamig.ini: lint = maybe: expected warn, error or off")
        self.assertEqual(p.schema(), before)
        self.assertEqual(p.version_rows(), ["r0"])
        p.set_option("lint", "OFF")
        p.ok("upgrade", "head")
        self.assertEqual(p.version_rows(), ["ok1"])

    def test_batch_operations_are_linted_at_their_own_line(self):
        p = self.p
        p.revision_file("b", down="r0", name="0002_b.lua", up="""  op.batch_alter_table("hero", function(b)
    b.alter_column("name", { nullable = false })
    b.create_index("ix_hero_team", { "team_id" })
  end)""")
        r = p.fails("lint", "b")
        self.assertEqual(finding_lines(r.out), {("set-not-null", 12, "error"),
                                                ("index-not-concurrent", 13, "error")}, r.out)

    def test_autogenerate_with_lint_reports_on_the_new_operations(self):
        p = self.p
        p.write("migrations/env.lua", """
local luamig = require "luamig"
local sa = require "luamig.sa"
local md = sa.MetaData()
sa.Table("team", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(20)))
sa.Table("hero", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(50)), sa.Column("team_id", sa.Integer),
  sa.Column("power", sa.Integer), sa.Index("ix_hero_name", "name"))
local connection = luamig.connect(context.config.get_main_option("url"))
context.configure { connection = connection, target_metadata = md }
context.run_migrations()
connection:close()
""")
        p.ok("upgrade", "r0")
        p.set_option("lint", "warn")
        r = p.ok("revision", "--autogenerate", "-m", "more", "--rev-id", "r1")
        self.assertIn("autogenerated upgrade(): error [index-not-concurrent]: index ix_hero_name "
                      "built on existing table hero", r.err)
        self.assertIn("autogenerated upgrade(): warn [drop-index-not-concurrent]: DROP INDEX "
                      "ix_hero_power", r.err)
        self.assertIn("lint: 1 error, 1 warning", r.err)
        self.assertIn("op.create_index", p.read("migrations/versions/r1_more.lua"))

    def test_downgrade_lints_downgrade_functions(self):
        p = self.p
        r = p.fails("lint", "r0", "--downgrade")
        self.assertIn("Revision r0 (migrations/versions/0001_r0.lua), downgrade", r.out)
        self.assertIn("drop_table hero: lock ACCESS EXCLUSIVE on hero", r.out)
        # the tables exist before the downgrade runs: dropping them is destructive
        self.assertEqual(finding_lines(r.out), {("drop-table", 20, "error"), ("drop-table", 21, "error")})


class LintSQLite(unittest.TestCase):
    def test_long_plan(self):
        """Over 2,000 revisions (each dropped once checked): the first's and the last's
        operations with their files and lines, and every revision counted."""
        p = Project(self, "sqlite")
        p.revision_file("r0001", up='  op.create_table("t0", sa.Column("n", sa.Integer))',
                        name="0001_r0001.lua")
        prev = "r0001"
        for i in range(2, 2102):
            rev = "r%04d" % i
            p.revision_file(rev, down=prev, name="%04d_%s.lua" % (i, rev),
                            up='  op.create_table("t%d", sa.Column("n", sa.Integer))' % i
                            if i < 2101 else '  op.drop_table("t0")')
            prev = rev
        r = p.ok("lint", "--sql")
        self.assertIn("\nmigrations/versions/0001_r0001.lua:11: create_table t0: lock database "
                      "write lock on t0\n", r.out)
        self.assertIn("\nmigrations/versions/2101_r2101.lua:11: drop_table t0: lock database "
                      "write lock on t0\n", r.out)
        self.assertEqual(r.out.count("\nRevision r"), 2100)
        self.assertTrue(r.out.endswith(
            "lint: 0 errors, 0 warnings, 0 waived (2101 revisions, 2101 operations)\n"))

    def test_a_revision_that_fails_is_one_finding_of_one_line(self):
        """upgrade() raising an error of several lines, at a line of its own: the not-linted
        finding is one line, naming that line once."""
        p = Project(self, "sqlite")
        p.revision_file("r0001", up='  error("first line\\nsecond line")', name="0001_r0001.lua")
        r = p.fails("lint", "--sql")
        self.assertIn("\nmigrations/versions/0001_r0001.lua: error [not-linted]: upgrade() failed "
                      "at migrations/versions/0001_r0001.lua:11: first line second line\n"
                      "    fix: ", r.out)

    def test_batch_rebuild_and_drops_on_sqlite(self):
        p = Project(self, "sqlite")
        p.revision_file("r0", up=BASE.strip("\n").replace(', { postgresql_not_valid = true }', ''))
        p.revision_file("b", down="r0", name="0002_b.lua", up="""  op.batch_alter_table("hero", function(b)
    b.alter_column("name", { nullable = false })
  end)
  op.batch_alter_table("hero", function(b)
    b.create_index("ix_hero_team", { "team_id" })
  end)
  op.drop_table("team")""")
        r = p.fails("lint", "b")
        found = finding_lines(r.out)
        self.assertEqual(found, {("batch-rebuild", 11, "warn"), ("drop-table", 17, "error")}, r.out)
        self.assertIn("batch_alter_table hero: rewrites the table, table rebuilt (move and copy)",
                      r.out)
        self.assertIn("drop_table team: lock database write lock on team", r.out)
        # the PostgreSQL rules do not apply on SQLite
        self.assertNotIn("set-not-null", r.out)
        p.set_option("lint.batch-rebuild", "error")
        r = p.fails("lint", "b")
        self.assertIn(("batch-rebuild", 11, "error"), finding_lines(r.out))
        # the lint never touched the database: no version table, no tables
        self.assertEqual(p.tables(), [])


if __name__ == "__main__":
    main()
