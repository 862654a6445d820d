"""Offline mode (--sql): the script Alembic would print, and piping it into
sqlite3 / psql leaves the same schema and version rows as the online run."""
import os
import subprocess
import unittest

import pg
from luamigtest import Project, backends, main

R1 = '''  local account = op.create_table("account",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("name", sa.String(50), { nullable = false }),
    sa.Column("note", sa.Text, { server_default = "it's" }))
  op.create_index("ix_account_name", "account", { "name" }, { unique = true })
  op.bulk_insert(account, { { id = 1, name = "a" }, { id = 2, name = "b'c" } })'''
R1_DOWN = '''  op.drop_index("ix_account_name", { table_name = "account" })
  op.drop_table("account")'''
R2 = '''  op.add_column("account", sa.Column("email", sa.String(100)))
  op.execute("UPDATE account SET email = :e WHERE id = :i", { e = "x@y", i = 1 })'''
R2_DOWN = '''  op.drop_column("account", "email")'''
R3 = '''  op.create_table("tag",
    sa.Column("id", sa.Integer, { primary_key = true }),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id")),
    sa.UniqueConstraint("account_id", { name = "uq_tag_account" }))'''
R3_DOWN = '''  op.drop_table("tag")'''


def build(test, backend):
    p = Project(test, backend)
    p.revision_file("aaaa1111", up=R1, downgrade=R1_DOWN, message="create account")
    p.revision_file("bbbb2222", down="aaaa1111", up=R2, downgrade=R2_DOWN, message="add email")
    p.revision_file("cccc3333", down="bbbb2222", up=R3, downgrade=R3_DOWN, message="tags")
    return p


