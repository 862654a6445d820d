#!/usr/bin/env python3
"""luamig benchmark: luamig against the raw database clients and against Alembic.

    python3 tests/bench/bench.py [--luamig PATH] [--out FILE] [options]

Generates histories (100, 1,000, 10,000 linear revisions and a branchy one),
writes each as a luamig project and as the equivalent Alembic project, times
whole-process commands (hyperfine when installed, a Python loop otherwise),
measures peak memory (/usr/bin/time -f %M, or os.wait4), and prints a Markdown
table that it also writes to --out. Standard library only. Not part of the
test suite: nothing here passes or fails a build.

See tests/bench/README.md for what each row means.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gen  # noqa: E402

MIB = 1024 * 1024
# A command whose first run takes longer than this is timed by the Python loop
# (that first run counts as a sample) rather than by hyperfine.
SLOW_S = 3.0
# Targets (see README.md).
HYPERFINE_MAX_COMMAND = 120 * 1024
T_UPGRADE_VS_LIMIT = 1.3          # upgrade head / SQLite, 100 and 1,000 revisions and branchy
T_UPGRADE_VS_LIMIT_LARGE = 1.2    # ... and at 10,000 revisions
T_UPGRADE_LARGE_N = 10000
T_UPGRADE_VS_LIMIT_PG = 1.5       # upgrade head / PostgreSQL (the targets are SQLite's)
T_CURRENT_VS_LIMIT = 1.3          # current / SQLite at 1,000 revisions vs the single SELECT
T_LISTING_VS_STAT = 1.5           # heads, history at 1,000 revisions vs stat-ing the files
T_READONLY_VS_ALEMBIC = 100.0
T_READONLY_N = 1000
T_AUTOGEN_VS_ALEMBIC = 25.0
T_RSS_BYTES = 32 * MIB
T_RSS_N = 10000
AUTOGEN_TABLES = 200
# How long freshly written revision files wait before the first luamig command: the header
# cache trusts a file only when its ctime is two whole seconds older than the cache
# (core/headcache.c, lm_headcache_get), and a 1.2 s wait left the first command's runs of its
# first second or two reading every file, then rewriting the cache.
RACY_AGE = 2.2


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Measuring one command


class Result:
    """What one benchmarked command gave: either an error or timings."""

    def __init__(self, label, cmd, error=None, note=None):  # noqa: D401
        self.label = label
        self.cmd = cmd
        self.error = error        # None when the command ran; else a short reason
        self.note = note
        self.times = []           # wall seconds, one per run
        self.median = None
        self.mean = None
        self.stddev = None
        self.user = None          # mean user CPU seconds
        self.system = None
        self.rss = None           # peak resident set, bytes (first run)
        self.timer = None         # "hyperfine" or "loop"

    @property
    def cpu(self):
        """Mean user + system CPU seconds of a run."""
        if self.user is None or self.system is None:
            return None
        return self.user + self.system

    @property
    def ok(self):
        return self.error is None and self.median is not None

    def finish(self):
        if self.times:
            self.median = statistics.median(self.times)
            self.mean = statistics.mean(self.times)
            self.stddev = statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    def as_dict(self):
        return {k: getattr(self, k) for k in ("label", "error", "note", "times", "median", "mean",
                                              "stddev", "user", "system", "rss", "timer")} | {
            "cmd": " ".join(shlex.quote(c) for c in self.cmd) if self.cmd else None}


class Interleaved:
    """Commands timed in turn, round by round: medians of each one's wall and CPU times."""

    def __init__(self, label, walls, cpus):
        self.label = label
        self.rounds = len(walls[0])
        self.median = [statistics.median(w) for w in walls]
        self.cpu = [statistics.median(c) for c in cpus]

    def ratio(self, i, j):
        return self.median[i] / self.median[j]

    def cpu_ratio(self, i, j):
        return self.cpu[i] / self.cpu[j] if self.cpu[j] > 0 else None

    def as_dict(self):
        return {"label": self.label, "rounds": self.rounds, "median": self.median, "cpu": self.cpu}


