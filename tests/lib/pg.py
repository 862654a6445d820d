"""Helpers for tests that use the throwaway PostgreSQL of tests/pg (stdlib only).

The ctest fixture "postgres" (tests/pg/pg_fixture.py) starts a server and
writes its connection info to <test-tmp>/pg.env. This module reads that
file, found through LUAMIG_TEST_PG_ENV or else LUAMIG_TEST_TMP/pg.env, and
talks to the server through the `psql` client.

    import pg
    pg.skip_unless_available()       # in setUp: skip outside CI, fail under CI=true
    url = pg.create_database("test_upgrade")      # fresh, any leftover dropped
    pg.psql(url, "select 1, null")                 # -> [("1", None)]
    before = pg.schema_dump(url)                   # catalog dump, comparable with ==

Values come back as text, exactly as psql prints them in unaligned mode
(booleans "t"/"f"), and NULL as None.
"""
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

FIELD_SEP = "\x1f"     # between fields of a row
NULL_MARK = "\x1d"     # what psql prints for NULL; no real value is this
# Rows end with a zero byte (psql -0): values can hold newlines, never NUL.

_info = None


class PsqlError(Exception):
    """psql failed; str() is its stderr (the server's message)."""


def env_file():
    """The path of the fixture's pg.env (which may not exist)."""
    path = os.environ.get("LUAMIG_TEST_PG_ENV")
    if path:
        return path
    tmp = os.environ.get("LUAMIG_TEST_TMP")
    if not tmp:
        # Run by hand from a build directory without ctest's environment.
        tmp = os.path.join(os.getcwd(), "test-tmp")
    return os.path.join(tmp, "pg.env")


def info():
    """The fixture's KEY -> value dict (LUAMIG_TEST_PG_URL, ...), or {} when absent."""
    global _info
    if _info is None:
        values = {}
        try:
            with open(env_file()) as f:
                for line in f:
                    line = line.rstrip("\n")
                    if not line or line.startswith("#") or "=" not in line:
                        continue
                    key, value = line.split("=", 1)
                    if len(value) >= 2 and value[0] == value[-1] == "'":
                        value = value[1:-1]
                    values[key] = value
        except OSError:
            pass
        _info = values
    return _info


def pg_available():
    """True when the fixture's server is up and answers."""
    if "LUAMIG_TEST_PG_URL" not in info():
        return False
    try:
        return psql(info()["LUAMIG_TEST_PG_URL"], "select 1") == [("1",)]
    except (PsqlError, OSError):
        return False


def under_ci():
    return os.environ.get("CI", "").lower() == "true"


def require():
    """For a test that needs PostgreSQL: returns when it is there; otherwise
    exits 77 (skip) outside CI, and fails under CI=true, where PostgreSQL
    must be present."""
    if pg_available():
        return
    where = env_file()
    if under_ci():
        sys.exit("PostgreSQL fixture not available (%s) and CI=true: failing" % where)
    print("PostgreSQL fixture not available (%s): skipping" % where)
    sys.exit(77)


def skip_unless_available():
    """For a unittest test (setUp or setUpClass): raises unittest.SkipTest when
    PostgreSQL is missing outside CI, RuntimeError (a failure) under CI=true.
    Unlike require(), needs no SKIP_RETURN_CODE on the ctest test."""
    if pg_available():
        return
    import unittest
    if under_ci():
        raise RuntimeError("PostgreSQL fixture not available (%s) and CI=true" % env_file())
    raise unittest.SkipTest("PostgreSQL fixture not available (%s)" % env_file())


def url(dbname="postgres", password=False, tcp=False, driver=None):
    """A URL for dbname on the fixture's server.

    password=True: as the role luamig_pw, which needs its password (in the
    URL); tcp=True: over 127.0.0.1 instead of the unix socket; driver="psycopg2"
    gives postgresql+psycopg2://, as SQLAlchemy users write it."""
    i = info()
    scheme = "postgresql" + ("+" + driver if driver else "")
    db = urllib.parse.quote(dbname, safe="")
    port = i["LUAMIG_TEST_PG_PORT"]
    if password:
        user = "luamig_pw:" + urllib.parse.quote(i["LUAMIG_TEST_PG_PASSWORD"], safe="")
    else:
        user = i.get("LUAMIG_TEST_PG_USER", "postgres")
    if tcp:
        return "%s://%s@127.0.0.1:%s/%s" % (scheme, user, port, db)
    host = urllib.parse.quote(i["LUAMIG_TEST_PG_HOST"], safe="/")
    return "%s://%s@/%s?host=%s&port=%s" % (scheme, user, db, host, port)


