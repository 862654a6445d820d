#!/usr/bin/env python3
"""The throwaway PostgreSQL server that the tests share (ctest fixture "postgres").

    pg_fixture.py start <test-tmp>    initdb, configure, start, wait, write <test-tmp>/pg.env
    pg_fixture.py stop  <test-tmp>    stop the server and remove everything start made
    pg_fixture.py crash <test-tmp>    stop it at once (pg_ctl stop -m immediate): sessions are
                                      cut mid-statement, as when the server dies
    pg_fixture.py restart <test-tmp>  start it again after crash, same port and socket (crash
                                      recovery runs), and wait until it answers

A test that stops its server uses one of its own (start/crash/restart/stop on
a directory of its own, or the functions of the same names), never the shared one.

The server lives in <test-tmp>/pg (or, when that path is too long for a unix
socket or not reachable by the postgres user, in a directory under /tmp that
<test-tmp>/pg-state.json records). It listens on a unix socket in its own
directory and on 127.0.0.1 at a free port, so that several build trees on one
machine never meet.

Authentication: trust for everyone except the role luamig_pw, which must give
its password (scram-sha-256), so that tests can check that a password never
leaks into output. The password is fresh for each run.

pg.env holds KEY='value' lines (single-quoted, no quotes inside values):
    LUAMIG_TEST_PG_URL        superuser URL over the unix socket
    LUAMIG_TEST_PG_TCP_URL    superuser URL over TCP
    LUAMIG_TEST_PG_PW_URL     luamig_pw with its password, over TCP
    LUAMIG_TEST_PG_PW_SOCK_URL  luamig_pw with its password, over the socket
    LUAMIG_TEST_PG_PASSWORD   that password
    LUAMIG_TEST_PG_HOST / _PORT / _USER / _BINDIR

Exit status: 0 ok; 77 (ctest's SKIP_RETURN_CODE here) when PostgreSQL is not
installed and CI is not "true"; 1 otherwise. Under CI=true a missing
PostgreSQL is a failure, never a skip.
"""
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
PW_ROLE = "luamig_pw"
# Room for "/.s.PGSQL.NNNNN.lock" within the 107 bytes of sun_path.
MAX_SOCKDIR = 80


def log(msg):
    print("pg_fixture: " + msg, flush=True)


def under_ci():
    return os.environ.get("CI", "").lower() == "true"


def find_bindir():
    """The directory holding initdb, pg_ctl and postgres, or None.
    LUAMIG_PG_BINDIR, when set, is the only place looked at (to pick a
    version, or to check how the fixture behaves without PostgreSQL)."""
    forced = os.environ.get("LUAMIG_PG_BINDIR")
    if forced:
        candidates = [forced]
    else:
        candidates = []
        try:
            candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True,
                                             text=True, check=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            pass

        # Debian's pg_config (from libpq-dev) may name a version that has no
        # server installed; try every installed server too, newest first.
        def version(path):
            try:
                return int(path.split("/")[-2])
            except ValueError:
                return 0
        candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def is_root():
    return os.geteuid() == 0


def as_server_user(cmd):
    """initdb and postgres refuse root: run them as the postgres system user."""
    if is_root():
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def server_user_can_reach(path):
    if not is_root():
        return True
    r = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", path, "-a", "-w", path])
    return r.returncode == 0


def chown_server_user(path):
    if is_root():
        shutil.chown(path, "postgres", "postgres")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def state_path(tmp):
    return os.path.join(tmp, "pg-state.json")


def env_path(tmp):
    return os.path.join(tmp, "pg.env")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_server(datadir, bindir):
    """Stops whatever postmaster runs on datadir; quiet when none does."""
    pidfile = os.path.join(datadir, "postmaster.pid")
    if not os.path.exists(pidfile):
        return
    if bindir:
        for mode in ("fast", "immediate"):
            r = run(as_server_user([os.path.join(bindir, "pg_ctl"), "-D", datadir,
                                    "-m", mode, "-w", "-t", "30", "stop"]), check=False)
            if r.returncode == 0 or not os.path.exists(pidfile):
                return
    # pg_ctl failed or is gone: the first line of postmaster.pid is the pid.
    try:
        with open(pidfile) as f:
            pid = int(f.readline().strip())
    except (OSError, ValueError):
        return
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        if not pid_alive(pid):
            break
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)