def vm_hwm(pid):
    """Peak resident set of a running process, bytes (0 when unknown)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def short_error(text, limit=140):
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # Prefer a line that looks like the error over trailing log noise.
    for ln in reversed(lines):
        if re.search(r"error|fail|not available|no such|unknown|traceback", ln, re.I):
            return ln[:limit]
    return (lines[-1] if lines else "no output")[:limit]


class Runner:
    def __init__(self, workdir, use_hyperfine, use_time, runs_override=None):
        self.workdir = workdir
        self.hyperfine = shutil.which("hyperfine") if use_hyperfine else None
        self.time_bin = "/usr/bin/time" if use_time and os.access("/usr/bin/time", os.X_OK) else None
        self.runs_override = runs_override
        self.seq = 0

    def _script(self, text):
        self.seq += 1
        path = os.path.join(self.workdir, "prep", "p%04d.sh" % self.seq)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("set -e\n" + text + "\n")
        return path

    @staticmethod
    def _prepare(path):
        if path:
            r = subprocess.run(["sh", path], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("prepare step %s failed: %s" % (path, r.stderr.strip()))

    def _run_once(self, cmd, cwd, stdout_path=None, with_time=False, keep_stderr=True):
        """One run: (wall s, returncode, peak RSS bytes, user s, sys s, stderr text); without
        keep_stderr, stderr goes to /dev/null as under hyperfine -N (its text is then "")."""
        errf = tempfile.TemporaryFile(dir=self.workdir) if keep_stderr else subprocess.DEVNULL
        outf = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
        memfile = None
        argv = cmd
        if with_time and self.time_bin:
            memfile = os.path.join(self.workdir, "time.out")
            argv = [self.time_bin, "-f", "%M", "-o", memfile] + cmd
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, cwd=cwd, stdout=outf, stderr=errf, stdin=subprocess.DEVNULL)
            hwm = 0
            if with_time and not memfile:
                # ru_maxrss of a child forked from this Python process counts
                # Python's own pages from before the exec: poll the exec'd
                # image's high-water mark instead, while it runs.
                while True:
                    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                    if pid:
                        break
                    hwm = max(hwm, vm_hwm(p.pid))
                    time.sleep(0.001)
            else:
                _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout_path:
                outf.close()
        err = ""
        if keep_stderr:
            errf.seek(0)
            err = errf.read().decode("utf-8", "replace")
            errf.close()
        rss = hwm or ru.ru_maxrss * 1024
        if memfile:
            try:
                with open(memfile) as f:
                    rss = int(f.read().strip().splitlines()[-1]) * 1024
            except (OSError, ValueError, IndexError):
                pass
        return wall, p.returncode, rss, ru.ru_utime, ru.ru_stime, err

    def _runs_for(self, first_wall):
        if self.runs_override:
            return self.runs_override
        if first_wall < 0.05:
            return 20
        if first_wall < 0.5:
            return 10
        if first_wall < SLOW_S:
            return 5
        if first_wall < 12:
            return 3
        if first_wall < 20:
            return 2
        return 1

    def measure(self, label, cmd, cwd, prepare=None, stdout_path=None, max_runs=None):
        """Checks that cmd works (one run, also measuring its peak memory), then
        times it. prepare: shell text run before every run (not timed)."""
        res = Result(label, cmd)
        prep = self._script(prepare) if prepare else None
        try:
            self._prepare(prep)
            wall, rc, rss, ut, st, err = self._run_once(cmd, cwd, stdout_path, with_time=True)
        except (OSError, RuntimeError) as e:
            res.error = "could not run: %s" % e
            return res
        if rc != 0:
            res.error = "exit %d: %s" % (rc, short_error(err))
            log("%s: %s" % (label, res.error))
            return res
        res.rss = rss
        runs = self._runs_for(wall)
        if max_runs:
            runs = min(runs, max_runs)
        # hyperfine takes the command as one argument, which the kernel caps at 128 KiB (the
        # stat and Lua floors of 10,000 revisions name every file): those go by the loop
        fits = sum(len(a) + 3 for a in cmd) < HYPERFINE_MAX_COMMAND
        if self.hyperfine and wall < SLOW_S and fits:
            self._hyperfine(res, cmd, cwd, prep, runs, warmup=1 if wall < 0.2 else 0)
        else:
            res.timer = "loop"
            res.times.append(wall)
            users, systems = [ut], [st]
            for _ in range(runs - 1):
                self._prepare(prep)
                w, rc, _, ut, st, err = self._run_once(cmd, cwd)
                if rc != 0:
                    res.error = "exit %d on a later run: %s" % (rc, short_error(err))
                    return res
                res.times.append(w)
                users.append(ut)
                systems.append(st)
            res.user = statistics.mean(users)
            res.system = statistics.mean(systems)
        res.finish()
        log("%s: median %s over %d runs (%s), peak RSS %s"
            % (label, fmt_time(res.median), len(res.times), res.timer, fmt_mem(res.rss)))
        return res

    def interleave(self, label, commands, rounds):
        """Times commands [(cmd, cwd, prepare), ...] in turn, `rounds` rounds (at least one;
        the order rotated every round, reversed every len(commands) rounds), each run after its
        prepare step. A ratio of two series timed
        minutes apart also measures how the machine's speed drifted between them (a VM's slow
        and quiet phases moved them by up to 40 % here); commands timed in the same rounds see
        the same phases. Returns an Interleaved, or None when a run fails."""
        preps = [self._script(p) if p else None for _, _, p in commands]
        walls = [[] for _ in commands]
        cpus = [[] for _ in commands]
        k = len(commands)
        try:
            # round -1 is a warm-up, not counted; the order is rotated every round and, every
            # k rounds, reversed, so that each command follows each other one
            for i in range(-1, max(rounds, 1)):
                order = [(i + x) % k for x in range(k)]
                if (i // k) % 2:
                    order.reverse()
                for j in order:
                    cmd, cwd, _ = commands[j]
                    self._prepare(preps[j])
                    # output to /dev/null, as hyperfine -N has it: the log lines luamig writes
                    # would otherwise be timed as writes to a file, which the raw client has none of
                    w, rc, _, ut, st, _ = self._run_once(cmd, cwd, keep_stderr=False)
                    if rc != 0:
                        log("%s: exit %d on an interleaved run" % (label, rc))
                        return None
                    if i >= 0:
                        walls[j].append(w)
                        cpus[j].append(ut + st)
        except (OSError, RuntimeError) as e:
            log("%s: could not run: %s" % (label, e))
            return None
        res = Interleaved(label, walls, cpus)
        log("%s: interleaved, %d rounds: medians %s" % (label, rounds,
                                                         ", ".join(fmt_time(m) for m in res.median)))
        return res

    def _hyperfine(self, res, cmd, cwd, prep, runs, warmup):
        self.seq += 1
        out = os.path.join(self.workdir, "hyperfine", "h%04d.json" % self.seq)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        argv = [self.hyperfine, "-N", "--style", "none", "--runs", str(max(runs, 2)),
                "--warmup", str(warmup), "--export-json", out]
        if prep:
            argv += ["--prepare", "sh " + prep]
        argv.append(" ".join(shlex.quote(c) for c in cmd))
        r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        if r.returncode != 0:
            res.error = "hyperfine: %s" % short_error(r.stderr + r.stdout)
            return
        with open(out) as f:
            data = json.load(f)["results"][0]
        res.timer = "hyperfine"
        res.times = list(data["times"])
        res.user = data.get("user")
        res.system = data.get("system")


# --------------------------------------------------------------------------
# Formatting


def fmt_time(s):
    if s is None:
        return "–"
    if s < 0.001:
        return "%.0f µs" % (s * 1e6)
    if s < 0.1:
        return "%.1f ms" % (s * 1e3)
    if s < 10:
        return "%.0f ms" % (s * 1e3) if s < 1 else "%.2f s" % s
    return "%.1f s" % s


def fmt_mem(b):
    if b is None:
        return "–"
    return "%.1f MiB" % (b / MIB)


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def cell_result(r, missing):
    if r is None:
        return missing
    if not r.ok:
        return r.note or ("failed: " + (r.error or "?"))
    cpu = r.cpu
    return "%s <sub>%d× σ %s%s</sub>" % (fmt_time(r.median), len(r.times), fmt_time(r.stddev),
                                         ", cpu %s" % fmt_time(cpu) if cpu is not None else "")


# --------------------------------------------------------------------------
# Projects


def run_ok(cmd, cwd=None, **kw):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd), r.returncode,
                                                       (r.stderr or r.stdout).strip()[-800:]))
    return r


def set_ini_option(text, key, value):
    """Replaces `key = ...` (first, uncommented) in an ini text, or fails."""
    pat = re.compile(r"^%s\s*=.*$" % re.escape(key), re.M)
    if not pat.search(text):
        raise RuntimeError("no '%s =' line in the generated ini" % key)
    return pat.sub(lambda m: "%s = %s" % (key, value.replace("\\", "\\\\")), text, count=1)


def sql_per_revision(script):
    """The statements of each revision in luamig's offline upgrade script, version-table
    statements left out: {revision: [sql, ...]}; None when the script has no steps."""
    with open(script) as f:
        text = f.read()
    parts = re.split(r"(?m)^-- Running upgrade .* -> (\S+)\n", text)
    if len(parts) < 3:
        return None
    out = {}
    for i in range(1, len(parts), 2):
        stmts = []
        for st in parts[i + 1].split(";\n"):
            st = st.strip()
            if st and not re.match(r"(INSERT INTO|UPDATE|DELETE FROM) luamig_version\b|COMMIT$", st):
                stmts.append(st)
        out[parts[i]] = stmts
    return out


class LuamigProject:
    tool = "luamig"

    def __init__(self, binary, base):
        self.binary = binary
        self.base = base
        os.makedirs(base, exist_ok=True)
        run_ok([binary, "init", "migrations"], cwd=base)
        with open(os.path.join(base, "luamig.ini")) as f:
            self.ini_text = set_ini_option(f.read(), "script_location", "%(here)s/migrations")
        # the template's audit history has no Alembic counterpart: compare like with like
        self.ini_text = re.sub(r"(?m)^history_table\s*=.*\n", "", self.ini_text)
        self.versions = os.path.join(base, "migrations", "versions")

    def write_ini(self, name, url):
        path = os.path.join(self.base, name)
        with open(path, "w") as f:
            f.write(set_ini_option(self.ini_text, "url", url))
        return path

    def cmd(self, ini, *args):
        return [self.binary, "-c", ini] + list(args)

    def use_models(self, models_src):
        with open(os.path.join(self.base, "models.lua"), "w") as f:
            f.write(models_src)
        env = os.path.join(self.base, "migrations", "env.lua")
        with open(env) as f:
            text = f.read()
        new = ('package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path\n'
               'local target_metadata = require "models"')
        if "local target_metadata = nil" not in text:
            raise RuntimeError("generated env.lua has no 'local target_metadata = nil' line")
        with open(env, "w") as f:
            f.write(text.replace("local target_metadata = nil", new, 1))


class AlembicProject:
    tool = "alembic"

    def __init__(self, python, base):
        self.python = python
        self.base = base
        os.makedirs(base, exist_ok=True)
        run_ok([python, "-m", "alembic", "init", "migrations"], cwd=base)
        with open(os.path.join(base, "alembic.ini")) as f:
            self.ini_text = set_ini_option(f.read(), "script_location", "%(here)s/migrations")
        # the template's audit history has no Alembic counterpart: compare like with like
        self.ini_text = re.sub(r"(?m)^history_table\s*=.*\n", "", self.ini_text)
        self.versions = os.path.join(base, "migrations", "versions")

    def write_ini(self, name, url):
        path = os.path.join(self.base, name)
        with open(path, "w") as f:
            f.write(set_ini_option(self.ini_text, "sqlalchemy.url", url))
        return path

    def cmd(self, ini, *args):
        return [self.python, "-m", "alembic", "-c", ini] + list(args)

    def use_models(self, models_src):
        with open(os.path.join(self.base, "models.py"), "w") as f:
            f.write(models_src)
        env = os.path.join(self.base, "migrations", "env.py")
        with open(env) as f:
            text = f.read()
        new = ("import os, sys\n"
               "sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))\n"
               "from models import metadata\n"
               "target_metadata = metadata")
        if "\ntarget_metadata = None" not in text:
            raise RuntimeError("generated env.py has no 'target_metadata = None' line")
        with open(env, "w") as f:
            f.write(text.replace("\ntarget_metadata = None", "\n" + new, 1))


def find_alembic_python(explicit):
    cands = [explicit] if explicit else []
    cands += [os.environ.get("ALEMBIC_PYTHON"), sys.executable, "/usr/bin/python3",
              shutil.which("python3")]
    seen = set()
    for c in cands:
        if not c or c in seen or not os.access(c, os.X_OK):
            continue
        seen.add(c)
        r = subprocess.run([c, "-c", "import alembic, sqlalchemy; print(alembic.__version__, "
                                     "sqlalchemy.__version__)"], capture_output=True, text=True)
        if r.returncode == 0:
            alembic_v, sqla_v = r.stdout.split()
            r2 = subprocess.run([c, "-c", "import psycopg2; print(psycopg2.__version__.split()[0])"],
                                capture_output=True, text=True)
            return c, alembic_v, sqla_v, (r2.stdout.strip() if r2.returncode == 0 else None)
        if explicit and c == explicit:
            break
    return None, None, None, None


# --------------------------------------------------------------------------
# PostgreSQL (the tests' throwaway fixture)


class Postgres:
    def __init__(self, fixture_dir):
        self.dir = fixture_dir
        self.started = False
        self.env = {}
        self.reason = None

    def start(self, max_locks):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "pg", "pg_fixture.py"),
                            "start", self.dir], capture_output=True, text=True, env=dict(os.environ, CI=""))
        if r.returncode != 0:
            self.reason = "PostgreSQL not available (%s)" % short_error(r.stdout + r.stderr)
            return False
        self.started = True
        with open(os.path.join(self.dir, "pg.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.env[k] = v.strip("'")
        self.host = self.env["LUAMIG_TEST_PG_HOST"]
        self.port = self.env["LUAMIG_TEST_PG_PORT"]
        self.bindir = self.env["LUAMIG_TEST_PG_BINDIR"]
        self.psql = os.path.join(self.bindir, "psql")
        if not os.access(self.psql, os.X_OK):
            self.psql = shutil.which("psql") or "psql"
        if max_locks:
            self._raise_max_locks(max_locks)
        return True

    def _raise_max_locks(self, n):
        """One transaction that creates N tables and N indexes holds 2N locks;
        the default lock table (64 x max_connections) holds 6,400."""
        self.sql("postgres", "ALTER SYSTEM SET max_locks_per_transaction = %d" % n)
        with open(os.path.join(self.dir, "pg-state.json")) as f:
            base = json.load(f)["base"]
        datadir = os.path.join(base, "data")
        cmd = [os.path.join(self.bindir, "pg_ctl"), "-D", datadir, "-l",
               os.path.join(base, "server.log"), "-w", "-t", "60", "restart"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        run_ok(cmd)
        for _ in range(100):
            if subprocess.run(self.psql_cmd("postgres", "-c", "select 1"),
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)

    def stop(self):
        if self.started:
            subprocess.run([sys.executable, os.path.join(ROOT, "tests", "pg", "pg_fixture.py"),
                            "stop", self.dir], capture_output=True)
            self.started = False

    def psql_cmd(self, db, *args):
        return [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", self.port,
                "-U", "postgres", "-d", db] + list(args)

    def sql(self, db, statement):
        return run_ok(self.psql_cmd(db, "-At", "-c", statement)).stdout.strip()

    def recreate_script(self, db, template=None):
        """Shell text that drops db and creates it afresh (from template)."""
        q = " ".join(shlex.quote(c) for c in self.psql_cmd("postgres"))
        create = "CREATE DATABASE %s%s" % (db, " TEMPLATE %s" % template if template else "")
        return "%s -c 'DROP DATABASE IF EXISTS %s' -c '%s'" % (q, db, create)

    def luamig_url(self, db):
        return "postgresql:///%s?host=%s&port=%s&user=postgres" % (db, self.host, self.port)

    def alembic_url(self, db):
        return "postgresql://postgres@/%s?host=%s&port=%s" % (db, self.host, self.port)

    def settings(self):
        names = ["server_version", "fsync", "synchronous_commit", "full_page_writes",
                 "shared_buffers", "max_locks_per_transaction"]
        out = self.sql("postgres", "SELECT name || '=' || setting FROM pg_settings WHERE name IN (%s) "
                       "ORDER BY name" % ", ".join("'%s'" % n for n in names))
        return ", ".join(out.split("\n"))


# --------------------------------------------------------------------------
# The benchmark


class Row:
    def __init__(self, case, n, command, db):
        self.case = case          # "linear 1,000", ...
        self.n = n                # number of revisions (None for autogenerate)
        self.command = command
        self.db = db              # "SQLite", "PostgreSQL", "–"
        self.luamig = None
        self.limit = None
        self.alembic = None
        self.limit_missing = "n/a"
        self.limit_label = ""     # what the limit is when it is not the raw database client
        self.alembic_missing = "–"
        self.targets = []         # (text, met: True/False/None)
        self.extra = ""           # shown after the targets: costs per revision / per target
        self.paired = None        # Interleaved of [luamig, limit] ([luamig, Alembic] for autogenerate),
        #                           what the ratio target is judged on


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.notes = []
        self.workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="luamig-bench-")
        os.makedirs(self.workdir, exist_ok=True)
        # luamig's header and chunk caches go in the work directory, removed with it: every
        # run generates thousands of revision files at new paths, whose entries would
        # otherwise pile up in the user's ~/.cache/luamig (they are never pruned)
        os.environ.setdefault("LUAMIG_CACHE_DIR", os.path.join(self.workdir, "luamig-cache"))
        self.runner = Runner(self.workdir, not args.no_hyperfine, not args.no_time, args.runs)
        self.luamig = os.path.abspath(args.luamig)
        if args.no_alembic:
            self.alembic_python = None
            self.alembic_reason = "Alembic not measured (--no-alembic)"
        else:
            (self.alembic_python, self.alembic_version, self.sqla_version,
             self.psycopg2_version) = find_alembic_python(args.alembic_python)
            self.alembic_reason = None if self.alembic_python else \
                "Alembic not installed (no python3 with `import alembic, sqlalchemy`)"
        self.sqlite3 = shutil.which("sqlite3")
        self.stat = shutil.which("stat")
        self.lua = shutil.which("lua5.4")
        self.pg = None
        self.pg_reason = None

    # -- helpers ------------------------------------------------------------

    def add_note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def alembic_skip(self, n):
        if not self.alembic_python:
            return self.alembic_reason
        return None

    # -- one history ----------------------------------------------------------

    def run_history(self, case, revs, alembic_heavy):
        n = len(revs)
        log("== %s (%d revisions) ==" % (case, n))
        slug = re.sub(r"[^a-z0-9]+", "_", case.lower()).strip("_")
        base = os.path.join(self.workdir, slug)
        lm = LuamigProject(self.luamig, os.path.join(base, "luamig"))
        gen.write_versions(revs, lm.versions, "lua")
        al = None
        al_reason = self.alembic_skip(n)
        if not al_reason:
            try:
                al = AlembicProject(self.alembic_python, os.path.join(base, "alembic"))
                gen.write_versions(revs, al.versions, "py")
            except RuntimeError as e:
                al, al_reason = None, "Alembic project could not be made: %s" % short_error(str(e))
        # luamig's revision-header cache does not trust a file whose ctime is
        # not at least two whole seconds (time() seconds) before the cache is
        # written (the racy-timestamp rule), so files written just now would
        # be read again on every timed run of the first command measured.
        # A user's revision files are older than that: let these age too.
        time.sleep(RACY_AGE)
        heavy_reason = None
        if al and not alembic_heavy:
            heavy_reason = ("skipped: Alembic needs minutes a run at this size (see --alembic-max)")

        def path(*p):
            return os.path.join(base, *p)

        lm_up = lm.write_ini("sqlite-up.ini", "sqlite:///" + path("luamig", "up.db"))
        lm_down = lm.write_ini("sqlite-down.ini", "sqlite:///" + path("luamig", "down.db"))
        if al:
            al_up = al.write_ini("sqlite-up.ini", "sqlite:///" + path("alembic", "up.db"))
            al_down = al.write_ini("sqlite-down.ini", "sqlite:///" + path("alembic", "down.db"))

        R = self.runner

        def row(command, db):
            r = Row(case, n, command, db)
            if not al:
                r.alembic_missing = al_reason
            self.rows.append(r)
            return r

        def alembic_measure(r, label, cmd, cwd, prepare=None, heavy=False):
            if not al:
                return
            if heavy and heavy_reason:
                r.alembic_missing = heavy_reason
                return
            max_runs = self.args.alembic_runs
            r.alembic = R.measure(label, cmd, cwd, prepare, max_runs=max_runs)

        # Read-only commands: no database. Their floor is a process that stats every
        # revision file (coreutils `stat`, the file names in its argv): what any tool must do
        # at least to know that none changed.
        stat_floor = None
        for command in ("heads", "history"):
            r = row(command, "–")
            r.luamig = R.measure("luamig %s %s" % (command, case), lm.cmd(lm_up, command), lm.base)
            alembic_measure(r, "alembic %s %s" % (command, case), al.cmd(al_up, command) if al else None,
                            al.base if al else None)
            if self.stat and stat_floor is None:
                names = sorted(f for f in os.listdir(lm.versions) if f.endswith(".lua"))
                stat_cmd = [self.stat, "-c", "%Y"] + names
                stat_floor = R.measure("stat floor %s" % case, stat_cmd, lm.versions)
            r.limit = stat_floor
            r.limit_label = "stat"
            r.limit_missing = "stat (coreutils) not installed"
            if n == T_READONLY_N:
                self.pair(r, "%s %s" % (command, case), (lm.cmd(lm_up, command), lm.base, None),
                          (stat_cmd, lm.versions, None) if stat_floor else None)

        # Offline SQL: luamig's own script is the raw clients' input.
        r = row("upgrade head --sql", "SQLite")
        up_sqlite = path("up_sqlite.sql")
        r.luamig = R.measure("luamig upgrade --sql %s" % case, lm.cmd(lm_up, "upgrade", "head", "--sql"),
                             lm.base, stdout_path=up_sqlite)
        r.limit_missing = "n/a (no database)"
        alembic_measure(r, "alembic upgrade --sql %s" % case,
                        al.cmd(al_up, "upgrade", "head", "--sql") if al else None,
                        al.base if al else None, heavy=True)
        scripts_ok = r.luamig.ok
        down_sqlite = path("down_sqlite.sql")
        if scripts_ok:
            scripts_ok = self._offline(lm.cmd(lm_up, "downgrade", "head:base", "--sql"), lm.base, down_sqlite)
        if scripts_ok:
            ensure_one_transaction(up_sqlite)
            ensure_one_transaction(down_sqlite)

        # upgrade head, SQLite, fresh file each run.
        r = row("upgrade head", "SQLite")
        r.luamig = R.measure("luamig upgrade sqlite %s" % case, lm.cmd(lm_up, "upgrade", "head"), lm.base,
                             prepare="rm -f %s" % shlex.quote(path("luamig", "up.db")))
        raw_db = path("raw.db")
        if scripts_ok and self.sqlite3:
            r.limit = R.measure("sqlite3 upgrade %s" % case, [self.sqlite3, raw_db, ".read " + up_sqlite],
                                base, prepare="rm -f %s" % shlex.quote(raw_db))
        elif not self.sqlite3:
            r.limit_missing = "sqlite3 CLI not installed"
        else:
            r.limit_missing = "no script (luamig --sql failed)"
        alembic_measure(r, "alembic upgrade sqlite %s" % case, al.cmd(al_up, "upgrade", "head") if al else None,
                        al.base if al else None, prepare="rm -f %s" % shlex.quote(path("alembic", "up.db")),
                        heavy=True)
        self.lua_floor(r, lm, case)
        floor_cmd = self.pipeline_floor(r, revs, path, up_sqlite, case) if scripts_ok else None
        if scripts_ok and self.sqlite3:
            p = self.pair(r, "upgrade sqlite %s" % case,
                          (lm.cmd(lm_up, "upgrade", "head"), lm.base,
                           "rm -f %s" % shlex.quote(path("luamig", "up.db"))),
                          ([self.sqlite3, raw_db, ".read " + up_sqlite], base,
                           "rm -f %s" % shlex.quote(raw_db)),
                          floor_cmd)
            if p and floor_cmd:
                r.extra += ("; interleaved (%d rounds): the pipeline floor %.2f× the raw client, "
                            "luamig %.2f× the pipeline floor" % (p.rounds, p.ratio(2, 1), p.ratio(0, 2)))
        self.target_vs_limit(r)
        lm_at_head = r.luamig.ok
        raw_at_head = r.limit is not None and r.limit.ok
        al_at_head = r.alembic is not None and r.alembic.ok

        # current, database up to date.
        r = row("current", "SQLite")
        if lm_at_head:
            r.luamig = R.measure("luamig current %s" % case, lm.cmd(lm_up, "current"), lm.base)
        else:
            r.luamig = Result("luamig current", None, note="needs upgrade head")
        if raw_at_head:
            select_cmd = [self.sqlite3, raw_db, "SELECT version_num FROM luamig_version"]
            r.limit = R.measure("sqlite3 current %s" % case, select_cmd, base)
            if lm_at_head and n == T_READONLY_N:
                self.pair(r, "current %s" % case, (lm.cmd(lm_up, "current"), lm.base, None),
                          (select_cmd, base, None))
        if al and al_at_head:
            alembic_measure(r, "alembic current %s" % case, al.cmd(al_up, "current"), al.base)
        elif al and heavy_reason:
            r.alembic_missing = heavy_reason
        elif al:
            r.alembic_missing = "needs upgrade head"

        if n > self.args.db_max:
            note = ("skipped at this size (minutes a run; --full or --db-max %d to include)" % n)
            for command, db in (("downgrade base", "SQLite"), ("upgrade head", "PostgreSQL"),
                                ("downgrade base", "PostgreSQL")):
                r = row(command, db)
                r.luamig = Result("", None, note=note)
                r.limit_missing = r.alembic_missing = note
            # lint and test (up to --test-max) still run: peak memory at every size
            if case.startswith("linear"):
                self.run_features(case, revs, base, lm)
            return

        # downgrade base, SQLite, from a copy of the database at head.
        r = row("downgrade base", "SQLite")
        if lm_at_head:
            r.luamig = R.measure("luamig downgrade sqlite %s" % case, lm.cmd(lm_down, "downgrade", "base"),
                                 lm.base, prepare="cp %s %s" % (path("luamig", "up.db"), path("luamig", "down.db")))
        else:
            r.luamig = Result("luamig downgrade", None, note="needs upgrade head")
        if raw_at_head and scripts_ok:
            raw_down = path("raw-down.db")
            r.limit = R.measure("sqlite3 downgrade %s" % case, [self.sqlite3, raw_down, ".read " + down_sqlite],
                                base, prepare="cp %s %s" % (raw_db, raw_down))
        if al and al_at_head:
            alembic_measure(r, "alembic downgrade sqlite %s" % case, al.cmd(al_down, "downgrade", "base"),
                            al.base, prepare="cp %s %s" % (path("alembic", "up.db"), path("alembic", "down.db")),
                            heavy=True)
        elif al and heavy_reason:
            r.alembic_missing = heavy_reason
        elif al:
            r.alembic_missing = "needs upgrade head"

        # PostgreSQL.
        self.run_history_pg(case, n, slug, base, lm, al, al_reason, heavy_reason, scripts_ok)

        # What the later issues added: lint, test, a fresh upgrade from a checkpoint.
        if case.startswith("linear"):
            self.run_features(case, revs, base, lm)

    def run_features(self, case, revs, base, lm):
        """Rows for lint (every revision, no database), `luamig test` (up to --test-max
        revisions) and a fresh `upgrade head` from a checkpoint at the middle revision, on
        SQLite (and PostgreSQL), with its ratio to the full replay measured above."""
        R = self.runner
        n = len(revs)

        def row(command, db):
            r = Row(case, n, command, db)
            r.alembic_missing = "n/a (no Alembic equivalent)"
            self.rows.append(r)
            return r

        def per_revision(r):
            if r.luamig and r.luamig.ok:
                r.extra = "%s per revision" % fmt_time(r.luamig.median / n)

        lm_up = os.path.join(lm.base, "sqlite-up.ini")
        r = row("lint (all revisions)", "–")
        r.luamig = R.measure("luamig lint %s" % case, lm.cmd(lm_up, "lint", "--sql"), lm.base)
        r.limit_missing = "n/a (no database)"
        per_revision(r)

        r = row("test (up, down, up each)", "SQLite")
        if n <= self.args.test_max:
            r.luamig = R.measure("luamig test %s" % case, lm.cmd(lm_up, "test"), lm.base)
            per_revision(r)
        else:
            r.luamig = Result("", None, note="skipped above %d revisions (--test-max)" % self.args.test_max)
        r.limit_missing = "n/a (its own scratch database)"

        # the same on PostgreSQL (the configured database only says which server: the test
        # makes a scratch database there)
        r = row("test (up, down, up each)", "PostgreSQL")
        r.limit_missing = "n/a (its own scratch database)"
        if not self.pg:
            r.luamig = Result("", None, note=self.pg_reason)
        elif n > min(self.args.test_max, self.args.db_max):
            r.luamig = Result("", None, note="skipped above %d revisions (--test-max, --db-max)"
                              % min(self.args.test_max, self.args.db_max))
        else:
            pg_ini = lm.write_ini("pg-test.ini", self.pg.luamig_url("postgres"))
            r.luamig = R.measure("luamig test pg %s" % case, lm.cmd(pg_ini, "test"), lm.base,
                                 max_runs=3)
            per_revision(r)

        # A fleet of 100 SQLite files (the smallest history only: it is the cost per target).
        if n == min(int(x) for x in (self.args.sizes or str(n)).split(",") if x.strip()):
            r = row("fleet upgrade head, 100 SQLite targets, --parallel 2", "SQLite")
            r.alembic_missing = "n/a (Alembic has no fleets)"
            r.limit_missing = "n/a"
            fdir = os.path.join(base, "fleet-dbs")
            os.makedirs(fdir, exist_ok=True)
            with open(lm_up) as f:
                text = f.read()
            text += "\n[fleet:bench]\ntargets =\n" + "".join(
                "    t%03d sqlite:///%s/t%03d.db\n" % (i, fdir, i) for i in range(100))
            fini = os.path.join(lm.base, "fleet.ini")
            with open(fini, "w") as f:
                f.write(text)
            r.luamig = R.measure("luamig fleet %s" % case,
                                 [self.luamig, "-c", fini, "--fleet", "bench", "--parallel", "2",
                                  "upgrade", "head"], lm.base,
                                 prepare="rm -f %s/*.db" % shlex.quote(fdir))
            if r.luamig.ok:
                r.extra = "%s per target" % fmt_time(r.luamig.median / 100)

        # A copy of the project with a checkpoint at the middle revision (the copy, so that the
        # rows above replay the whole history).
        cp = LuamigProject(self.luamig, os.path.join(base, "luamig-cp"))
        shutil.rmtree(cp.versions)
        shutil.copytree(lm.versions, cp.versions)
        time.sleep(RACY_AGE)    # the header cache's racy-timestamp rule, as for the histories
        mid = revs[n // 2 - 1].rev
        full = [x for x in self.rows if x.case == case and x.command == "upgrade head"]
        for db in ("SQLite", "PostgreSQL"):
            r = row("upgrade head (checkpoint at %s)" % format(n // 2, ","), db)
            r.alembic_missing = "n/a (Alembic has no checkpoints)"
            if db == "SQLite":
                path = os.path.join(cp.base, "cp.db")
                ini = cp.write_ini("sqlite-cp.ini", "sqlite:///" + path)
                prep = "rm -f %s" % shlex.quote(path)
            else:
                if not self.pg or n > self.args.db_max:
                    r.luamig = Result("", None, note=self.pg_reason or "skipped at this size")
                    r.limit_missing = r.luamig.note
                    continue
                dbname = ("lm_cp_%s" % re.sub(r"[^a-z0-9]+", "_", case.lower()))[:60]
                self.pg_databases.add(dbname)
                ini = cp.write_ini("pg-cp.ini", self.pg.luamig_url(dbname))
                prep = self.pg.recreate_script(dbname)
                subprocess.run(["sh", "-c", prep], capture_output=True)
            # the checkpoint itself (each run writes the same file again)
            c = row("checkpoint (at %s)" % format(n // 2, ","), db)
            c.limit_missing = "n/a (its own scratch databases)"
            c.luamig = R.measure("luamig checkpoint %s %s" % (db, case),
                                 cp.cmd(ini, "checkpoint", mid), cp.base, max_runs=3)
            if c.luamig.ok:
                c.extra = "%s per revision it stands for" % fmt_time(c.luamig.median / (n // 2))
            else:
                r.luamig = Result("", None, error="luamig checkpoint failed: " + c.luamig.error)
                continue
            r.luamig = R.measure("luamig upgrade %s checkpoint %s" % (db, case),
                                 cp.cmd(ini, "upgrade", "head"), cp.base, prepare=prep)
            script = os.path.join(base, "up_cp_%s.sql" % db.lower())
            if self._offline(cp.cmd(ini, "upgrade", "head", "--sql"), cp.base, script):
                ensure_one_transaction(script)
                if db == "SQLite" and self.sqlite3:
                    raw = os.path.join(base, "raw-cp.db")
                    r.limit = R.measure("sqlite3 upgrade checkpoint %s" % case,
                                        [self.sqlite3, raw, ".read " + script], base,
                                        prepare="rm -f %s" % shlex.quote(raw))
                elif db == "PostgreSQL":
                    rawdb = ("raw_cp_%s" % re.sub(r"[^a-z0-9]+", "_", case.lower()))[:60]
                    self.pg_databases.add(rawdb)
                    r.limit = R.measure("psql upgrade checkpoint %s" % case,
                                        self.pg.psql_cmd(rawdb, "-f", script), base,
                                        prepare=self.pg.recreate_script(rawdb))
            whole = [x for x in full if x.db == db and x.luamig and x.luamig.ok]
            if r.luamig.ok and whole:
                r.extra = "%.2f× the full replay's %s" % (r.luamig.median / whole[0].luamig.median,
                                                          fmt_time(whole[0].luamig.median))
            if db == "PostgreSQL":
                subprocess.run(self.pg.psql_cmd("postgres", "-c", "DROP DATABASE IF EXISTS %s" % dbname),
                               capture_output=True)

        # The checkpoint of the whole history: the largest one a history of this size makes
        # (one table per revision here), and the command that holds most at once. One run: it
        # takes minutes at 10,000 revisions. (Its replay is always the full one: the checkpoint
        # at the middle does not shorten it.)
        c = row("checkpoint (of all %s)" % format(n, ","), "SQLite")
        c.limit_missing = "n/a (its own scratch databases)"
        ini = cp.write_ini("sqlite-cp.ini", "sqlite:///" + os.path.join(cp.base, "cp.db"))
        c.luamig = R.measure("luamig checkpoint all %s" % case, cp.cmd(ini, "checkpoint", "head"),
                             cp.base, max_runs=1)
        if c.luamig.ok:
            c.extra = "%s per revision it stands for" % fmt_time(c.luamig.median / n)

    def _offline(self, cmd, cwd, out):
        with open(out, "wb") as f:
            r = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.PIPE)
        if r.returncode != 0:
            log("offline script %s failed: %s" % (out, short_error(r.stderr.decode("utf-8", "replace"))))
            return False
        return True

    def run_history_pg(self, case, n, slug, base, lm, al, al_reason, heavy_reason, scripts_ok):
        R = self.runner
        pg = self.pg

        def row(command):
            r = Row(case, n, command, "PostgreSQL")
            self.rows.append(r)
            if not pg:
                r.luamig = Result("", None, note=self.pg_reason)
                r.limit_missing = r.alembic_missing = self.pg_reason
            elif not al:
                r.alembic_missing = al_reason
            return r

        r_up = row("upgrade head")
        r_down = row("downgrade base")
        if not pg:
            return
        dbs = {k: "%s_%s" % (k, slug)[:60] for k in ("lm_up", "lm_down", "raw_up", "raw_down", "al_up", "al_down")}
        self.pg_databases.update(dbs.values())
        lm_up = lm.write_ini("pg-up.ini", pg.luamig_url(dbs["lm_up"]))
        lm_down = lm.write_ini("pg-down.ini", pg.luamig_url(dbs["lm_down"]))
        up_pg = os.path.join(base, "up_pg.sql")
        down_pg = os.path.join(base, "down_pg.sql")
        ok = scripts_ok and self._offline(lm.cmd(lm_up, "upgrade", "head", "--sql"), lm.base, up_pg) \
            and self._offline(lm.cmd(lm_up, "downgrade", "head:base", "--sql"), lm.base, down_pg)
        if ok:
            ensure_one_transaction(up_pg)
            ensure_one_transaction(down_pg)

        r_up.luamig = R.measure("luamig upgrade pg %s" % case, lm.cmd(lm_up, "upgrade", "head"), lm.base,
                                prepare=pg.recreate_script(dbs["lm_up"]))
        if ok:
            r_up.limit = R.measure("psql upgrade %s" % case, pg.psql_cmd(dbs["raw_up"], "-f", up_pg), base,
                                   prepare=pg.recreate_script(dbs["raw_up"]))
        else:
            r_up.limit_missing = "no script (luamig --sql failed)"
        if al:
            al_up = al.write_ini("pg-up.ini", pg.alembic_url(dbs["al_up"]))
            al_down = al.write_ini("pg-down.ini", pg.alembic_url(dbs["al_down"]))
            if heavy_reason:
                r_up.alembic_missing = r_down.alembic_missing = heavy_reason
            else:
                r_up.alembic = R.measure("alembic upgrade pg %s" % case, al.cmd(al_up, "upgrade", "head"),
                                         al.base, prepare=pg.recreate_script(dbs["al_up"]),
                                         max_runs=self.args.alembic_runs)
        self.target_vs_limit(r_up, T_UPGRADE_VS_LIMIT_PG)

        if r_up.luamig.ok:
            r_down.luamig = R.measure("luamig downgrade pg %s" % case, lm.cmd(lm_down, "downgrade", "base"),
                                      lm.base, prepare=pg.recreate_script(dbs["lm_down"], dbs["lm_up"]))
        else:
            r_down.luamig = Result("", None, note="needs upgrade head")
        if r_up.limit is not None and r_up.limit.ok:
            r_down.limit = R.measure("psql downgrade %s" % case, pg.psql_cmd(dbs["raw_down"], "-f", down_pg), base,
                                     prepare=pg.recreate_script(dbs["raw_down"], dbs["raw_up"]))
        if al and not heavy_reason:
            if r_up.alembic is not None and r_up.alembic.ok:
                r_down.alembic = R.measure("alembic downgrade pg %s" % case, al.cmd(al_down, "downgrade", "base"),
                                           al.base, prepare=pg.recreate_script(dbs["al_down"], dbs["al_up"]),
                                           max_runs=self.args.alembic_runs)
            else:
                r_down.alembic_missing = "needs upgrade head"
        # Free the server's disk and catalog for the next history.
        for db in dbs.values():
            subprocess.run(pg.psql_cmd("postgres", "-c", "DROP DATABASE IF EXISTS %s" % db), capture_output=True)

    # -- autogenerate -----------------------------------------------------------

    def run_autogenerate(self):
        ntab = AUTOGEN_TABLES
        case = "autogenerate %d tables" % ntab
        log("== %s ==" % case)
        base = os.path.join(self.workdir, "autogen%d" % ntab)
        os.makedirs(base, exist_ok=True)
        r = Row(case, None, "revision --autogenerate", "SQLite")
        self.rows.append(r)
        r.limit_missing = "n/a (no raw-client equivalent)"
        schema = os.path.join(base, "schema.sql")
        with open(schema, "w") as f:
            f.write(gen.autogen_tables_sql(ntab))
        R = self.runner

        def make_db(db):
            if self.sqlite3:
                run_ok([self.sqlite3, db, ".read " + schema])
            else:
                import sqlite3  # the harness's own module, only when the CLI is missing
                con = sqlite3.connect(db)
                con.executescript(open(schema).read())
                con.close()

        lm = LuamigProject(self.luamig, os.path.join(base, "luamig"))
        lm.use_models(gen.lua_models(ntab))
        db = os.path.join(lm.base, "auto.db")
        make_db(db)
        ini = lm.write_ini("sqlite.ini", "sqlite:///" + db)
        clean = "rm -f %s/*" % shlex.quote(lm.versions)
        r.luamig = R.measure("luamig autogenerate", lm.cmd(ini, "revision", "--autogenerate", "-m", "add extra"),
                             lm.base, prepare=clean)
        if r.luamig.error and re.search(r"not (available|implemented|supported)|unknown|unrecognized",
                                        r.luamig.error, re.I):
            r.luamig.note = "not available yet (%s)" % r.luamig.error
        self.check_autogenerated(r.luamig, lm.versions, ntab)
        if not self.alembic_python:
            r.alembic_missing = self.alembic_reason
        else:
            al = AlembicProject(self.alembic_python, os.path.join(base, "alembic"))
            al.use_models(gen.py_models(ntab))
            adb = os.path.join(al.base, "auto.db")
            make_db(adb)
            aini = al.write_ini("sqlite.ini", "sqlite:///" + adb)
            al_prepare = "rm -rf %s/*" % shlex.quote(al.versions)
            r.alembic = R.measure("alembic autogenerate", al.cmd(aini, "revision", "--autogenerate", "-m", "add extra"),
                                  al.base, prepare=al_prepare, max_runs=self.args.alembic_runs)
            self.check_autogenerated(r.alembic, al.versions, ntab)
            if r.luamig.ok and r.alembic.ok:
                # the two series above are timed seconds apart, and this VM's speed drifts by
                # up to 40 % between phases: the target is judged on runs timed in turn
                r.paired = R.interleave(
                    "interleaved %s" % case,
                    [(lm.cmd(ini, "revision", "--autogenerate", "-m", "add extra"), lm.base, clean),
                     (al.cmd(aini, "revision", "--autogenerate", "-m", "add extra"), al.base, al_prepare)],
                    R.runs_override or max(self.args.alembic_runs, 15))
        self.autogen_floor(r, lm, ini, db, clean)
        text = "≥%d× faster than Alembic" % T_AUTOGEN_VS_ALEMBIC
        if r.paired:
            faster = r.paired.ratio(1, 0)
            r.targets.append(("%s (interleaved, %d rounds: %.1f×)" % (text, r.paired.rounds, faster),
                              faster >= T_AUTOGEN_VS_ALEMBIC))
            return
        ratio = fmt_ratio(r.luamig.median if r.luamig.ok else None,
                          r.alembic.median if r.alembic and r.alembic.ok else None)
        r.targets.append((text, None if ratio is None else ratio * T_AUTOGEN_VS_ALEMBIC <= 1.0))

    # What luamig's reflection of a SQLite schema asks (core/reflect_sqlite.c, for a whole
    # schema, no table of which has a REFERENCES clause): the floor below runs it in sqlite3.
    REFLECT_SQL = """PRAGMA database_list;
