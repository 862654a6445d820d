"""Autogenerate end to end, on SQLite and PostgreSQL: models.lua covering the types and
constraints luamig knows -> `luamig revision --autogenerate` against an empty database ->
upgrade -> `luamig check` finds nothing -> the models change (every kind of object added,
removed and altered) -> autogenerate renders exactly the expected operations -> upgrade ->
check is clean -> downgrade gives back the previous schema (catalog dump) -> upgrade again."""
import os
import re
import sqlite3
import unittest

from luamigtest import Project, backends, main

ENV_LUA = """\
-- env.lua of the autogenerate test: models from $MODELS (default models.lua), defaults compared
local luamig = require "luamig"
local config = context.config
package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path
local target_metadata = require(os.getenv("MODELS") or "models")
local connection = luamig.connect(config.get_main_option("url"))
context.configure {
  connection = connection,
  target_metadata = target_metadata,
  compare_server_default = true,
}
context.begin_transaction(function() context.run_migrations() end)
connection:close()
"""

HEAD = """\
local sa = require "luamig.sa"
local postgresql = require "luamig.dialects.postgresql"
local md = sa.MetaData { naming_convention = {
  ix = "ix_%(column_0_label)s",
  uq = "uq_%(table_name)s_%(column_0_name)s",
  ck = "ck_%(table_name)s_%(constraint_name)s",
  fk = "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
  pk = "pk_%(table_name)s",
} }
local pg = os.getenv("LUAMIG_BACKEND") == "postgresql"
"""

# Version 1: every generic type, a server default of each kind, primary, foreign (with
# ondelete), unique (named and from a column flag) and check constraints, plain, unique and
# composite indexes; on PostgreSQL also its own types, a native ENUM and comments.
MODELS_1 = HEAD + """\
sa.Table("team", md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(50), { nullable = false, unique = true }),
  sa.Column("code", sa.String(8), { server_default = "x" }),
  sa.Column("founded", sa.Date),
  sa.CheckConstraint("length(code) > 0", { name = "code_len" }),
  { comment = pg and "teams" or nil })
local hero = {
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("big", sa.BigInteger),
  sa.Column("small", sa.SmallInteger),
  sa.Column("title", sa.Unicode(20)),
  sa.Column("bio", sa.Text, { comment = pg and "life story" or nil }),
  sa.Column("notes", sa.UnicodeText),
  sa.Column("active", sa.Boolean, { nullable = false, server_default = sa.true_() }),
  sa.Column("born", sa.DateTime, { server_default = sa.func.now() }),
  sa.Column("wake", sa.Time),
  sa.Column("score", sa.Float),
  sa.Column("money", sa.Numeric(10, 2)),
  sa.Column("blob", sa.LargeBinary),
  sa.Column("data", sa.JSON),
  sa.Column("uid", sa.Uuid),
  sa.Column("mood", sa.Enum("sad", "ok", "happy", { name = "mood" })),
  sa.Column("span", sa.Interval),
  sa.Column("team_id", sa.Integer, sa.ForeignKey("team.id", { ondelete = "CASCADE" }), { index = true }),
  sa.Column("rank", sa.Integer, { nullable = false, server_default = "0" }),
  sa.UniqueConstraint("title", "team_id", { name = "uq_hero_title_team" }),
  sa.Index("ix_hero_rank_score", "rank", "score"),
  sa.Index("ix_hero_uid", "uid", { unique = true }),
}
if pg then
  hero[#hero + 1] = sa.Column("doc", postgresql.JSONB)
  hero[#hero + 1] = sa.Column("tags", postgresql.ARRAY(sa.String(20)))
  hero[#hero + 1] = sa.Column("ip", postgresql.INET)
  hero[#hero + 1] = sa.Column("seen", sa.DateTime { timezone = true })
end
sa.Table("hero", md, table.unpack(hero))
sa.Table("sidekick", md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("hero_id", sa.Integer, sa.ForeignKey("hero.id")))
return md
"""

