#!/usr/bin/env python3
"""Figures for `luamig convert` on real Alembic histories (not part of the test suite).

    python3 tests/convert/real_histories.py LUAMIG NAME=VERSIONS_DIR ...

For each versions folder (of a public project's snapshot, kept outside this repository):
converts it with `luamig convert -o` into a fresh luamig project, then upgrades a new SQLite
database one revision at a time (`luamig upgrade +1`) until head or the first failure.
Prints one row per project: revision files, files converted without a TODO, files refused
(a one-line error), revisions that ran on SQLite, and the first failure.
"""
import os
import re
import subprocess
import sys
import tempfile


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def project(luamig, name, versions):
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
        text = re.sub(r"(?m)^url = .*$", "url = sqlite:///%s/db.sqlite\ntransaction_per_migration = true" % tmp, text)
        open(ini, "w").write(text)
        ran, failure = 0, ""
        while True:
            heads = run([luamig, "heads"], tmp)
            if heads.returncode != 0:
                failure = heads.stderr.strip().splitlines()[-1] if heads.stderr.strip() else "heads failed"
                break
            cur = run([luamig, "current"], tmp)
            if "(head)" in cur.stdout and len(heads.stdout.split("\n")) <= 2:
                break
            up = run([luamig, "upgrade", "+1" if len(heads.stdout.strip().splitlines()) <= 1 else "heads"], tmp)
            if up.returncode != 0:
                lines = up.stderr.strip().splitlines()
                failure = lines[-1] if lines else "upgrade failed"
                break
            before = ran
            ran = len([l for l in run([luamig, "history", "-r", "base:current"], tmp).stdout.splitlines() if "->" in l])
            if ran == before:
                break
        return len(files), clean, len(refused), ran, failure


def main():
    luamig = os.path.abspath(sys.argv[1])
    print("| project | revision files | converted without TODO | refused | ran on SQLite | first failure |")
    print("|---|---|---|---|---|---|")
    for arg in sys.argv[2:]:
        name, versions = arg.split("=", 1)
        n, clean, refused, ran, failure = project(luamig, name, versions)
        print("| %s | %d | %d | %d | %d | %s |" % (name, n, clean, refused, ran, failure[:160].replace("|", "/")))


if __name__ == "__main__":
    main()
