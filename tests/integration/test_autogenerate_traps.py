"""Autogenerate without Alembic's traps (issue 17), on SQLite and PostgreSQL. Each step changes
models.lua, autogenerates a revision, and the revision must

    upgrade -> `luamig check` clean -> downgrade -1 gives back the catalog dump of before
    -> upgrade again gives the same catalog as the first upgrade

where Alembic's would not run: an unnamed constraint added to an existing table (Alembic's
downgrade is drop_constraint(None, ...)); a column of a new PostgreSQL ENUM added to an
existing table (Alembic forgets CREATE TYPE); a table whose ENUM type another table already
has; dropping the last users of an ENUM type (Alembic leaves the type, so upgrading again
fails); an unnamed foreign key SQLite keeps unnamed, removed from the models.
"""
import os
import re
import unittest

from luamigtest import Project, backends, main

ENV_LUA = """\
local luamig = require "luamig"
local config = context.config
package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path
local target_metadata = require "models"
local connection = luamig.connect(config.get_main_option("url"))
context.configure { connection = connection, target_metadata = target_metadata }
context.begin_transaction(function() context.run_migrations() end)
connection:close()
"""

LONG = "a_table_with_a_really_quite_extraordinarily_long_name_indeed_x"  # 62 bytes

HEAD = """\
local sa = require "luamig.sa"
local md = sa.MetaData()
sa.Table("parent", md, sa.Column("id", sa.Integer, { primary_key = true }))
"""

CHILD_1 = """\
sa.Table("child", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("parent_id", sa.Integer), sa.Column("code", sa.String(10)),
  sa.Column("a", sa.Integer), sa.Column("b", sa.Integer),
  sa.Index("child_code_key", "a"))
sa.Table("%s", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("parent_identifier_column", sa.Integer))
""" % LONG

SHARED = """\
sa.Table("shared_user", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("mood", sa.Enum("sad", "ok", { name = "mood" })))
"""

# v2: unnamed constraints on existing tables (one whose name PostgreSQL must shorten, one
# whose first choice is taken by an index), a new ENUM column, a new table on an ENUM type
# that exists already
CHILD_2 = """\
sa.Table("child", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")), sa.Column("code", sa.String(10)),
  sa.Column("a", sa.Integer), sa.Column("b", sa.Integer),
  sa.Column("status", sa.Enum("new", "done", { name = "status" })),
  sa.Index("child_code_key", "a"),
  sa.UniqueConstraint("code"), sa.UniqueConstraint("a", "b"))
sa.Table("%s", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("parent_identifier_column", sa.Integer, sa.ForeignKey("parent.id")))
sa.Table("pet", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("mood", sa.Enum("sad", "ok", { name = "mood" })))
""" % LONG

# v3: the last users of "mood" go, and the unnamed foreign key of child with them
CHILD_3 = CHILD_2.replace('sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id"))',
                          'sa.Column("parent_id", sa.Integer)').split('sa.Table("pet"')[0]

MODELS = [HEAD + CHILD_1 + SHARED + "return md\n",
          HEAD + CHILD_2 + SHARED + "return md\n",
          HEAD + CHILD_3 + "return md\n"]


def schema(p):
    """The catalog dump; on SQLite up to whitespace and the quotes SQLite's ALTER TABLE ...
    RENAME puts around a rebuilt table's name (as test_ops_roundtrip)."""
    dump = p.schema()
    if p.backend != "sqlite":
        return dump
    return [(t, n, tb, sql and re.sub(r'"([a-z_][a-z0-9_]*)"', r"\1", " ".join(sql.split())))
            for (t, n, tb, sql) in dump]


