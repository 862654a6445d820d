"""The example environment in migrations/ (the SQLModel heroes and teams)
round-trips: upgrade head, downgrade base — on SQLite as shipped, and on
PostgreSQL through its env.lua's LUAMIG_URL override."""
import os
import shutil
import unittest

import pg
from luamigtest import Project, backends, main, temp_dir, db_name

SRC = os.path.join(os.environ.get("LUAMIG_SOURCE_DIR", "."), "migrations")


class Example(unittest.TestCase):
    def copy(self):
        d = os.path.join(temp_dir(self, "example"), "migrations")
        shutil.copytree(SRC, d, ignore=shutil.ignore_patterns("*.db"))
        p = Project(self, "sqlite", init=False)
        p.dir = d
        p.db_path = os.path.join(d, "heroes.db")
        return p

    def test_round_trip_sqlite(self):
        p = self.copy()
        p.ok("upgrade", "head")
        self.assertEqual(p.tables(), ["hero", "luamig_version", "team"])
        self.assertEqual([c[0] for c in p.columns("hero")],
                         ["id", "name", "secret_name", "age", "team_id", "power_level"])
        self.assertEqual(p.indexes("hero"), ["ix_hero_age", "ix_hero_name"])
        fks = p.sql("PRAGMA foreign_key_list(hero)")
        self.assertEqual([(r[2], r[3], r[4]) for r in fks], [("team", "team_id", "id")])
        self.assertEqual(p.version_rows(), ["c5d7e9f1a325"])
        # the hand-written revisions agree with models.lua
        self.assertEqual(p.ok("check").out, "No new upgrade operations detected.\n")
        hist = p.ok("history").out.splitlines()
        self.assertEqual(hist[0], "8a4e6c0d2b13 -> c5d7e9f1a325 (head), add hero power level")
        p.ok("downgrade", "base")
        self.assertEqual(p.tables(), ["luamig_version"])
        self.assertEqual(p.version_rows(), [])

    def test_round_trip_postgresql(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")
        p = self.copy()
        name = db_name(self)
        url = pg.create_database(name)
        self.addCleanup(pg.drop_database, name)
        env = {"LUAMIG_URL": url}
        p.ok("upgrade", "head", env=env)
        tables = sorted(r[0] for r in pg.psql(url, "SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        self.assertEqual(tables, ["hero", "luamig_version", "team"])
        fk = pg.psql(url, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype='f'")
        self.assertEqual(fk, [("FOREIGN KEY (team_id) REFERENCES team(id)",)])
        self.assertEqual(pg.psql(url, "SELECT version_num FROM luamig_version"), [("c5d7e9f1a325",)])
        self.assertEqual(p.ok("check", env=env).out, "No new upgrade operations detected.\n")
        p.ok("downgrade", "base", env=env)
        tables = sorted(r[0] for r in pg.psql(url, "SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        self.assertEqual(tables, ["luamig_version"])


if __name__ == "__main__":
    main()