def clean(tmp):
    """Stops and removes what a previous start left, whether it ended well or not."""
    state = None
    try:
        with open(state_path(tmp)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        pass
    dirs = [os.path.join(tmp, "pg")]
    bindir = find_bindir()
    if state:
        bindir = state.get("bindir") or bindir
        dirs = [state.get("base"), state.get("sockdir")] + dirs
    for d in dirs:
        if d and os.path.isdir(os.path.join(d, "data")):
            stop_server(os.path.join(d, "data"), bindir)
    for d in dirs:
        if d and os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)
    for f in (state_path(tmp), env_path(tmp)):
        if os.path.exists(f):
            os.remove(f)


def quote(v):
    v = str(v)
    if "'" in v or "\n" in v:
        raise RuntimeError("unexpected quote in fixture value: %r" % v)
    return "'" + v + "'"


def start(tmp):
    os.makedirs(tmp, exist_ok=True)
    clean(tmp)
    bindir = find_bindir()
    if not bindir:
        msg = "PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin)"
        if under_ci():
            log(msg + "; CI=true, so this is a failure (install the 'postgresql' package)")
            return 1
        log(msg + "; skipping PostgreSQL tests")
        return SKIP

    base = os.path.join(tmp, "pg")
    sockdir = base
    if len(base) > MAX_SOCKDIR or "'" in base:
        sockdir = None
    os.makedirs(base)
    chown_server_user(base)
    if not server_user_can_reach(base):
        shutil.rmtree(base)
        base = tempfile.mkdtemp(prefix="luamig-pg-")
        sockdir = base
        chown_server_user(base)
    if sockdir is None:
        sockdir = tempfile.mkdtemp(prefix="luamig-pgs-")
        chown_server_user(sockdir)
    datadir = os.path.join(base, "data")
    with open(state_path(tmp), "w") as f:
        json.dump({"base": base, "sockdir": sockdir if sockdir != base else None,
                   "bindir": bindir}, f)

    password = "pw-" + secrets.token_hex(12)
    run(as_server_user([os.path.join(bindir, "initdb"), "-D", datadir, "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]))
    with open(os.path.join(datadir, "pg_hba.conf"), "w") as f:
        # First match wins: the password role is checked before the trust lines.
        f.write("local all %s scram-sha-256\n" % PW_ROLE)
        f.write("host  all %s 127.0.0.1/32 scram-sha-256\n" % PW_ROLE)
        f.write("local all all trust\n")
        f.write("host  all all 127.0.0.1/32 trust\n")
    chown_server_user(os.path.join(datadir, "pg_hba.conf"))

    logfile = os.path.join(base, "server.log")
    port = None
    for attempt in range(5):
        port = free_port()
        opts = ("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories='%s' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=100 -c password_encryption=scram-sha-256" % (port, sockdir))
        # a test that needs other server settings starts a server of its own with them
        opts += " " + os.environ.get("LUAMIG_PG_FIXTURE_OPTS", "")
        r = run(as_server_user([os.path.join(bindir, "pg_ctl"), "-D", datadir, "-l", logfile,
                                "-o", opts, "-w", "-t", "60", "start"]), check=False)
        if r.returncode == 0:
            # what restart needs to start it again as it is
            with open(state_path(tmp), "w") as f:
                json.dump({"base": base, "sockdir": sockdir if sockdir != base else None,
                           "bindir": bindir, "datadir": datadir, "logfile": logfile,
                           "opts": opts, "port": port, "socket": sockdir}, f)
            break
        log("start on port %d failed (attempt %d):\n%s%s" % (port, attempt + 1, r.stdout, r.stderr))
        stop_server(datadir, bindir)
    else:
        try:
            with open(logfile) as f:
                log("server log:\n" + f.read())
        except OSError:
            pass
        return 1

    if not wait_ready(bindir, sockdir, port):
        return 1
    psql = psql_path(bindir)
    # The password travels on stdin so that it appears in no process listing.
    r = run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockdir, "-p", str(port),
             "-U", "postgres", "-d", "postgres", "-f", "-"],
            input="CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s';\n" % (PW_ROLE, password))

    env = {
        "LUAMIG_TEST_PG_URL": "postgresql:///postgres?host=%s&port=%d&user=postgres" % (sockdir, port),
        "LUAMIG_TEST_PG_TCP_URL": "postgresql://postgres@127.0.0.1:%d/postgres" % port,
        "LUAMIG_TEST_PG_PW_URL": "postgresql://%s:%s@127.0.0.1:%d/postgres" % (PW_ROLE, password, port),
        "LUAMIG_TEST_PG_PW_SOCK_URL": "postgresql://%s:%s@/postgres?host=%s&port=%d"
                                      % (PW_ROLE, password, sockdir, port),
        "LUAMIG_TEST_PG_PASSWORD": password,
        "LUAMIG_TEST_PG_HOST": sockdir,
        "LUAMIG_TEST_PG_PORT": str(port),
        "LUAMIG_TEST_PG_USER": "postgres",
        "LUAMIG_TEST_PG_BINDIR": bindir,
    }
    tmpenv = env_path(tmp) + ".new"
    with open(tmpenv, "w") as f:
        for k, v in env.items():
            f.write("%s=%s\n" % (k, quote(v)))
    os.replace(tmpenv, env_path(tmp))
    log("PostgreSQL from %s ready on %s (socket) and 127.0.0.1:%d; info in %s"
        % (bindir, sockdir, port, env_path(tmp)))
    return 0


def psql_path(bindir):
    psql = os.path.join(bindir, "psql")
    if not os.access(psql, os.X_OK):
        psql = shutil.which("psql") or "psql"
    return psql


def wait_ready(bindir, sockdir, port):
    """Waits until the server answers a query (pg_ctl -w already waits, but
    a query proves it); False, after saying why, when it never does."""
    for _ in range(100):
        r = run([psql_path(bindir), "-X", "-q", "-h", sockdir, "-p", str(port), "-U", "postgres",
                 "-d", "postgres", "-c", "select 1"], check=False)
        if r.returncode == 0:
            return True
        time.sleep(0.1)
    log("server did not answer: " + r.stderr)
    return False


def started_state(tmp):
    with open(state_path(tmp)) as f:
        state = json.load(f)
    if "opts" not in state:
        raise RuntimeError("no server was started in %s" % tmp)
    return state


def crash(tmp):
    """Stops the server of tmp at once (pg_ctl stop -m immediate): every
    session is cut where it is, nothing is checkpointed, and the next start
    runs crash recovery, as after a crash."""
    state = started_state(tmp)
    run(as_server_user([os.path.join(state["bindir"], "pg_ctl"), "-D", state["datadir"],
                        "-m", "immediate", "-w", "-t", "30", "stop"]))
    return 0


def restart(tmp):
    """Starts the server of tmp again (after crash, or stop -m immediate by
    hand) on the same port and socket, and waits until it answers."""
    state = started_state(tmp)
    r = run(as_server_user([os.path.join(state["bindir"], "pg_ctl"), "-D", state["datadir"],
                            "-l", state["logfile"], "-o", state["opts"], "-w", "-t", "60",
                            "start"]), check=False)
    if r.returncode != 0:
        log("restart failed:\n%s%s" % (r.stdout, r.stderr))
        return 1
    return 0 if wait_ready(state["bindir"], state["socket"], state["port"]) else 1


def main(argv):
    commands = ("start", "stop", "crash", "restart")
    if len(argv) != 3 or argv[1] not in commands:
        print("usage: pg_fixture.py %s <test-tmp-dir>" % "|".join(commands), file=sys.stderr)
        return 2
    tmp = os.path.abspath(argv[2])
    try:
        if argv[1] == "start":
            rc = start(tmp)
            if rc == 1:
                clean(tmp)
            return rc
        if argv[1] == "crash":
            return crash(tmp)
        if argv[1] == "restart":
            return restart(tmp)
        clean(tmp)
        return 0
    except (OSError, RuntimeError) as e:
        log(str(e))
        if argv[1] == "start":
            clean(tmp)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
