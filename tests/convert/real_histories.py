#!/usr/bin/env python3
"""Figures for `luamig convert` on real Alembic histories (not part of the test suite).

    python3 tests/convert/real_histories.py LUAMIG [--pg postgresql://user@host:port] NAME=VERSIONS_DIR ...

For each versions folder (of a public project's snapshot, kept outside this repository):
converts it with `luamig convert -o` into a fresh luamig project, then runs `luamig upgrade
heads` on a new SQLite database with one transaction per migration, and counts the revisions
that ran (the audit history) before the first failure.
With --pg, the same on a fresh PostgreSQL database of that server (made and dropped with
psql). Prints one row per project and database: revision files, files converted without a
TODO, files refused (a one-line error), revisions that ran, and the first failure.
"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def psql(server, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server + "/postgres", "-c", sql],
                   check=True, capture_output=True)


def project(luamig, name, versions, server=None):
    files = sorted(f for f in os.listdir(versions) if f.endswith(".py") and f != "__init__.py")
    with tempfile.TemporaryDirectory() as tmp:
        r = run([luamig, "init", "migrations"], tmp)
        assert r.returncode == 0, r.stderr
        out = os.path.join(tmp, "migrations", "versions")
        conv = run([luamig, "convert", "-o", out, os.path.abspath(versions)], tmp)
        todo_files, refused = set(), set()
        for line in conv.stderr.splitlines():
            path = line.split(":", 1)[0]
            if "luamig convert: TODO" in line:
                todo_files.add(path)
            else:
                refused.add(path)
        clean = len(files) - len(todo_files | refused)
        ini = os.path.join(tmp, "luamig.ini")
        text = open(ini).read()
        if server:
            db = "cv_" + re.sub(r"[^a-z0-9]", "_", name.lower())
            psql(server, "DROP DATABASE IF EXISTS %s" % db)
            psql(server, "CREATE DATABASE %s" % db)
            url = "%s/%s" % (server, db)
        else:
            url = "sqlite:///%s/db.sqlite" % tmp
        text = re.sub(r"(?m)^url = .*$", "url = %s\ntransaction_per_migration = true" % url, text)
        open(ini, "w").write(text)
        failure = ""
        up = run([luamig, "upgrade", "heads"], tmp)
        if up.returncode != 0:
            lines = up.stderr.strip().splitlines()
            failure = lines[-1] if lines else "upgrade failed"
        # each migration commits alone: the audit history counts the revisions that ran
        query = "SELECT COUNT(DISTINCT revision) FROM luamig_history WHERE success AND operation = 'upgrade'"
        if server:
            out = subprocess.run(["psql", "-At", url, "-c", query], capture_output=True, text=True)
            ran = int(out.stdout.strip() or 0)
        else:
            con = sqlite3.connect(os.path.join(tmp, "db.sqlite"))
            try:
                ran = con.execute(query).fetchone()[0]
            except sqlite3.Error:
                ran = 0
            con.close()
        if server:
            psql(server, "DROP DATABASE IF EXISTS %s" % db)
        return len(files), clean, len(refused), ran, failure


def main():
    luamig = os.path.abspath(sys.argv[1])
    args = sys.argv[2:]
    server = None
    if args and args[0] == "--pg":
        server, args = args[1], args[2:]
    print("| project | database | revision files | converted without TODO | refused | ran | first failure |")
    print("|---|---|---|---|---|---|---|")
    for arg in args:
        name, versions = arg.split("=", 1)
        for srv in [None] + ([server] if server else []):
            n, clean, refused, ran, failure = project(luamig, name, versions, srv)
            print("| %s | %s | %d | %d | %d | %d | %s |" % (name, "PostgreSQL" if srv else "SQLite", n, clean,
                                                          refused, ran, failure[:160].replace("|", "/")), flush=True)


if __name__ == "__main__":
    main()
