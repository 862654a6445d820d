"""PostgreSQL specifics: schemas (schema= on ops, version_table_schema),
quoting of reserved words and mixed case, +driver URLs, and URL forms."""
import unittest

import pg
from luamigtest import Project, backends, main

REV = '''  op.create_table("User",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("order", sa.String(10)), { schema = "app" })
  op.create_index("ix_user_order", "User", { "order" }, { schema = "app" })
  op.add_column("User", sa.Column("Select", sa.Integer), { schema = "app" })'''


class PostgreSQL(unittest.TestCase):
    def setUp(self):
        if "postgresql" not in backends():
            self.skipTest("PostgreSQL not available")

    def test_schemas_and_quoting(self):
        p = Project(self, "postgresql")
        p.sql("CREATE SCHEMA app")
        p.set_option("version_table_schema", "app")
        p.revision_file("a1", up=REV, downgrade='  op.drop_table("User", { schema = "app" })')
        out = p.ok("upgrade", "head", "--sql").out
        self.assertIn('CREATE TABLE app."User" (\n    id SERIAL NOT NULL, \n    "order" VARCHAR(10), ', out)
        self.assertIn('CREATE INDEX ix_user_order ON app."User" ("order");', out)
        self.assertIn("INSERT INTO app.luamig_version (version_num) VALUES ('a1');", out)
        p.ok("upgrade", "head")
        tables = sorted(p.sql("SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'app'"))
        self.assertEqual(tables, [("app", "User"), ("app", "luamig_version")])
        cols = p.sql("SELECT column_name FROM information_schema.columns WHERE table_schema='app' "
                     "AND table_name='User' ORDER BY ordinal_position")
        self.assertEqual([c[0] for c in cols], ["id", "order", "Select"])
        self.assertEqual(p.ok("current").out, "a1 (head)\n")
        self.assertNotIn("luamig_version", p.tables())   # nothing in public
        p.ok("downgrade", "base")
        self.assertEqual(p.sql("SELECT count(*) FROM app.luamig_version"), [("0",)])
        self.assertEqual(p.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'User'"), [("0",)])

    def test_pg_environment_variables_and_libpq_parameters(self):
        p = Project(self, "postgresql")
        info = pg.info()
        name = p.url.split("/")[3].split("?")[0]
        p.set_option("url", "postgresql:///%s?connect_timeout=5&sslmode=disable" % name)
        p.revision_file("a1", up='  op.execute("CREATE TABLE t (x INTEGER)")')
        env = {"PGHOST": info["LUAMIG_TEST_PG_HOST"], "PGPORT": info["LUAMIG_TEST_PG_PORT"],
               "PGUSER": info.get("LUAMIG_TEST_PG_USER", "postgres")}
        p.ok("upgrade", "head", env=env)
        self.assertEqual(p.version_rows(), ["a1"])
        # without them libpq looks elsewhere and the failure says so, in one line
        r = p.fails("current", env={"PGHOST": "/nonexistent", "PGPORT": "1"})
        self.assertIn("could not connect", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1)

    def test_driver_suffix_and_tcp_password_urls(self):
        p = Project(self, "postgresql")
        name = p.url.split("/")[3].split("?")[0]
        owned = name[:50] + "_pw"
        pg.create_database(owned, owner="luamig_pw")
        self.addCleanup(pg.drop_database, owned)
        for url in (pg.url(name, driver="psycopg2"), pg.url(owned, password=True, tcp=True)):
            p.set_option("url", url)
            p.revision_file("a1", up='  op.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")',
                            name="0001_a1.lua")
            p.ok("upgrade", "head")
            r = p.ok("current", "-v")
            self.assertIn("Current revision(s) for postgresql", r.out)
            self.assertNotIn(pg.password(), r.out + r.err)
            if "luamig_pw" in url:
                self.assertIn("luamig_pw:***@127.0.0.1", r.out)
            p.ok("downgrade", "base")


if __name__ == "__main__":
    main()