def pipe(p, script):
    """Runs an offline script with the database's own client."""
    if p.backend == "sqlite":
        r = subprocess.run(["sqlite3", "-bail", p.db_path], input=script, text=True,
                           capture_output=True)
    else:
        r = subprocess.run([pg._psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", p.url,
                            "-f", "-"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        raise AssertionError("client failed: %s\n%s" % (r.stderr, script))


def schema(p):
    """The catalog dump; SQLite keeps each CREATE statement's text, where
    online DDL is indented with tabs and offline DDL with four spaces, as in
    Alembic: compare that text with tabs expanded."""
    if p.backend != "sqlite":
        return p.schema()
    return [tuple(v.replace("\t", "    ") if isinstance(v, str) else v for v in row)
            for row in p.schema()]


class Offline(unittest.TestCase):
    def test_upgrade_sql_text_sqlite(self):
        p = build(self, "sqlite")
        r = p.ok("upgrade", "aaaa1111", "--sql")
        self.assertEqual(r.out, (
            "BEGIN;\n\n"
            "CREATE TABLE luamig_version (\n    version_num VARCHAR(32) NOT NULL, \n"
            "    CONSTRAINT luamig_version_pkc PRIMARY KEY (version_num)\n);\n\n"
            "-- Running upgrade  -> aaaa1111\n\n"
            "CREATE TABLE account (\n    id INTEGER NOT NULL, \n    name VARCHAR(50) NOT NULL, \n"
            "    note TEXT DEFAULT 'it''s', \n    PRIMARY KEY (id)\n);\n\n"
            "CREATE UNIQUE INDEX ix_account_name ON account (name);\n\n"
            "INSERT INTO account (id, name) VALUES (1, 'a');\n\n"
            "INSERT INTO account (id, name) VALUES (2, 'b''c');\n\n"
            "INSERT INTO luamig_version (version_num) VALUES ('aaaa1111');\n\n"
            "COMMIT;\n\n"))
        # offline mode never touches the database
        self.assertFalse(os.path.exists(p.db_path))
        self.assertIn("Running upgrade  -> aaaa1111, create account", r.err)

    def test_downgrade_and_stamp_sql_text(self):
        p = build(self, "sqlite")
        r = p.ok("downgrade", "cccc3333:aaaa1111", "--sql")
        self.assertEqual(r.out, (
            "BEGIN;\n\n"
            "-- Running downgrade cccc3333 -> bbbb2222\n\n"
            "DROP TABLE tag;\n\n"
            "UPDATE luamig_version SET version_num='bbbb2222' WHERE luamig_version.version_num = 'cccc3333';\n\n"
            "-- Running downgrade bbbb2222 -> aaaa1111\n\n"
            "ALTER TABLE account DROP COLUMN email;\n\n"
            "UPDATE luamig_version SET version_num='aaaa1111' WHERE luamig_version.version_num = 'bbbb2222';\n\n"
            "COMMIT;\n\n"))
        r = p.ok("stamp", "bbbb2222:cccc3333", "--sql")
        self.assertEqual(r.out, (
            "BEGIN;\n\n"
            "-- Running stamp_revision bbbb2222 -> cccc3333\n\n"
            "UPDATE luamig_version SET version_num='cccc3333' WHERE luamig_version.version_num = 'bbbb2222';\n\n"
            "COMMIT;\n\n"))
        r = p.fails("stamp", "--sql", "--purge", "head")
        self.assertIn("FAILED: Can't use --purge with --sql mode", r.err)

    def test_per_migration_transactions_offline(self):
        p = build(self, "sqlite")
        p.set_option("transaction_per_migration", "true")
        out = p.ok("upgrade", "bbbb2222", "--sql").out
        self.assertEqual(out.count("BEGIN;"), 2)
        self.assertEqual(out.count("COMMIT;"), 2)
        self.assertTrue(out.startswith("BEGIN;\n\nCREATE TABLE luamig_version"), out)

    def test_piped_script_equals_online_run(self):
        for backend in backends():
            with self.subTest(backend=backend):
                online = build(self, backend)
                online.ok("upgrade", "head")
                offline = build(self, backend)
                script = offline.ok("upgrade", "head", "--sql").out
                pipe(offline, script)
                self.assertEqual(schema(offline), schema(online))
                self.assertEqual(offline.version_rows(), ["cccc3333"])
                self.assertEqual(sorted(offline.sql("SELECT id, name, email FROM account")),
                                 sorted(online.sql("SELECT id, name, email FROM account")))

                online.ok("downgrade", "aaaa1111")
                script = offline.ok("downgrade", "cccc3333:aaaa1111", "--sql").out
                pipe(offline, script)
                self.assertEqual(schema(offline), schema(online))
                self.assertEqual(offline.version_rows(), online.version_rows())

                online.ok("downgrade", "base")
                script = offline.ok("downgrade", "aaaa1111:base", "--sql").out
                pipe(offline, script)
                self.assertEqual(schema(offline), schema(online))
                self.assertEqual(offline.version_rows(), [])

    def test_output_buffer_in_env(self):
        p = build(self, "sqlite")
        env = p.read("migrations/env.lua").replace(
            "    literal_binds = true,",
            '    literal_binds = true,\n    output_buffer = io.open("out.sql", "w"),')
        p.write("migrations/env.lua", env)
        r = p.ok("upgrade", "aaaa1111", "--sql")
        self.assertEqual(r.out, "")
        text = p.read("out.sql")
        self.assertIn("-- Running upgrade  -> aaaa1111", text)

    def test_ops_name_by_target_metadatas_convention(self):
        """As Alembic builds each op's constraint on a MetaData with target_metadata's naming
        convention: an unnamed one is named, a name is expanded where the template holds
        %(constraint_name)s (drop_constraint by its type_ too); without a target_metadata,
        SQLAlchemy's default names an unnamed index. The statements are Alembic 1.8.1's,
        recorded from its offline output on PostgreSQL."""
        p = Project(self, "postgresql", url="postgresql://u@h/db")
        p.write("models.lua", 'local sa = require "luamig.sa"\nreturn sa.MetaData { naming_convention '
                '= { ck = "ck_%(table_name)s_%(constraint_name)s", uq = "uq_%(table_name)s_'
                '%(column_0_name)s", pk = "pk_%(table_name)s", fk = "fk_%(table_name)s_'
                '%(column_0_name)s_%(referred_table_name)s" } }\n')
        p.use_models(target='os.getenv("NO_MODELS") == nil and require "models" or nil')
        p.revision_file("aaaa1111", up="\n".join([
            '  op.create_check_constraint("positive", "t", "x > 0")',
            '  op.create_unique_constraint(nil, "t", { "x" })',
            '  op.create_primary_key(nil, "t", { "id" })',
            '  op.create_foreign_key(nil, "t", "p", { "p_id" }, { "id" })',
            '  op.create_index("ix_named", "t", { "y" })',
            '  op.drop_constraint("positive", "t", { type_ = "check" })',
            '  op.drop_constraint("uq_t_x", "t", { type_ = "unique" })']))
        p.revision_file("bbbb2222", down="aaaa1111", up='  op.create_index(nil, "t", { "x" })')
        out = p.ok("upgrade", "aaaa1111", "--sql").out
        for line in ("ALTER TABLE t ADD CONSTRAINT ck_t_positive CHECK (x > 0);",
                     "ALTER TABLE t ADD CONSTRAINT uq_t_x UNIQUE (x);",
                     "ALTER TABLE t ADD CONSTRAINT pk_t PRIMARY KEY (id);",
                     "ALTER TABLE t ADD CONSTRAINT fk_t_p_id_p FOREIGN KEY(p_id) REFERENCES p (id);",
                     "CREATE INDEX ix_named ON t (y);",
                     "ALTER TABLE t DROP CONSTRAINT ck_t_positive;",
                     "ALTER TABLE t DROP CONSTRAINT uq_t_x;"):
            self.assertIn("\n" + line + "\n", out)
        out = p.ok("upgrade", "aaaa1111:bbbb2222", "--sql", env={"NO_MODELS": "1"}).out
        self.assertIn("\nCREATE INDEX ix_t_x ON t (x);\n", out)


if __name__ == "__main__":
    main()