SELECT m.name, m.sql FROM "main".sqlite_master m WHERE {u} ORDER BY m.name;
SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden
  FROM "main".sqlite_master m JOIN pragma_table_xinfo(m.name, 'main') p
  WHERE {u} ORDER BY m.name, p.cid;
SELECT m.name, il.name, il."unique", il.partial, x.seqno, x.cid, x.name, x."desc", x."key", im.sql
  FROM "main".sqlite_master m JOIN pragma_index_list(m.name, 'main') il
  JOIN pragma_index_xinfo(il.name, 'main') x
  LEFT JOIN "main".sqlite_master im ON im.type = 'index' AND im.name = il.name
  WHERE {u} AND il.origin = 'c' ORDER BY m.name, il.name, x.seqno;
""".format(u="m.type = 'table' AND substr(m.name, 1, 7) <> 'sqlite_' COLLATE NOCASE")

    def autogen_floor(self, r, lm, ini, db, clean):
        """The floor of an autogenerate, with no raw client that compares schemas: what any
        run of it does before comparing. `luamig current` on the same project (the start,
        env.lua, the models, the connection) plus the sqlite3 client reading the schema as
        luamig's reflection reads it, less the client's own start. All four timed in turn;
        shown after the row's targets, with what is left for comparing and rendering."""
        if not (self.sqlite3 and r.luamig and r.luamig.ok):
            return
        base = os.path.dirname(db)
        reflect = os.path.join(base, "reflect.sql")
        with open(reflect, "w") as f:
            f.write(".output /dev/null\n" + self.REFLECT_SQL)
        one = os.path.join(base, "one.sql")
        with open(one, "w") as f:
            f.write(".output /dev/null\nSELECT 1;\n")
        # the reflection must read what luamig reads: one row per column, 3 a table in the database
        out = run_ok([self.sqlite3, db, "SELECT count(*) FROM sqlite_master m JOIN "
                      "pragma_table_xinfo(m.name) WHERE m.type = 'table'"])
        if out.stdout.strip() != str(3 * AUTOGEN_TABLES):
            r.extra = "no floor (the schema has %s columns, not %d)" % (out.stdout.strip(),
                                                                      3 * AUTOGEN_TABLES)
            return
        m = self.runner.interleave(
            "autogenerate floor",
            [(lm.cmd(ini, "revision", "--autogenerate", "-m", "add extra"), lm.base, clean),
             (lm.cmd(ini, "current"), lm.base, None),
             ([self.sqlite3, db, ".read " + reflect], base, None),
             ([self.sqlite3, db, ".read " + one], base, None)],
            max(self.runner.runs_override or 0, 30))
        if not m:
            r.extra = "autogenerate floor: a run failed"
            return
        luamig, current, read, start = m.median
        floor = current + max(read - start, 0.0)
        r.extra = ("floor (interleaved, %d rounds): `luamig current` %s (the start, env.lua, the "
                   "models) + sqlite3 reading the schema %s = %s; luamig %s, %.2f× the floor, so "
                   "comparing and rendering take %s" % (
                       m.rounds, fmt_time(current), fmt_time(read - start), fmt_time(floor),
                       fmt_time(luamig), luamig / floor, fmt_time(luamig - floor)))
        if r.paired:
            # the target in the pairing with Alembic, in this series' time
            budget = r.paired.median[1] / T_AUTOGEN_VS_ALEMBIC * luamig / r.paired.median[0]
            r.extra += ("; %d× Alembic leaves them %s" % (T_AUTOGEN_VS_ALEMBIC,
                                                           fmt_time(max(budget - floor, 0.0))))

    def check_autogenerated(self, res, versions, ntab):
        """The last run left its revision file: it must add one column per table,
        or the timing measured something else than the diff we meant."""
        if not res or not res.ok:
            return
        found = 0
        for name in os.listdir(versions):
            if name.endswith((".lua", ".py")):
                with open(os.path.join(versions, name)) as f:
                    found += len(re.findall(r"add_column\(", f.read()))
        if found != ntab:
            res.error = "wrote %d add_column operations, expected %d" % (found, ntab)
            self.add_note("autogenerate (%s): the generated revision has %d add_column operations "
                          "instead of %d; its time is not shown." % (res.label, found, ntab))

    def lua_floor(self, r, lm, case):
        """The floor of an upgrade that runs Lua revision files: the raw client, plus plain
        lua5.4 compiling and running the same files (lua_floor.lua), less the lua5.4 process's
        own start. Shown after the targets of the upgrade head / SQLite rows."""
        if not (self.lua and r.limit is not None and r.limit.ok and r.luamig.ok):
            return
        names = sorted(f for f in os.listdir(lm.versions) if f.endswith(".lua"))
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua_floor.lua")
        work = self.runner.measure("lua floor %s" % case, [self.lua, script] + names, lm.versions)
        start = self.runner.measure("lua5.4 start", [self.lua, "-e", ""], lm.versions)
        if not (work.ok and start.ok):
            return
        floor = r.limit.median + max(work.median - start.median, 0.0)
        r.extra = ("floor (raw client + plain Lua running the revision files %s): %s, luamig at "
                   "%.2f× the floor" % (fmt_time(work.median - start.median), fmt_time(floor),
                                         r.luamig.median / floor))

    def pipeline_floor(self, r, revs, path, up_sqlite, case):
        """luamig's own floor for upgrade head: the same history with each revision's upgrade()
        running the SQL luamig compiles for it (from the offline script) through op.execute,
        so that the database does the same work and no operation object is built. What luamig
        costs besides the op layer: its start, the plan, loading each revision, the version
        table, the transaction. Shown after the targets of the upgrade head / SQLite rows.
        Returns the floor's (cmd, cwd, prepare), or None."""
        if not (r.limit is not None and r.limit.ok and r.luamig.ok):
            return None
        sql = sql_per_revision(up_sqlite)
        if sql is None or any(x.rev not in sql for x in revs):
            r.extra += "; no pipeline floor (the offline script's steps could not be read)"
            return None
        lp = LuamigProject(self.luamig, path("luamig-sql"))
        os.makedirs(lp.versions, exist_ok=True)
        for x in revs:
            with open(os.path.join(lp.versions, "%s_create_table_%s.lua" % (x.rev, x.table)), "w") as f:
                f.write(gen.lua_revision_sql(x, sql[x.rev]))
        time.sleep(RACY_AGE)   # as the history's own files (run_history)
        ini = lp.write_ini("sqlite-up.ini", "sqlite:///" + path("luamig-sql", "up.db"))
        cmd = (lp.cmd(ini, "upgrade", "head"), lp.base,
               "rm -f %s" % shlex.quote(path("luamig-sql", "up.db")))
        m = self.runner.measure("luamig upgrade sqlite, SQL precompiled %s" % case, cmd[0], cmd[1],
                                prepare=cmd[2])
        if not m.ok:
            r.extra += "; pipeline floor failed: %s" % (m.error or "?")
            return None
        r.extra += ("; pipeline floor (luamig running the compiled SQL through op.execute): %s, "
                    "%.2f× the raw client, luamig at %.2f× it" % (
                        fmt_time(m.median), m.median / r.limit.median, r.luamig.median / m.median))
        return cmd

    # -- targets ------------------------------------------------------------------

    def pair(self, r, label, luamig_cmd, limit_cmd, *more):
        """Times luamig's command and its limit's (and `more` commands, each a (cmd, cwd,
        prepare) or None) interleaved, after both were measured on their own; r.paired, which
        the row's ratio target is judged on. Returns the Interleaved, or None."""
        if limit_cmd is None or not (r.luamig and r.luamig.ok and r.limit and r.limit.ok):
            return None
        commands = [luamig_cmd, limit_cmd] + [c for c in more if c]
        t = max(r.luamig.median, r.limit.median)
        if self.runner.runs_override:
            rounds = self.runner.runs_override
        else:
            # a command under a second gets 15 rounds: 5 rounds of the 1,000-revision upgrade
            # (about 0.5 s on a slow day) put its ratio anywhere between 1.09× and 1.35×
            rounds = 30 if t < 0.05 else 15 if t < 1.0 else 5 if t < SLOW_S else 2
        r.paired = self.runner.interleave("interleaved %s" % label, commands, rounds)
        return r.paired

    def target_vs_limit(self, r, bound=None, what="raw client"):
        if bound is None:
            bound = T_UPGRADE_VS_LIMIT_LARGE if r.n == T_UPGRADE_LARGE_N else T_UPGRADE_VS_LIMIT
        p = r.paired
        if p:
            # judged on the runs timed in turn (Runner.interleave); the table's columns keep the
            # separate series
            ratio = p.ratio(0, 1)
            cpu = p.cpu_ratio(0, 1)
            r.targets.append(("≤%.1f× %s (interleaved, %d rounds: %.2f×%s)" % (
                bound, what, p.rounds, ratio, ", cpu %.2f×" % cpu if cpu else ""), ratio <= bound))
            return
        ratio = fmt_ratio(r.luamig.median if r.luamig and r.luamig.ok else None,
                          r.limit.median if r.limit and r.limit.ok else None)
        r.targets.append(("≤%.1f× %s" % (bound, what), None if ratio is None else ratio <= bound))

    def finish_targets(self):
        for r in self.rows:
            if r.n == T_READONLY_N and r.case.startswith("linear") and r.command in ("heads", "history", "current"):
                lmr = r.luamig if r.luamig and r.luamig.ok else None
                if r.command == "current":
                    self.target_vs_limit(r, T_CURRENT_VS_LIMIT)
                else:
                    self.target_vs_limit(r, T_LISTING_VS_STAT, "stat floor")
                ratio = fmt_ratio(lmr.median if lmr else None,
                                  r.alembic.median if r.alembic and r.alembic.ok else None)
                r.targets.append(("≥%d× faster than Alembic" % T_READONLY_VS_ALEMBIC,
                                  None if ratio is None else ratio * T_READONLY_VS_ALEMBIC <= 1.0))
            if r.n == T_RSS_N and r.case.startswith("linear"):
                rss = r.luamig.rss if r.luamig and r.luamig.ok else None
                r.targets.append(("RSS <%d MiB" % (T_RSS_BYTES // MIB), None if rss is None else rss < T_RSS_BYTES))

    # -- the whole run ------------------------------------------------------------

    def run(self):
        a = self.args
        t_start = time.time()
        sizes = [int(s) for s in a.sizes.split(",") if s.strip()] if a.sizes else []
        self.pg_databases = set()
        if not a.no_pg:
            self.pg = Postgres(os.path.join(self.workdir, "pgfix"))
            # One transaction that creates N tables (each with its sequence,
            # primary-key index, TOAST table and TOAST index) and N indexes
            # holds about 6N locks; the default lock table has 64 x
            # max_connections = 6,400 slots.
            pg_n = max([n for n in sizes if n <= a.db_max] + [0])
            if not self.pg.start(8 * pg_n // 100 + 64 if pg_n > 500 else 0):
                self.pg_reason = self.pg.reason
                self.pg = None
            elif 6 * pg_n > 6400:
                self.add_note("PostgreSQL runs with max_locks_per_transaction raised (see machine table): "
                              "one transaction creating %d tables and %d indexes holds about %d locks, and "
                              "the default lock table (64 × max_connections = 6,400) fails with `out of shared "
                              "memory` for luamig, Alembic and psql alike." % (pg_n, pg_n, 6 * pg_n))
        else:
            self.pg_reason = "PostgreSQL not measured (--no-pg)"
        try:
            self.machine = machine_info(self)
            for n in sizes:
                self.run_history("linear %s" % format(n, ","), gen.linear(n), n <= a.alembic_max)
            if a.branchy_blocks > 0:
                revs = gen.branchy(a.branchy_blocks)
                self.run_history("branchy %s" % format(len(revs), ","), revs, len(revs) <= a.alembic_max)
            if not a.no_autogenerate:
                self.run_autogenerate()
        finally:
            if self.pg:
                self.pg.stop()
        self.elapsed = time.time() - t_start
        self.finish_targets()
        return self.render()

    def render(self):
        out = []
        m = self.machine
        out.append("# luamig benchmark results\n")
        out.append("Run %s, %s wall for the whole benchmark. Each cell: the median wall time of the "
                   "whole process; in small print the number of runs, the standard deviation σ and the "
                   "mean CPU time (user + system) of a run. Ratios are of medians (and of CPU times in "
                   "small print). Peak memory = max RSS of the process. Load average at the end: %s."
                   % (m["date"], fmt_time(self.elapsed), load_average()))
        out.append("")
        out.append("| machine | |")
        out.append("|---|---|")
        for k, v in m.items():
            if k != "date":
                out.append("| %s | %s |" % (k, v))
        out.append("")
        out.append("| history | command | database | luamig | raw client (limit) | luamig / limit | "
                   "Alembic | luamig / Alembic | luamig peak RSS | Alembic peak RSS | targets |")
        out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in self.rows:
            lmr = r.luamig if r.luamig and r.luamig.ok else None
            lim = r.limit if r.limit and r.limit.ok else None
            alr = r.alembic if r.alembic and r.alembic.ok else None
            rl = fmt_ratio(lmr.median if lmr else None, lim.median if lim else None)
            rl_cpu = fmt_ratio(lmr.cpu if lmr else None, lim.cpu if lim else None)
            ra = fmt_ratio(lmr.median if lmr else None, alr.median if alr else None)
            ra_s = "–" if ra is None else ("%.3g (%s× faster)" % (ra, ("%.0f" if ra < 0.1 else "%.1f") % (1 / ra)) if ra < 1 else "%.3g" % ra)
            targets = "; ".join("%s: %s" % (t, "**met**" if ok else ("**not met**" if ok is False else "n/a"))
                                for t, ok in r.targets)
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r.case, r.command, r.db,
                cell_result(r.luamig, "–"),
                (r.limit_label + ": " if r.limit_label and r.limit else "")
                + cell_result(r.limit, r.limit_missing),
                "–" if rl is None else "%.2f×%s" % (rl, "" if rl_cpu is None else
                                                     " <sub>cpu %.2f×</sub>" % rl_cpu),
                cell_result(r.alembic, r.alembic_missing),
                ra_s,
                fmt_mem(lmr.rss if lmr else None),
                fmt_mem(alr.rss if alr else None),
                "; ".join(x for x in (targets, r.extra) if x)))
        out.append("")
        out.append("## Targets\n")
        summary = {}
        for r in self.rows:
            for t, ok in r.targets:
                summary.setdefault((r.command, t), []).append((r, ok))
        for (cmd, t), items in summary.items():
            parts = []
            for r, ok in items:
                parts.append("%s/%s %s" % (r.case, r.db, "met" if ok else ("NOT MET" if ok is False else "n/a")))
            out.append("- `%s` %s — %s" % (cmd, t, ", ".join(parts)))
        if self.notes:
            out.append("\n## Notes\n")
            for n in self.notes:
                out.append("- " + n)
        return "\n".join(out) + "\n"


def ensure_one_transaction(path):
    """luamig runs a whole upgrade in one transaction; its --sql script says so
    with BEGIN/COMMIT. Wrap a script that lacks them, so that the raw client
    does the same work in the same transaction shape."""
    with open(path) as f:
        text = f.read()
    if not re.match(r"\s*BEGIN\b", text, re.I):
        with open(path, "w") as f:
            f.write("BEGIN;\n" + text + "\nCOMMIT;\n")


def load_average():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "?"


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine_info(b):
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    info["nproc"] = str(os.cpu_count())
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["memory"] = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    info["kernel"] = platform.release()
    try:
        with open("/etc/os-release") as f:
            osr = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
        info["os"] = osr.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    info["load average at start"] = load_average()
    rev = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "core", "lua"],
                           capture_output=True, text=True).stdout.strip()
    info["luamig"] = "%s (%s, commit %s%s)" % (first_line([b.luamig, "--version"]), b.luamig, rev,
                                               ", with uncommitted changes in core/ or lua/" if dirty else "")
    if b.alembic_python:
        info["alembic"] = "%s, SQLAlchemy %s, psycopg2 %s, %s" % (
            b.alembic_version, b.sqla_version, b.psycopg2_version or "not installed",
            first_line([b.alembic_python, "--version"]))
    else:
        info["alembic"] = b.alembic_reason
    info["sqlite3 CLI"] = (first_line([b.sqlite3, "--version"]) or "?").split()[0] if b.sqlite3 else "not installed"
    if b.pg:
        info["postgresql"] = "%s; %s" % (first_line([b.pg.psql, "--version"]), b.pg.settings())
    else:
        info["postgresql"] = b.pg_reason
    hf = shutil.which("hyperfine")
    info["timer"] = ((first_line([hf, "--version"]) or "hyperfine") + " (-N, no shell)"
                     if hf and not b.args.no_hyperfine else "Python loop (time.perf_counter)")
    info["timer"] += "; commands whose first run takes over %.0f s: Python loop, first run counted" % SLOW_S
    info["memory measure"] = ("/usr/bin/time -f %M" if b.runner.time_bin else
                              "VmHWM polled every ms (a process shorter than that: os.wait4 ru_maxrss, "
                              "which includes the harness's own pages)") + \
        ", first run of each command"
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--luamig", default=os.environ.get("LUAMIG") or os.path.join(ROOT, "build-bench", "luamig"),
                   help="the binary to measure (default: $LUAMIG or build-bench/luamig)")
    p.add_argument("--out", default="bench-results.md", help="Markdown file to write (default: %(default)s)")
    p.add_argument("--json", help="also write every measurement as JSON here")
    p.add_argument("--sizes", default="100,1000,10000", help="linear history sizes (default: %(default)s)")
    p.add_argument("--branchy-blocks", type=int, default=40,
                   help="blocks of the branchy history, ~23 revisions each; 0 to skip (default: %(default)s)")
    p.add_argument("--alembic-max", type=int, default=1000,
                   help="largest history on which Alembic runs upgrade/downgrade/--sql (default: %(default)s)")
    p.add_argument("--db-max", type=int, default=1000,
                   help="largest history on which downgrade and PostgreSQL run (default: %(default)s)")
    p.add_argument("--full", action="store_true",
                   help="no size limits: Alembic, downgrade and PostgreSQL at every size (slow)")
    p.add_argument("--test-max", type=int, default=1000,
                   help="largest history on which `luamig test` runs (default: %(default)s)")
    p.add_argument("--alembic-runs", type=int, default=3, help="at most this many Alembic runs (default: 3)")
    p.add_argument("--alembic-python", help="python interpreter that has alembic (default: found)")
    p.add_argument("--runs", type=int, help="force this many runs for every command")
    p.add_argument("--no-alembic", action="store_true")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--no-autogenerate", action="store_true")
    p.add_argument("--no-hyperfine", action="store_true", help="time with the Python loop")
    p.add_argument("--no-time", action="store_true", help="peak memory from os.wait4, not /usr/bin/time")
    p.add_argument("--quick", action="store_true", help="100 revisions, a small branchy history, 3 runs")
    p.add_argument("--workdir", help="where to generate the projects (default: a new temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    if a.full:
        a.db_max = a.alembic_max = 10 ** 9
    if a.quick:
        a.sizes, a.branchy_blocks, a.runs, a.alembic_runs = "100", 4, 3, 2
    if not os.access(a.luamig, os.X_OK):
        p.error("no luamig binary at %s (build it, or pass --luamig / set LUAMIG)" % a.luamig)

    b = Bench(a)

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        text = b.run()
    finally:
        if b.pg:
            b.pg.stop()
        if not a.keep and not a.workdir:
            shutil.rmtree(b.workdir, ignore_errors=True)
        elif a.keep:
            log("work directory kept: %s" % b.workdir)
    with open(a.out, "w") as f:
        f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": b.machine, "rows": [
                {"case": r.case, "n": r.n, "command": r.command, "db": r.db,
                 "luamig": r.luamig.as_dict() if r.luamig else None,
                 "limit": r.limit.as_dict() if r.limit else None,
                 "alembic": r.alembic.as_dict() if r.alembic else None,
                 "interleaved": r.paired.as_dict() if r.paired else None,
                 "targets": r.targets} for r in b.rows]}, f, indent=1)
    print(text)
    log("table written to %s" % os.path.abspath(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