# Version 2: a table added (power) and one removed (sidekick); in team a column added with an
# index, one removed, a type widened, a default changed, a check swapped, the comment changed;
# in hero a column added with a self-referencing foreign key, types changed, NULL to NOT NULL,
# a default removed, indexes removed / changed in columns / changed in uniqueness, a unique
# constraint swapped, a foreign key's ondelete changed, a column comment removed.
MODELS_2 = HEAD + """\
sa.Table("team", md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("name", sa.String(80), { nullable = false, unique = true }),
  sa.Column("code", sa.String(8), { server_default = "y" }),
  sa.Column("city", sa.String(40), { nullable = false, server_default = "here", index = true }),
  sa.CheckConstraint("length(name) > 1", { name = "name_len" }),
  { comment = pg and "all the teams" or nil })
local hero = {
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("big", sa.BigInteger),
  sa.Column("small", sa.Integer),
  sa.Column("title", sa.Unicode(20), { nullable = false }),
  sa.Column("bio", sa.Text),
  sa.Column("notes", sa.UnicodeText),
  sa.Column("active", sa.Boolean, { nullable = false, server_default = sa.true_() }),
  sa.Column("born", sa.DateTime),
  sa.Column("wake", sa.Time),
  sa.Column("score", sa.Float),
  sa.Column("money", sa.Numeric(12, 2)),
  sa.Column("blob", sa.LargeBinary),
  sa.Column("data", sa.JSON),
  sa.Column("uid", sa.Uuid),
  sa.Column("mood", sa.Enum("sad", "ok", "happy", { name = "mood" })),
  sa.Column("span", sa.Interval),
  sa.Column("team_id", sa.Integer, sa.ForeignKey("team.id", { ondelete = "SET NULL" })),
  sa.Column("rank", sa.Integer, { nullable = false, server_default = "0" }),
  sa.Column("mentor_id", sa.Integer, sa.ForeignKey("hero.id")),
  sa.UniqueConstraint("title", { name = "uq_hero_title" }),
  sa.Index("ix_hero_rank_score", "score", "rank"),
  sa.Index("ix_hero_uid", "uid"),
}
if pg then
  hero[#hero + 1] = sa.Column("doc", postgresql.JSONB)
  hero[#hero + 1] = sa.Column("tags", postgresql.ARRAY(sa.String(20)))
  hero[#hero + 1] = sa.Column("ip", postgresql.INET)
  hero[#hero + 1] = sa.Column("seen", sa.DateTime)
end
sa.Table("hero", md, table.unpack(hero))
sa.Table("power", md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("hero_id", sa.Integer, sa.ForeignKey("hero.id"), { nullable = false }),
  sa.Column("name", sa.String(30), { nullable = false }),
  sa.UniqueConstraint("hero_id", "name", { name = "uq_power_hero_name" }))
return md
"""

CLEAN = "No new upgrade operations detected.\n"

EXPECTED_UP = {}
EXPECTED_DOWN = {}