class AutogenerateTraps(unittest.TestCase):
    def step(self, p, n, models):
        p.write("models.lua", models)
        before = schema(p)
        p.ok("revision", "--autogenerate", "-m", "v%d" % n, "--rev-id", "v%d" % n)
        with open(os.path.join(p.versions, [f for f in os.listdir(p.versions)
                                              if f.startswith("v%d_" % n)][0])) as f:
            text = f.read()
        p.ok("upgrade", "head")
        after = schema(p)
        self.assertNotEqual(after, before)
        r = p.ok("check")
        self.assertIn("No new upgrade operations detected.", r.out)
        p.ok("downgrade", "-1")
        self.assertEqual(schema(p), before, "downgrade of v%d:\n%s" % (n, text))
        p.ok("upgrade", "head")
        self.assertEqual(schema(p), after)
        return text

    def test_a_function_name_is_never_code_of_the_revision(self):
        """A server default of sa.func["..."]() whose name is no Lua name: the revision writes
        it as a string key, so nothing of it runs when the revision loads, and the SQL quotes
        it as a name."""
        p = Project(self, "sqlite")
        p.write("migrations/env.lua", ENV_LUA)
        odd = "now(), error('the name ran'), x = sa.func.now"
        p.write("models.lua", HEAD + 'sa.Table("t", md, sa.Column("id", sa.Integer, '
                '{ primary_key = true }), sa.Column("c", sa.Text, { server_default = '
                'sa.func["%s"]() }))\nreturn md\n' % odd)
        p.ok("revision", "--autogenerate", "-m", "f", "--rev-id", "f1")
        text = p.read("migrations/versions/f1_f.lua")
        self.assertIn('server_default = sa.func["%s"]()' % odd.replace('"', '\\"'), text)
        p.ok("upgrade", "head")
        sql = p.sql("SELECT sql FROM sqlite_master WHERE name = 't'")[0][0]
        self.assertIn('DEFAULT ("%s"())' % odd, sql)

    def test_a_table_of_300_columns_and_an_enum_of_300_values(self):
        """More arguments than a Lua call can pass: the revision still compiles (they go
        through one table constructor), the upgrade creates them all and `check` is clean."""
        p = Project(self, "sqlite")
        p.write("migrations/env.lua", ENV_LUA)
        p.write("models.lua", HEAD + 'local cols = { sa.Column("id", sa.Integer, '
                '{ primary_key = true }), sa.Column("e", sa.Enum(table.unpack((function() '
                'local v = {} for i = 1, 300 do v[i] = "v" .. i end v[301] = { name = "e300" } '
                'return v end)()))) }\nfor i = 1, 300 do cols[#cols + 1] = sa.Column("c" .. i, '
                'sa.Integer) end\nsa.Table("wide", md, table.unpack(cols))\nreturn md\n')
        p.ok("revision", "--autogenerate", "-m", "wide", "--rev-id", "w1")
        self.assertIn('op.create_table("wide", table.unpack {\n',
                      p.read("migrations/versions/w1_wide.lua"))
        p.ok("upgrade", "head")
        self.assertEqual(len(p.sql("SELECT name FROM pragma_table_info('wide')")), 302)
        self.assertIn("No new upgrade operations detected.", p.ok("check").out)

    def pg_names(self, p, table):
        return sorted(r[0] for r in p.sql(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'public.%s'::regclass" % table))

    def pg_types(self, p):
        return sorted(r[0] for r in p.sql("SELECT typname FROM pg_type WHERE typtype = 'e'"))

    def test_round_trips(self):
        for backend in backends():
            with self.subTest(backend=backend):
                p = Project(self, backend)
                p.write("migrations/env.lua", ENV_LUA)
                # the version table first, so that every step starts and ends with it
                p.write("models.lua", 'return require("luamig.sa").MetaData()\n')
                p.ok("upgrade", "head")
                self.step(p, 1, MODELS[0])
                v2 = self.step(p, 2, MODELS[1])
                if backend == "postgresql":
                    # the names PostgreSQL gives them, rendered so that the downgrade can drop them
                    self.assertIn('op.create_foreign_key("child_parent_id_fkey", "child", "parent"', v2)
                    self.assertIn('op.create_unique_constraint("child_code_key1", "child", { "code" })', v2)
                    self.assertIn('op.create_unique_constraint("child_a_b_key", "child", { "a", "b" })', v2)
                    long_fk = LONG[:33] + "_parent_identifier_column_fkey"
                    self.assertEqual(len(long_fk), 63)
                    self.assertIn('op.create_foreign_key("%s"' % long_fk, v2)
                    self.assertIn(long_fk, self.pg_names(p, LONG))
                    self.assertEqual(self.pg_names(p, "child"),
                                     ["child_a_b_key", "child_code_key1", "child_parent_id_fkey",
                                      "child_pkey"])
                    self.assertEqual(self.pg_types(p), ["mood", "status"])
                    self.assertIn('op.execute("DROP TYPE IF EXISTS status")', v2)
                    self.assertNotIn("DROP TYPE IF EXISTS mood", v2)
                else:
                    self.assertIn('batch_op.drop_constraint(nil, { type_ = "foreignkey", constraint = '
                                  'sa.ForeignKeyConstraint({ "parent_id" }, { "parent.id" }) })', v2)
                v3 = self.step(p, 3, MODELS[2])
                if backend == "postgresql":
                    self.assertEqual(self.pg_types(p), ["status"])
                    self.assertIn('op.execute("DROP TYPE IF EXISTS mood")', v3)
                    self.assertIn('op.drop_constraint("child_parent_id_fkey", "child"', v3)
                else:
                    self.assertIn('batch_op.drop_constraint(nil, { type_ = "foreignkey", constraint = '
                                  'sa.ForeignKeyConstraint({ "parent_id" }, { "parent.id" }) })', v3)
                # the whole way down and up again
                p.ok("downgrade", "base")
                p.ok("upgrade", "head")
                self.assertIn("No new upgrade operations detected.", p.ok("check").out)


if __name__ == "__main__":
    main()
