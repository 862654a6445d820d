#!/usr/bin/env python3
"""Records what Alembic's listing commands print, for run_format.py.

usage: record_format.py SPEC.json OUT.json   (needs Alembic: Debian's python3-alembic)

SPEC has "dag" (revision entries as in dag/*.json, plus an optional "doc":
the whole docstring, null for none) and "commands": [name, [alembic args]]
pairs, where ["__rows__", id...] sets the alembic_version rows for the
commands after it. A throwaway project is made in a temporary directory.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

PY = os.environ.get("ALEMBIC_PYTHON", "/usr/bin/python3")


def lit(v):
    if v is None:
        return "None"
    if isinstance(v, list):
        return repr(v[0]) if len(v) == 1 else repr(tuple(v))
    return repr(v)


def main(spec_path, out_path):
    spec = json.load(open(spec_path))
    root = tempfile.mkdtemp(prefix="luamig-fmt-")
    subprocess.run([PY, "-m", "alembic", "init", "migrations"], cwd=root, check=True,
                   capture_output=True)
    ini_path = os.path.join(root, "alembic.ini")
    ini = open(ini_path).read().replace("driver://user:pass@localhost/dbname", "sqlite:///app.db")
    open(ini_path, "w").write(ini)
    vdir = os.path.join(root, "migrations", "versions")
    paths = {}
    for i, r in enumerate(spec["dag"]):
        path = os.path.join(vdir, "%04d_%s.py" % (i, r["revision"]))
        doc = r.get("doc", r["message"])
        src = '"""%s\n"""\n' % doc if doc is not None else ""
        src += "revision = %r\ndown_revision = %s\nbranch_labels = %s\ndepends_on = %s\n" % (
            r["revision"], lit(r["down_revision"]), lit(r["branch_labels"]), lit(r["depends_on"]))
        src += "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
        open(path, "w").write(src)
        paths[r["revision"]] = path
    results = []
    rows = []
    for name, args in spec["commands"]:
        if args[0] == "__rows__":
            rows = args[1:]
            db = sqlite3.connect(os.path.join(root, "app.db"))
            db.execute("create table if not exists alembic_version "
                       "(version_num varchar(32) not null primary key)")
            db.execute("delete from alembic_version")
            for r in rows:
                db.execute("insert into alembic_version values (?)", (r,))
            db.commit()
            db.close()
            continue
        p = subprocess.run([PY, "-m", "alembic"] + args, cwd=root, capture_output=True, text=True)
        results.append({"name": name, "args": args, "rows": rows, "rc": p.returncode,
                        "stdout": p.stdout})
    json.dump({"format": "luamig-format-oracle/1",
               "alembic": subprocess.run([PY, "-m", "alembic", "--version"], capture_output=True,
                                         text=True).stdout.strip(),
               "dag": spec["dag"], "paths": paths, "results": results},
              open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
