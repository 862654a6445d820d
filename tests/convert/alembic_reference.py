#!/usr/bin/python3
"""Runs tests/convert/history with the real Alembic (by hand; not part of the test suite).

    /usr/bin/python3 tests/convert/alembic_reference.py URL
    /usr/bin/python3 tests/convert/alembic_reference.py --inspect URL [VERSION_TABLE]
      (the same dump of a database luamig upgraded, to diff with the first)

Needs Debian's python3-alembic (Alembic 1.8.1, SQLAlchemy 1.4). The application modules the
last revision imports (myapp) are stubbed so that Alembic can load it; its data loop finds no
rows. Prints the schema Alembic leaves (tables with their columns, indexes, unique and check
constraints and foreign keys, by SQLAlchemy's inspector) and the version rows, in the form
test_convert.py's facts take.
"""
import os
import shutil
import sys
import tempfile
import types

from alembic import command
from alembic.config import Config
import sqlalchemy as sa

HERE = os.path.dirname(os.path.abspath(__file__))


def stub_myapp():
    myapp = types.ModuleType("myapp")
    models = types.ModuleType("myapp.models")
    text = types.ModuleType("myapp.text")

    class Query:
        def all(self):
            return []

    class Session:
        def query(self, *a):
            return Query()

        def commit(self):
            pass

    models.Post = object
    models.db = types.SimpleNamespace(session=Session())
    text.slugify = lambda s: s
    sys.modules.update({"myapp": myapp, "myapp.models": models, "myapp.text": text})


def main():
    if sys.argv[1] == "--inspect":
        dump(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "alembic_version")
        return
    url = sys.argv[1]
    stub_myapp()
    tmp = tempfile.mkdtemp()
    try:
        script = os.path.join(tmp, "alembic")
        ini = os.path.join(tmp, "alembic.ini")
        cfg = Config(ini)
        command.init(cfg, script)
        cfg = Config(ini)
        cfg.set_main_option("script_location", script)
        cfg.set_main_option("sqlalchemy.url", url)
        os.rmdir(os.path.join(script, "versions"))
        shutil.copytree(os.path.join(HERE, "history"), os.path.join(script, "versions"))
        command.upgrade(cfg, "heads")
        dump(url, "alembic_version")
    finally:
        shutil.rmtree(tmp)


def dump(url, version_table):
    engine = schema(url)
    with engine.connect() as conn:
        print("versions", sorted(r[0] for r in conn.execute(sa.text("SELECT version_num FROM " + version_table))))
        print("tags", [tuple(r) for r in conn.execute(sa.text("SELECT id, name, weight FROM tags ORDER BY id"))])


def schema(url, primary_keys=False):
    """Prints the tables (with primary_keys, each table's primary key too); returns the engine."""
    engine = sa.create_engine(url)
    insp = sa.inspect(engine)
    for t in sorted(set(insp.get_table_names()) - {"alembic_version", "luamig_version", "luamig_history"}):
        print("table", t)
        if primary_keys:
            pk = insp.get_pk_constraint(t)
            print("  pk", pk.get("name"), pk["constrained_columns"])
        for c in insp.get_columns(t):
            print("  column", c["name"], c["type"], "NULL" if c["nullable"] else "NOT NULL",
                  "default=%s" % c.get("default"))
        for i in sorted(insp.get_indexes(t), key=lambda i: i["name"]):
            print("  index", i["name"], i["column_names"], "unique" if i["unique"] else "")
        for u in sorted(insp.get_unique_constraints(t), key=lambda u: str(u["name"])):
            print("  unique", u["name"], u["column_names"])
        for f in insp.get_foreign_keys(t):
            print("  fk", f["name"], f["constrained_columns"], f["referred_table"],
                  f["referred_columns"], f.get("options"))
        for c in insp.get_check_constraints(t):
            print("  check", c["name"], c["sqltext"])
    return engine


if __name__ == "__main__":
    main()
