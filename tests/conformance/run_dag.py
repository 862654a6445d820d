#!/usr/bin/env python3
"""Checks luamig's revision DAG against answers recorded from Alembic 1.8.1.

usage: run_dag.py --query PATH/TO/dag_query [-v] CASE.json [CASE.json ...]

Each case (tests/conformance/dag/*.json, format in that folder's README) is
fed to dag_query, which answers every query through core/revmap.h,
core/plan.h and core/listing.h; the answers are compared with Alembic's:

  stable queries    exactly (ok, value / steps with version-table ops,
                    heads after, warnings, error message); where Alembic
                    crashed (error.internal) luamig only has to fail;
  unstable queries  equal to the answer or one of alt_answers, or else the
                    semantic check of the README ("soft" agreement).

Prints one summary line per case; exits 1 if any query disagrees.
"""
import json
import os
import subprocess
import sys

KNOWN = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "dag_known_differences.json")))

SEP = "\x1f"


def lst(v):
    if v is None:
        v = []
    elif isinstance(v, str):
        v = [v]
    return "L" + SEP.join(v)


def case_input(case):
    lines = []
    for r in case["dag"]:
        msg = (r.get("message") or "").replace("\t", " ").replace("\n", " ")
        lines.append("\t".join(["R", r["revision"], lst(r["down_revision"]),
                                lst(r["branch_labels"]), lst(r["depends_on"]), msg]))
    lines.append("BUILD")
    for q in case["queries"]:
        op = q["op"]
        if op == "heads_cmd":
            args = ["1" if q.get("resolve_dependencies") else "0"]
        elif op == "history":
            rng = q.get("range")
            if rng is None:
                lo, hi = "base", "heads"
            else:
                lo, hi = rng.strip().split(":")
            args = [lo or "base", hi or "heads"]
        elif op in ("resolve", "resolve_one"):
            args = [q["id"]]
        elif op in ("upgrade", "downgrade"):
            args = [lst(q["current"]), q["target"]]
        elif op == "stamp":
            args = [lst(q["current"]), lst(q["target"]), "1" if q.get("purge") else "0"]
        else:
            args = []
        lines.append("\t".join(["Q", op] + args))
    return "\n".join(lines) + "\n"


def resolved_answers(queries, i):
    """The answer and alt_answers of query i, following same_as."""
    q = queries[i]
    a = q["answer"]
    if isinstance(a, dict) and "same_as" in a:
        return resolved_answers(queries, a["same_as"])
    return [a] + list(q.get("alt_answers") or [])


def expected_log(dag, step, is_up):
    """The formula of the conformance README for a revision step's log text."""
    rev = dag[step["rev"]]
    down = rev["down_revision"]
    down = [] if down is None else [down] if isinstance(down, str) else down
    frm, to = (down, [step["rev"]]) if is_up else ([step["rev"]], down)
    text = "%s %s -> %s" % ("upgrade" if is_up else "downgrade", ", ".join(frm), ", ".join(to))
    if rev.get("message"):
        text += ", " + rev["message"]
    return text


def normalize(op, a, dag=None):
    """A comparable form of an answer (recorded or luamig's)."""
    if not a.get("ok"):
        return {"ok": False, "message": a["error"].get("message"),
                "warnings": a.get("warnings") or []}
    if op in ("upgrade", "downgrade", "stamp"):
        steps = []
        for s in a["steps"]:
            s = dict(s)
            s.pop("log", None)
            steps.append(s)
        return {"ok": True, "steps": steps, "heads_after": sorted(a.get("heads_after", [])),
                "warnings": a.get("warnings") or []}
    if "text" in a:
        return {"ok": True, "value": a["text"].splitlines()}
    v = a["value"]
    if op == "history" and "text" in v:
        v = {"revisions": v["revisions"], "lines": v["text"].splitlines()}
    if op == "revision_info":
        v = {k: dict(info, nextrev=sorted(info["nextrev"]),
                     all_nextrev=sorted(info["all_nextrev"]),
                     branch_labels=sorted(info["branch_labels"]))
             for k, info in v.items()}
    return {"ok": True, "value": v}


def replay(current, steps):
    heads = set(current)
    seq = []
    for s in steps:
        for op in s["ops"]:
            p = op.split()
            if p[0] == "insert":
                heads.add(p[1])
            elif p[0] == "delete":
                heads.discard(p[1])
            else:
                heads.discard(p[1])
                heads.add(p[2])
        seq.append(frozenset(heads))
    return seq


def unordered_line(line):
    # Parenthesised lists ("(a, b)") and comma lists are Python-set ordered
    # in Alembic's output: compare their items as sets.
    out, depth, cur = [], 0, ""
    for ch in line:
        if ch == "(":
            depth += 1
            out.append(cur)
            cur = ""
        elif ch == ")" and depth:
            depth -= 1
            out.append("(" + ", ".join(sorted(cur.split(", "))) + ")")
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return "".join(out)


