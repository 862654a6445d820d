#!/usr/bin/env python3
"""Checks the listing commands' output (heads, branches, history, show,
current) against what Alembic printed for the same revisions.

usage: run_format.py --query PATH/TO/dag_query FIXTURE.json [...]

Fixtures (tests/conformance/format/*.json) are made by
tools/record_format.py from a spec_*.json with Debian's Alembic 1.8.1.
Output is compared exactly; where Alembic prints a Python set (branch
labels, "Branches into", the children in `branches`, the rows of
`current`) a difference in order only is reported as "soft".
"""
import json
import sys

SEP = "\x1f"


def lst(v):
    if v is None:
        v = []
    elif isinstance(v, str):
        v = [v]
    return "L" + SEP.join(v)


def query_for(res):
    """The dag_query line for one recorded command, or None to skip."""
    args = list(res["args"])
    cmd, rest = args[0], args[1:]
    verbose = "1" if "-v" in rest or "--verbose" in rest else "0"
    rows = res["rows"]
    if cmd == "heads":
        return ["fmt_heads", verbose, "1" if "--resolve-dependencies" in rest else "0"]
    if cmd == "branches":
        return ["fmt_branches", verbose]
    if cmd == "current":
        return ["fmt_current", verbose, lst(rows)]
    if cmd == "show":
        return ["fmt_show", rest[0], lst(rows)]
    if cmd == "history":
        rng = None
        for i, a in enumerate(rest):
            if a in ("-r", "--rev-range"):
                rng = rest[i + 1]
            elif a.startswith("-r") and len(a) > 2:
                rng = a[2:]
        lo, hi = rng.split(":") if rng else ("", "")
        if "current" in (lo, hi):
            if len(rows) != 1:
                return None
            lo = rows[0] if lo == "current" else lo
            hi = rows[0] if hi == "current" else hi
        indicate = "-i" in rest or "--indicate-current" in rest
        return ["fmt_history", verbose, lst(rows) if indicate else "-", lo or "base", hi or "heads"]
    return None


def unordered(text):
    out = []
    for line in text.splitlines():
        for key in ("Branch names: ", "Branches into: "):
            if line.startswith(key):
                line = key + ", ".join(sorted(line[len(key):].split(", ")))
        parts, cur, depth = [], "", 0
        for ch in line:
            if ch == "(":
                depth += 1
                parts.append(cur)
                cur = ""
            elif ch == ")" and depth:
                depth -= 1
                parts.append("(" + ", ".join(sorted(cur.split(", "))) + ")")
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        out.append("".join(parts))
    return sorted(out)


def main(argv):
    if len(argv) < 3 or argv[0] != "--query":
        print(__doc__)
        return 2
    import subprocess
    ok = True
    for path in argv[2:]:
        fx = json.load(open(path))
        lines = []
        for r in fx["dag"]:
            doc = r.get("doc", r["message"])
            lines.append("\t".join(["R", r["revision"], lst(r["down_revision"]),
                                    lst(r["branch_labels"]), lst(r["depends_on"]),
                                    r["message"] or "", (doc or "").replace("\n", "\x1e"),
                                    fx["paths"][r["revision"]]]))
        lines.append("BUILD")
        todo = []
        for res in fx["results"]:
            q = query_for(res)
            if q is not None:
                todo.append(res)
                lines.append("\t".join(["Q"] + q))
        proc = subprocess.run([argv[1]], input="\n".join(lines) + "\n", capture_output=True,
                              text=True)
        out = [json.loads(x) for x in proc.stdout.splitlines()]
        if proc.returncode != 0 or not out or not out[0]["load"]["ok"]:
            print("%s: dag_query failed: %s %s" % (path, proc.stderr[-1000:], out[:1]))
            ok = False
            continue
        exact = soft = bad = 0
        for res, mine in zip(todo, out[1:]):
            want = res["stdout"]
            if res["args"][0] == "current" and ("-v" in res["args"] or "--verbose" in res["args"]):
                want = "".join(want.splitlines(True)[1:])  # "Current revision(s) for <url>:"
            if res["rc"] != 0:
                good = not mine["ok"]
                verdict = "exact" if good else "bad"
            elif not mine["ok"]:
                verdict = "bad"
            elif mine["text"] == want:
                verdict = "exact"
            elif unordered(mine["text"]) == unordered(want):
                verdict = "soft"
            else:
                verdict = "bad"
            if verdict == "exact":
                exact += 1
            elif verdict == "soft":
                soft += 1
            else:
                bad += 1
                print("   %s %s\n      alembic: %r\n      luamig:  %r" % (
                    res["name"], res["args"], want, mine.get("text", mine)))
        print("%-36s %5d commands: %5d exact, %4d soft, %4d differ" % (
            fx.get("case", path.rsplit("/", 1)[-1]), len(todo), exact, soft, bad))
        ok = ok and bad == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