EXPECTED_UP["sqlite"] = """\
-- ### commands auto generated by luamig - please adjust! ###
op.create_table("power",
  sa.Column("id", sa.Integer(), { nullable = false }),
  sa.Column("hero_id", sa.Integer(), { nullable = false }),
  sa.Column("name", sa.String{ length = 30 }, { nullable = false }),
  sa.ForeignKeyConstraint({ "hero_id" }, { "hero.id" }, { name = op.f("fk_power_hero_id_hero") }),
  sa.PrimaryKeyConstraint("id", { name = op.f("pk_power") }),
  sa.UniqueConstraint("hero_id", "name", { name = "uq_power_hero_name" })
)
op.drop_table("sidekick")
op.batch_alter_table("hero", {}, function(batch_op)
  batch_op.add_column(sa.Column("mentor_id", sa.Integer(), { nullable = true }))
  batch_op.alter_column("small", { existing_type = sa.SMALLINT(), type_ = sa.Integer(), existing_nullable = true })
  batch_op.alter_column("title", { existing_type = sa.VARCHAR{ length = 20 }, nullable = false })
  batch_op.alter_column("born", { existing_type = sa.DATETIME(), server_default = false, existing_nullable = true })
  batch_op.alter_column("money", { existing_type = sa.NUMERIC{ precision = 10, scale = 2 }, type_ = sa.Numeric{ precision = 12, scale = 2 }, existing_nullable = true })
  batch_op.drop_index("ix_hero_team_id")
  batch_op.drop_constraint("uq_hero_title_team", { type_ = "unique" })
  batch_op.drop_index("ix_hero_rank_score")
  batch_op.create_index("ix_hero_rank_score", { "score", "rank" }, { unique = false })
  batch_op.drop_index("ix_hero_uid")
  batch_op.create_index("ix_hero_uid", { "uid" }, { unique = false })
  batch_op.create_unique_constraint("uq_hero_title", { "title" })
  batch_op.drop_constraint("fk_hero_team_id_team", { type_ = "foreignkey" })
  batch_op.create_foreign_key(op.f("fk_hero_team_id_team"), "team", { "team_id" }, { "id" }, { ondelete = "SET NULL" })
  batch_op.create_foreign_key(op.f("fk_hero_mentor_id_hero"), "hero", { "mentor_id" }, { "id" })
end)

op.batch_alter_table("team", {}, function(batch_op)
  batch_op.add_column(sa.Column("city", sa.String{ length = 40 }, { server_default = "here", nullable = false }))
  batch_op.alter_column("name", { existing_type = sa.VARCHAR{ length = 50 }, type_ = sa.String{ length = 80 }, existing_nullable = false })
  batch_op.alter_column("code", { existing_type = sa.VARCHAR{ length = 8 }, server_default = "y", existing_nullable = true })
  batch_op.create_index(op.f("ix_team_city"), { "city" }, { unique = false })
  batch_op.drop_constraint(op.f("ck_team_code_len"), { type_ = "check" })
  batch_op.create_check_constraint(op.f("ck_team_name_len"), "length(name) > 1")
  batch_op.drop_column("founded")
end)

-- ### end luamig commands ###"""

EXPECTED_DOWN["sqlite"] = """\
-- ### commands auto generated by luamig - please adjust! ###
op.batch_alter_table("team", {}, function(batch_op)
  batch_op.add_column(sa.Column("founded", sa.DATE(), { nullable = true }))
  batch_op.drop_constraint(op.f("ck_team_name_len"), { type_ = "check" })
  batch_op.create_check_constraint(op.f("ck_team_code_len"), "length(code) > 0")
  batch_op.drop_index(op.f("ix_team_city"))
  batch_op.alter_column("code", { existing_type = sa.VARCHAR{ length = 8 }, server_default = sa.text("'x'"), existing_nullable = true })
  batch_op.alter_column("name", { existing_type = sa.String{ length = 80 }, type_ = sa.VARCHAR{ length = 50 }, existing_nullable = false })
  batch_op.drop_column("city")
end)

op.batch_alter_table("hero", {}, function(batch_op)
  batch_op.drop_constraint(op.f("fk_hero_mentor_id_hero"), { type_ = "foreignkey" })
  batch_op.drop_constraint(op.f("fk_hero_team_id_team"), { type_ = "foreignkey" })
  batch_op.create_foreign_key("fk_hero_team_id_team", "team", { "team_id" }, { "id" }, { ondelete = "CASCADE" })
  batch_op.drop_constraint("uq_hero_title", { type_ = "unique" })
  batch_op.drop_index("ix_hero_uid")
  batch_op.create_index("ix_hero_uid", { "uid" }, { unique = true })
  batch_op.drop_index("ix_hero_rank_score")
  batch_op.create_index("ix_hero_rank_score", { "rank", "score" }, { unique = false })
  batch_op.create_unique_constraint("uq_hero_title_team", { "title", "team_id" })
  batch_op.create_index("ix_hero_team_id", { "team_id" }, { unique = false })
  batch_op.alter_column("money", { existing_type = sa.Numeric{ precision = 12, scale = 2 }, type_ = sa.NUMERIC{ precision = 10, scale = 2 }, existing_nullable = true })
  batch_op.alter_column("born", { existing_type = sa.DATETIME(), server_default = sa.text("(CURRENT_TIMESTAMP)"), existing_nullable = true })
  batch_op.alter_column("title", { existing_type = sa.VARCHAR{ length = 20 }, nullable = true })
  batch_op.alter_column("small", { existing_type = sa.Integer(), type_ = sa.SMALLINT(), existing_nullable = true })
  batch_op.drop_column("mentor_id")
end)

op.create_table("sidekick",
  sa.Column("id", sa.INTEGER(), { nullable = false }),
  sa.Column("hero_id", sa.INTEGER(), { nullable = true }),
  sa.ForeignKeyConstraint({ "hero_id" }, { "hero.id" }, { name = "fk_sidekick_hero_id_hero" }),
  sa.PrimaryKeyConstraint("id", { name = "pk_sidekick" })
)
op.drop_table("power")
-- ### end luamig commands ###"""