def semantic(op, q, mine, ref):
    if mine["ok"] != ref["ok"]:
        return False
    if not ref["ok"]:
        return True
    if op in ("upgrade", "downgrade", "stamp"):
        def key(s):
            if s.get("stamp"):
                return (s["dir"], tuple(sorted(s["from"])), tuple(s["to"]))
            return (s["dir"], s["rev"])
        if sorted(map(key, mine["steps"])) != sorted(map(key, ref["steps"])):
            return False
        if replay(q["current"], mine["steps"]) != replay(q["current"], ref["steps"]):
            return False
        return mine["heads_after"] == ref["heads_after"]
    mv, rv = mine["value"], ref["value"]
    if op == "history":
        return (sorted(mv["revisions"]) == sorted(rv["revisions"]) and
                sorted(map(unordered_line, mv["lines"])) ==
                sorted(map(unordered_line, rv["lines"])))
    if op == "revision_info":
        if set(mv) != set(rv):
            return False
        for k in mv:
            a, b = dict(mv[k]), dict(rv[k])
            a["normalized_down_revisions"] = sorted(a["normalized_down_revisions"])
            b["normalized_down_revisions"] = sorted(b["normalized_down_revisions"])
            if a != b:
                return False
        return True
    if isinstance(mv, list):
        return (sorted(map(lambda x: unordered_line(x) if isinstance(x, str) else str(x), mv)) ==
                sorted(map(lambda x: unordered_line(x) if isinstance(x, str) else str(x), rv)))
    return mv == rv


def check_case(query_bin, path, verbose):
    case = json.load(open(path))
    known = KNOWN.get(case["case"], {})
    dag = {r["revision"]: r for r in case["dag"]}
    proc = subprocess.run([query_bin], input=case_input(case), capture_output=True, text=True)
    if proc.returncode != 0:
        print("%s: dag_query exited %d: %s" % (case["case"], proc.returncode, proc.stderr[-2000:]))
        return False
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    load = out[0]["load"]
    expected_load = case["load"]
    if not expected_load["ok"]:
        variants = [expected_load["error"]] + [alt["error"] for alt in
                                                expected_load.get("alt_answers", [])]
        internal = expected_load["error"].get("internal")
        good = not load["ok"] and (internal or load["message"] in [v["message"] for v in variants])
        print("%-36s load error   %s   luamig: %s" % (case["case"], "agrees" if good else "DIFFERS",
                                                    load.get("message")))
        return good
    if not load["ok"]:
        print("%s: luamig refused to load: %s" % (case["case"], load["message"]))
        return False

    exact = soft = bad = knowndiff = 0
    report = []
    for i, q in enumerate(case["queries"]):
        mine_raw = out[1 + i]
        op = q["op"]
        refs = resolved_answers(case["queries"], i)
        mine = normalize(op, mine_raw)
        # Log lines must follow the README's formula.
        log_ok = True
        if mine_raw.get("ok") and op in ("upgrade", "downgrade"):
            for s in mine_raw["steps"]:
                if s["log"] != expected_log(dag, s, s["dir"] == "up"):
                    log_ok = False
        if op in ("upgrade", "downgrade", "stamp") and mine["ok"]:
            heads = sorted(replay(q["current"], mine_raw["steps"])[-1]) if mine_raw["steps"] \
                else sorted(set(q["current"]))
            mine["heads_after"] = heads
        normed = [normalize(op, r) for r in refs]
        internal = not refs[0].get("ok") and refs[0]["error"].get("internal")
        if internal:
            verdict = "exact" if not mine["ok"] else "bad"
        elif mine in normed:
            verdict = "exact"
        elif not q["stable"] and semantic(op, q, mine, normed[0]):
            verdict = "soft"
        else:
            verdict = "bad"
        if not log_ok:
            verdict = "bad"
        if verdict == "bad" and str(i) in known and semantic(op, q, mine, normed[0]):
            verdict = "known"
        if verdict == "exact":
            exact += 1
        elif verdict == "known":
            knowndiff += 1
        elif verdict == "soft":
            soft += 1
        else:
            bad += 1
            report.append((i, q, mine, normed[0]))
    n = len(case["queries"])
    print("%-36s %5d queries: %5d exact, %4d soft, %4d differ%s" % (
        case["case"], n, exact, soft, bad,
        ", %d known difference(s)" % knowndiff if knowndiff else ""))
    for i, q, mine, ref in report[: (1000 if verbose else 5)]:
        qd = {k: v for k, v in q.items() if k not in ("answer", "alt_answers")}
        print("   #%d %s" % (i, json.dumps(qd)))
        print("      alembic: %s" % json.dumps(ref))
        print("      luamig:  %s" % json.dumps(mine))
    return bad == 0


def main(argv):
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    if len(argv) < 3 or argv[0] != "--query":
        print(__doc__)
        return 2
    query_bin, cases = argv[1], argv[2:]
    ok = True
    for path in cases:
        ok = check_case(query_bin, path, verbose) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