def password():
    """The password of the role luamig_pw, for checking that it never leaks."""
    return info()["LUAMIG_TEST_PG_PASSWORD"]


def _libpq_url(u):
    """psql does not know SQLAlchemy's +driver suffix."""
    return re.sub(r"^postgres(ql)?\+[A-Za-z0-9_]+://", "postgresql://", u)


def _psql_bin():
    bindir = info().get("LUAMIG_TEST_PG_BINDIR")
    if bindir and os.access(os.path.join(bindir, "psql"), os.X_OK):
        return os.path.join(bindir, "psql")
    return shutil.which("psql") or "psql"


def psql(url_, sql, check=True):
    """Runs sql (one or more statements) through psql with ON_ERROR_STOP and
    returns every row that the statements produce, as tuples of str (None for
    NULL). Raises PsqlError with psql's stderr on failure when check is true."""
    cmd = [_psql_bin(), "-X", "-q", "-A", "-t", "-F", FIELD_SEP, "-0",
           "-P", "null=" + NULL_MARK, "-v", "ON_ERROR_STOP=1",
           "-d", _libpq_url(url_), "-f", "-"]
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env["PGAPPNAME"] = "luamig-tests"
    r = subprocess.run(cmd, input=sql.encode(), capture_output=True, env=env)
    if r.returncode != 0:
        if check:
            raise PsqlError(r.stderr.decode(errors="replace").strip())
        return None
    out = r.stdout.decode()
    rows = []
    for rec in out.split("\0")[:-1]:
        rows.append(tuple(None if v == NULL_MARK else v for v in rec.split(FIELD_SEP)))
    return rows


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def create_database(name, owner=None):
    """Creates a fresh, empty database (dropping any leftover of that name,
    even with sessions still connected) and returns a superuser URL for it.
    owner: a role to own it (e.g. "luamig_pw"), so that url(name,
    password=True) can create objects in its public schema."""
    admin = info()["LUAMIG_TEST_PG_URL"]
    psql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % quote_ident(name))
    psql(admin, "CREATE DATABASE %s%s;" % (
        quote_ident(name), " OWNER " + quote_ident(owner) if owner else ""))
    if owner:
        # PostgreSQL 15 keeps public's CREATE for the schema owner only.
        psql(url(name), "ALTER SCHEMA public OWNER TO %s;" % quote_ident(owner))
    return url(name)


def drop_database(name):
    psql(info()["LUAMIG_TEST_PG_URL"], "DROP DATABASE IF EXISTS %s WITH (FORCE);" % quote_ident(name))


def _lit(s):
    return "'" + s.replace("'", "''") + "'"