EXPECTED_UP["postgresql"] = """\
-- ### commands auto generated by luamig - please adjust! ###
op.create_table("power",
  sa.Column("id", sa.Integer(), { nullable = false }),
  sa.Column("hero_id", sa.Integer(), { nullable = false }),
  sa.Column("name", sa.String{ length = 30 }, { nullable = false }),
  sa.ForeignKeyConstraint({ "hero_id" }, { "hero.id" }, { name = op.f("fk_power_hero_id_hero") }),
  sa.PrimaryKeyConstraint("id", { name = op.f("pk_power") }),
  sa.UniqueConstraint("hero_id", "name", { name = "uq_power_hero_name" })
)
op.drop_table("sidekick")
op.add_column("hero", sa.Column("mentor_id", sa.Integer(), { nullable = true }))
op.alter_column("hero", "small", { existing_type = sa.SMALLINT(), type_ = sa.Integer(), existing_nullable = true })
op.alter_column("hero", "title", { existing_type = sa.VARCHAR{ length = 20 }, nullable = false })
op.alter_column("hero", "bio", { existing_type = sa.TEXT(), comment = false, existing_comment = "life story", existing_nullable = true })
op.alter_column("hero", "born", { existing_type = postgresql.TIMESTAMP(), server_default = false, existing_nullable = true })
op.alter_column("hero", "money", { existing_type = sa.NUMERIC{ precision = 10, scale = 2 }, type_ = sa.Numeric{ precision = 12, scale = 2 }, existing_nullable = true })
op.alter_column("hero", "seen", { existing_type = postgresql.TIMESTAMP{ timezone = true }, type_ = sa.DateTime(), existing_nullable = true })
op.drop_index("ix_hero_team_id", { table_name = "hero" })
op.drop_constraint("uq_hero_title_team", "hero", { type_ = "unique" })
op.drop_index("ix_hero_rank_score", { table_name = "hero" })
op.create_index("ix_hero_rank_score", "hero", { "score", "rank" }, { unique = false })
op.drop_index("ix_hero_uid", { table_name = "hero" })
op.create_index("ix_hero_uid", "hero", { "uid" }, { unique = false })
op.create_unique_constraint("uq_hero_title", "hero", { "title" })
op.drop_constraint("fk_hero_team_id_team", "hero", { type_ = "foreignkey" })
op.create_foreign_key(op.f("fk_hero_team_id_team"), "hero", "team", { "team_id" }, { "id" }, { ondelete = "SET NULL" })
op.create_foreign_key(op.f("fk_hero_mentor_id_hero"), "hero", "hero", { "mentor_id" }, { "id" })
op.add_column("team", sa.Column("city", sa.String{ length = 40 }, { server_default = "here", nullable = false }))
op.alter_column("team", "name", { existing_type = sa.VARCHAR{ length = 50 }, type_ = sa.String{ length = 80 }, existing_nullable = false })
op.alter_column("team", "code", { existing_type = sa.VARCHAR{ length = 8 }, server_default = "y", existing_nullable = true })
op.create_index(op.f("ix_team_city"), "team", { "city" }, { unique = false })
op.drop_constraint(op.f("ck_team_code_len"), "team", { type_ = "check" })
op.create_check_constraint(op.f("ck_team_name_len"), "team", "length(name) > 1")
op.create_table_comment("team", "all the teams", { existing_comment = "teams" })
op.drop_column("team", "founded")
-- ### end luamig commands ###"""