def schema_dump(url_, schema="public"):
    """The schema of one namespace read from pg_catalog, normalised into plain
    dicts and lists so that two dumps compare with == and print as JSON:

    {"tables": {name: {"columns": [{"name", "type", "nullable", "default",
                                     "identity", "generated", "comment"}, ...],   # by position
                       "constraints": {name: {"type": "p|u|f|c|x", "def": ...}},
                       "indexes": {name: {"unique", "primary", "constraint",
                                          "columns", "def"}},
                       "comment": str or None}},
     "sequences": [names], "views": {name: definition},
     "enums": {name: [labels in order]}}

    Types come from format_type (e.g. "character varying(50)"), defaults and
    definitions from pg_get_expr / pg_get_constraintdef / pg_get_indexdef with
    the schema name removed, so a dump does not depend on the search path."""
    ns = _lit(schema)
    prefix = re.compile(r"\b" + re.escape(quote_ident(schema) if not re.match(r"^[a-z_][a-z0-9_]*$", schema)
                                          else schema) + r"\.")

    def strip(s):
        return prefix.sub("", s) if s is not None else None

    tables = {}
    for (name, comment) in psql(url_, """
        select c.relname, obj_description(c.oid, 'pg_class')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('r', 'p') order by 1;""" % ns):
        tables[name] = {"columns": [], "constraints": {}, "indexes": {}, "comment": comment}

    for (tbl, col, typ, notnull, default, identity, generated, comment) in psql(url_, """
        select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               col_description(c.oid, a.attnum)
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname = %s and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
        order by c.relname, a.attnum;""" % ns):
        tables[tbl]["columns"].append({
            "name": col, "type": strip(typ), "nullable": notnull == "f",
            "default": None if generated else strip(default),
            "identity": {"a": "always", "d": "by default"}.get(identity),
            "generated": strip(default) if generated else None,
            "comment": comment})

    for (tbl, name, ctype, definition) in psql(url_, """
        select c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid, true)
        from pg_constraint k
        join pg_class c on c.oid = k.conrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('r', 'p') order by 1, 2;""" % ns):
        tables[tbl]["constraints"][name] = {"type": ctype, "def": strip(definition)}

    for (tbl, name, unique, primary, constraint, cols, definition) in psql(url_, """
        select t.relname, i.relname, x.indisunique, x.indisprimary,
               exists (select 1 from pg_constraint k where k.conindid = x.indexrelid),
               array_to_string(array(
                   select coalesce(a.attname, '(expr)')
                   from unnest(x.indkey) with ordinality as k(attnum, pos)
                   left join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum
                   order by k.pos), ','),
               pg_get_indexdef(x.indexrelid)
        from pg_index x
        join pg_class i on i.oid = x.indexrelid
        join pg_class t on t.oid = x.indrelid
        join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = %s and t.relkind in ('r', 'p') order by 1, 2;""" % ns):
        tables[tbl]["indexes"][name] = {
            "unique": unique == "t", "primary": primary == "t", "constraint": constraint == "t",
            "columns": cols.split(",") if cols else [], "def": strip(definition)}

    sequences = [r[0] for r in psql(url_, """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind = 'S' order by 1;""" % ns)]

    views = {r[0]: strip(r[1]).strip() for r in psql(url_, """
        select c.relname, pg_get_viewdef(c.oid, true)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('v', 'm') order by 1;""" % ns)}

    enums = {}
    for (name, label) in psql(url_, """
        select t.typname, e.enumlabel
        from pg_type t join pg_enum e on e.enumtypid = t.oid
        join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = %s order by t.typname, e.enumsortorder;""" % ns):
        enums.setdefault(name, []).append(label)

    return {"tables": tables, "sequences": sequences, "views": views, "enums": enums}


def advisory_key(key):
    """The pg_advisory_lock id luamig uses for a runner lock key: 64-bit
    FNV-1a of the key's UTF-8 bytes as a signed bigint (as
    lm_pg_advisory_key in core/driver_pg.c)."""
    h = 14695981039346656037
    for byte in key.encode():
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h - (1 << 64) if h >= (1 << 63) else h


def advisory_locks(url_):
    """How many advisory locks are held in url_'s own database.  pg_locks is
    server-wide, and tests of other databases run beside this one."""
    rows = psql(url_, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                "database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    return int(rows[0][0])


def scratch_databases_left(running=None):
    """The luamig_test_<pid>_... scratch databases of luamig processes that have ended: what a
    run left behind.  Those of a luamig still running (another test's, beside this one) are
    not counted, except those of the pid `running`."""
    left = []
    for (name,) in psql(url(), "SELECT datname FROM pg_database WHERE datname LIKE "
                        "'luamig\\_test\\_%' ORDER BY datname"):
        pid = name.split("_")[2]
        if pid == str(running):
            left.append(name)
            continue
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            left.append(name)
        except PermissionError:
            pass
    return left


# a pg_stat_activity condition for sessions of the connected database only
THIS_DATABASE = "datname = current_database()"


class held_lock:
    """Holds luamig's runner lock from another session, as a second runner
    would, for as long as the with-block lasts:

        with pg.held_lock(url, key) as pid:
            ...luamig must wait, or fail naming pid...
    """

    def __init__(self, url_, key):
        self.url = _libpq_url(url_)
        self.key = key
        self.proc = None

    def __enter__(self):
        env = dict(os.environ)
        env["PGAPPNAME"] = "luamig-tests-lock"
        self.proc = subprocess.Popen(
            [_psql_bin(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # psql answers each line as it comes: once the pid is printed, the
        # lock is held.
        self.proc.stdin.write("select pg_advisory_lock(%d), pg_backend_pid();\n" % advisory_key(self.key))
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            self.proc.wait()
            raise PsqlError(err.strip())
        self.pid = int(line.strip().split("|")[-1])
        return self.pid

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return False


def table_names(url_, schema="public"):
    """The names of the tables in schema, sorted."""
    return sorted(schema_dump(url_, schema)["tables"])