EXPECTED_DOWN["postgresql"] = """\
-- ### commands auto generated by luamig - please adjust! ###
op.add_column("team", sa.Column("founded", sa.DATE(), { autoincrement = false, nullable = true }))
op.create_table_comment("team", "teams", { existing_comment = "all the teams" })
op.drop_constraint(op.f("ck_team_name_len"), "team", { type_ = "check" })
op.create_check_constraint(op.f("ck_team_code_len"), "team", "length((code)::text) > 0")
op.drop_index(op.f("ix_team_city"), { table_name = "team" })
op.alter_column("team", "code", { existing_type = sa.VARCHAR{ length = 8 }, server_default = sa.text("'x'::character varying"), existing_nullable = true })
op.alter_column("team", "name", { existing_type = sa.String{ length = 80 }, type_ = sa.VARCHAR{ length = 50 }, existing_nullable = false })
op.drop_column("team", "city")
op.drop_constraint(op.f("fk_hero_mentor_id_hero"), "hero", { type_ = "foreignkey" })
op.drop_constraint(op.f("fk_hero_team_id_team"), "hero", { type_ = "foreignkey" })
op.create_foreign_key("fk_hero_team_id_team", "hero", "team", { "team_id" }, { "id" }, { ondelete = "CASCADE" })
op.drop_constraint("uq_hero_title", "hero", { type_ = "unique" })
op.drop_index("ix_hero_uid", { table_name = "hero" })
op.create_index("ix_hero_uid", "hero", { "uid" }, { unique = true })
op.drop_index("ix_hero_rank_score", { table_name = "hero" })
op.create_index("ix_hero_rank_score", "hero", { "rank", "score" }, { unique = false })
op.create_unique_constraint("uq_hero_title_team", "hero", { "title", "team_id" })
op.create_index("ix_hero_team_id", "hero", { "team_id" }, { unique = false })
op.alter_column("hero", "seen", { existing_type = sa.DateTime(), type_ = postgresql.TIMESTAMP{ timezone = true }, existing_nullable = true })
op.alter_column("hero", "money", { existing_type = sa.Numeric{ precision = 12, scale = 2 }, type_ = sa.NUMERIC{ precision = 10, scale = 2 }, existing_nullable = true })
op.alter_column("hero", "born", { existing_type = postgresql.TIMESTAMP(), server_default = sa.text("now()"), existing_nullable = true })
op.alter_column("hero", "bio", { existing_type = sa.TEXT(), comment = "life story", existing_nullable = true })
op.alter_column("hero", "title", { existing_type = sa.VARCHAR{ length = 20 }, nullable = true })
op.alter_column("hero", "small", { existing_type = sa.Integer(), type_ = sa.SMALLINT(), existing_nullable = true })
op.drop_column("hero", "mentor_id")
op.create_table("sidekick",
  sa.Column("id", sa.INTEGER(), { autoincrement = true, nullable = false }),
  sa.Column("hero_id", sa.INTEGER(), { autoincrement = false, nullable = true }),
  sa.ForeignKeyConstraint({ "hero_id" }, { "hero.id" }, { name = "fk_sidekick_hero_id_hero" }),
  sa.PrimaryKeyConstraint("id", { name = "pk_sidekick" })
)
op.drop_table("power")
-- ### end luamig commands ###"""


def body(text, fn):
    """The lines of function fn() in a revision file, without the two-space indent."""
    m = re.search(r"^function %s\(\)\n(.*?)^end$" % fn, text, re.S | re.M)
    return "\n".join(line[2:] for line in m.group(1).rstrip("\n").split("\n"))


def sqlite_dump(p):
    """SQLite's schema through its catalog (PRAGMAs), so that a batch rebuild, which rewrites
    the CREATE TABLE text, compares equal when the schema is the same."""
    out = {}
    for (name, sql) in p.sql("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                             "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        def dflt(v):
            while v is not None and v.startswith("(") and v.endswith(")"):
                v = v[1:-1]
            return v
        cols = [(r[1], r[2], r[3], dflt(r[4]), r[5]) for r in p.sql("PRAGMA table_info(\"%s\")" % name)]
        idx = []
        for r in p.sql("PRAGMA index_list(\"%s\")" % name):
            icols = [x[2] for x in p.sql("PRAGMA index_info(\"%s\")" % r[1])]
            idx.append((r[1] if r[3] == "c" else r[3], r[2], tuple(icols)))
        fks = sorted((r[2], r[3], r[4], r[5], r[6]) for r in p.sql("PRAGMA foreign_key_list(\"%s\")" % name))
        named = sorted(re.findall(r"CONSTRAINT (\w+) (CHECK|UNIQUE|FOREIGN KEY|PRIMARY KEY)", sql))
        out[name] = {"columns": cols, "indexes": sorted(idx), "fks": fks, "named": named}
    return out


class OnBothDatabases:
    """test_sqlite and test_postgresql, each running the class's flow(backend)."""

    def test_sqlite(self):
        self.flow("sqlite")

    def test_postgresql(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        self.flow("postgresql")


class Autogenerate(OnBothDatabases, unittest.TestCase):
    def flow(self, backend):
        p = Project(self, backend)
        p.write("migrations/env.lua", ENV_LUA)
        env = {"LUAMIG_BACKEND": backend}
        p.write("models.lua", MODELS_1)
        p.write("models2.lua", MODELS_2)
        dump = (lambda: sqlite_dump(p)) if backend == "sqlite" else p.schema

        if backend == "sqlite":
            # check only reads: it does not create the database file ...
            r = p.fails("check", env=env)
            self.assertEqual(r.err.splitlines()[-1],
                             "FAILED: Database file 'app.db' (sqlite:///app.db) does not exist; "
                             "'luamig check' only reads a database and does not create one")
            self.assertFalse(os.path.exists(p.db_path))
            sqlite3.connect(p.db_path).close()  # ... so make an empty one
        # an empty database differs from the models: check says so and fails
        r = p.fails("check", env=env)
        self.assertIn("add_table team", r.out)
        self.assertIn("New upgrade operations detected: 6 differences", r.err)

        # 1. the whole schema from nothing
        p.ok("revision", "--autogenerate", "-m", "create schema", "--rev-id", "aaa000000001", env=env)
        first = p.read("migrations/versions/aaa000000001_create_schema.lua")
        up1 = body(first, "upgrade")
        for t in ("team", "hero", "sidekick"):
            self.assertIn('op.create_table("%s",' % t, up1)
        self.assertEqual(body(first, "downgrade").count("op.drop_table("), 3)
        p.ok("upgrade", "head", env=env)
        self.assertEqual(p.ok("check", env=env).out, CLEAN)
        before = dump()

        # 2. every kind of change
        env2 = dict(env, MODELS="models2")
        r = p.fails("check", env=env2)
        self.assertIn("remove_table sidekick", r.out)
        p.ok("revision", "--autogenerate", "-m", "change everything", "--rev-id", "bbb000000002", env=env2)
        second = p.read("migrations/versions/bbb000000002_change_everything.lua")
        self.assertEqual(body(second, "upgrade"), EXPECTED_UP[backend], second)
        self.assertEqual(body(second, "downgrade"), EXPECTED_DOWN[backend], second)
        p.ok("upgrade", "head", env=env2)
        self.assertEqual(p.ok("check", env=env2).out, CLEAN)
        after = dump()
        self.assertNotEqual(after, before)

        # 3. downgrade gives the first schema back (check refuses a database behind the head)
        p.ok("downgrade", "-1", env=env2)
        self.assertEqual(dump(), before)
        self.assertIn("Target database is not up to date.", p.fails("check", env=env).err)

        # 4. and upgrade again
        p.ok("upgrade", "head", env=env2)
        self.assertEqual(dump(), after)
        self.assertEqual(p.ok("check", env=env2).out, CLEAN)

        # nothing to do: no file is written (unless --allow-empty)
        r = p.ok("revision", "--autogenerate", "-m", "nothing", env=env2)
        self.assertIn("No changes in schema detected", r.err)
        self.assertEqual(sorted(f for f in os.listdir(p.versions) if f.endswith(".lua")),
                         ["aaa000000001_create_schema.lua", "bbb000000002_change_everything.lua"])


INDEXES = """\
local sa = require "luamig.sa"
local md = sa.MetaData()
sa.Table("t", md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column("a", sa.Integer),
  sa.Column("b", sa.Integer),
  sa.Index("ix_t_a", "a"),
  sa.Index("ix_t_b", "b", { unique = %s }))
return md
"""


class MatchingIndexes(OnBothDatabases, unittest.TestCase):
    """A table whose indexes match the models is passed over without the full index comparison;
    a change in just one index's uniqueness must still be found, in the database's own catalog."""

    def flow(self, backend):
        p = Project(self, backend)
        p.write("migrations/env.lua", ENV_LUA)
        p.write("models.lua", INDEXES % "true")
        p.ok("revision", "--autogenerate", "-m", "create", "--rev-id", "aaa000000001")
        p.ok("upgrade", "head")
        r = p.ok("revision", "--autogenerate", "-m", "same")
        self.assertIn("No changes in schema detected", r.err)
        p.write("models.lua", INDEXES % "false")
        p.ok("revision", "--autogenerate", "-m", "b not unique", "--rev-id", "bbb000000002")
        text = p.read("migrations/versions/bbb000000002_b_not_unique.lua")
        if backend == "sqlite":
            want = """\
-- ### commands auto generated by luamig - please adjust! ###
op.batch_alter_table("t", {}, function(batch_op)
  batch_op.drop_index("ix_t_b")
  batch_op.create_index("ix_t_b", { "b" }, { unique = false })
end)

-- ### end luamig commands ###"""
        else:
            want = """\
-- ### commands auto generated by luamig - please adjust! ###
op.drop_index("ix_t_b", { table_name = "t" })
op.create_index("ix_t_b", "t", { "b" }, { unique = false })
-- ### end luamig commands ###"""
        self.assertEqual(body(text, "upgrade"), want)
        p.ok("upgrade", "head")
        if backend == "sqlite":
            unique = {r[1]: r[2] for r in p.sql("PRAGMA index_list(t)")}
        else:
            unique = {r[0]: int(r[1] == "t") for r in p.sql(
                "SELECT c.relname, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 't' AND NOT i.indisprimary")}
        self.assertEqual(unique, {"ix_t_a": 0, "ix_t_b": 0})
        r = p.ok("revision", "--autogenerate", "-m", "again")
        self.assertIn("No changes in schema detected", r.err)

LONG_NAMES = HEAD.replace('  pk = "pk_%(table_name)s",\n', "") + """\
local T, C = string.rep("t", 40), string.rep("c", 40)
sa.Table("p", md, sa.Column("id", sa.Integer, { primary_key = true }))
sa.Table(T, md,
  sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Column(C, sa.Integer, sa.ForeignKey("p.id"), { index = true }),
  sa.Column("d" .. C, sa.Integer, { unique = true }),
  sa.CheckConstraint("id > 0", { name = string.rep("k", 60) }))
return md
"""

# What SQLAlchemy 1.4 names these on PostgreSQL (recorded): a convention's name over 63
# characters is cut to 55, "_" and the last four hex digits of the whole name's MD5.
T40, C40 = "t" * 40, "c" * 40
LONG_PG = sorted([
    "ck_%s_kkkkkkkkkkk_7d51" % T40, "fk_%s_ccccccccccc_0ffc" % T40,
    "uq_%s_dcccccccccc_dee0" % T40, "ix_%s_ccccccccccc_f9ac" % T40, "%s_pkey" % T40])


class LongConventionNames(OnBothDatabases, unittest.TestCase):
    """Names a naming convention makes past PostgreSQL's 63 characters get SQLAlchemy's
    shortened names (so that a database Alembic built has the same ones, and a later drop finds
    them), autogenerate then finds nothing to do, and a downgrade drops them by those names.
    SQLite has no limit: the whole names."""

    def flow(self, backend):
        p = Project(self, backend)
        p.write("migrations/env.lua", ENV_LUA)
        p.write("models.lua", LONG_NAMES)
        r = p.ok("revision", "--autogenerate", "-m", "long", "--rev-id", "aaa000000001")
        # the model's own name in what autogenerate says, as Alembic says it; the shortened one
        # is only what the comparison matches
        self.assertIn("Detected added index 'ix_%s_%s'" % (T40, C40), r.err)
        p.ok("upgrade", "head")
        if backend == "postgresql":
            names = sorted(r[0] for r in p.sql(
                "SELECT conname FROM pg_constraint WHERE conrelid = '%s'::regclass "
                "UNION SELECT indexname FROM pg_indexes WHERE tablename = '%s'" % (T40, T40)))
            self.assertEqual(names, LONG_PG)
        else:
            self.assertEqual(p.indexes(T40), ["ix_%s_%s" % (T40, C40)])
        r = p.ok("check")
        self.assertIn("No new upgrade operations detected.", r.out + r.err)
        p.ok("downgrade", "base")
        self.assertEqual(p.tables(), ["luamig_version"])


class LongExplicitName(OnBothDatabases, unittest.TestCase):
    """An index or constraint named explicitly past PostgreSQL's limit is refused in
    SQLAlchemy's words, online and in --sql, before the server would cut it short; the
    revision is rolled back. SQLite takes it."""

    def flow(self, backend):
        p = Project(self, backend)
        long_name = "i" * 70
        p.revision_file("a1", up='  op.create_table("z", sa.Column("id", sa.Integer))\n'
                        '  op.create_index("%s", "z", { "id" })' % long_name,
                        downgrade='  op.drop_table("z")')
        if backend == "sqlite":
            p.ok("upgrade", "head")
            self.assertEqual(p.indexes("z"), [long_name])
            return
        want = ("Identifier '%s' exceeds maximum length of 63 characters" % long_name)
        r = p.fails("upgrade", "head")
        self.assertIn("migrations/versions/0001_a1.lua:12: " + want, r.err)
        self.assertNotIn("z", p.tables())
        r = p.fails("upgrade", "head", "--sql")
        self.assertIn(want, r.err)
        # autogenerate refuses such a model's name as Alembic's comparison does, and writes no file
        os.remove(p.path("migrations/versions/0001_a1.lua"))
        p.write("migrations/env.lua", ENV_LUA)
        p.write("models.lua", HEAD + """\
sa.Table("y", md, sa.Column("id", sa.Integer, { primary_key = true }),
  sa.Index("%s", "id"))
return md
""" % long_name)
        r = p.fails("revision", "--autogenerate", "-m", "long", "--rev-id", "bbb000000002")
        self.assertEqual(r.err.splitlines()[-1], "FAILED: " + want)
        self.assertEqual(os.listdir(p.path("migrations/versions")), [])


if __name__ == "__main__":
    main()
