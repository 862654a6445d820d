"""Schema snapshots read through the database's own catalog, in the shape of
the ops conformance recordings (tests/conformance/ops/recorded/*/*.json,
"schema"): SQLite through sqlite_master and PRAGMAs, PostgreSQL through
pg_catalog with psql. Nothing here uses luamig's code.

    snap = catalog.snapshot("sqlite", path_or_url, version_table="luamig_version")
    snap["tables"]["t"]["columns"] -> [{"name", "type", "nullable", "default"}, ...]

Per table: columns, primary_key, indexes, unique_constraints, foreign_keys,
check_constraints, rows (values tagged as the recordings tag them: {"decimal":
"10.50"}, {"date": ...}, {"datetime": ...}, booleans as true/false, datetimes
within two days of now as {"datetime": "<now>"}), and comment (PostgreSQL).
Besides "tables": the version table's rows under its own name, and the raw
catalog rows (sqlite_master; schemas, enums, sequences, pg_indexes,
pg_constraints).
"""
import datetime
import json
import re
import sqlite3

import pg


# -- SQL text ------------------------------------------------------------------

def tokenize(sql):
    """Tokens of SQL text: (kind, text), kind in word, ident, string, punct."""
    toks, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c in "'\"`[":
            close = "]" if c == "[" else c
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if close != "]" and j + 1 < n and sql[j + 1] == close:
                        j += 2
                        continue
                    break
                j += 1
            inner = sql[i + 1:j]
            if close != "]":
                inner = inner.replace(close * 2, close)
            toks.append(("string" if c == "'" else "ident", inner, i, j + 1))
            i = j + 1
        elif c.isalnum() or c in "_$":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            toks.append(("word", sql[i:j], i, j))
            i = j
        else:
            toks.append(("punct", c, i, i + 1))
            i += 1
    return toks


def split_top(sql, open_at):
    """The top-level comma-separated items inside the parenthesis that opens
    at character open_at, as (text, tokens) pairs, and the index after ')'."""
    toks = [t for t in tokenize(sql) if t[2] >= open_at]
    depth, items, cur, start = 0, [], [], None
    for t in toks:
        if t[0] == "punct" and t[1] == "(":
            depth += 1
            if depth == 1:
                start = t[3]
                continue
        elif t[0] == "punct" and t[1] == ")":
            depth -= 1
            if depth == 0:
                items.append((sql[start:t[2]], cur))
                return items, t[3]
        if depth == 1 and t[0] == "punct" and t[1] == ",":
            items.append((sql[start:t[2]], cur))
            cur, start = [], t[3]
            continue
        cur.append(t)
    raise ValueError("unbalanced parentheses: " + sql)


def _paren_text(sql, toks, k):
    """The text inside the parenthesis opening at toks[k] and the index of the
    token after the closing one."""
    depth = 0
    for j in range(k, len(toks)):
        if toks[j][0] == "punct" and toks[j][1] == "(":
            depth += 1
        elif toks[j][0] == "punct" and toks[j][1] == ")":
            depth -= 1
            if depth == 0:
                return sql[toks[k][3]:toks[j][2]], j + 1
    raise ValueError("unbalanced parentheses")


def _names(text):
    return [t[1] for t in tokenize(text) if t[0] in ("word", "ident")]


CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


def parse_create_table(sql):
    """What the stored CREATE TABLE says about constraint names and checks:
    {"pk_name", "uniques": [{name, column_names}], "checks": [{name, sqltext}],
     "fk_names": {(cols...): name}}."""
    out = {"pk_name": None, "uniques": [], "checks": [], "fk_names": {}}
    items, _ = split_top(sql, sql.index("("))
    for text, toks in items:
        if not toks:
            continue
        up = [t[1].upper() if t[0] == "word" else None for t in toks]
        if up[0] in CONSTRAINT_WORDS:
            name, k = None, 0
            if up[0] == "CONSTRAINT":
                name, k = toks[1][1], 2
            if up[k] == "PRIMARY":
                out["pk_name"] = name
            elif up[k] == "UNIQUE":
                sub = tokenize(text)
                j = [i for i, t in enumerate(sub) if t[0] == "punct" and t[1] == "("][0]
                inner, _ = _paren_text(text, sub, j)
                out["uniques"].append({"name": name, "column_names": _names(inner)})
            elif up[k] == "CHECK":
                sub = tokenize(text)
                j = [i for i, t in enumerate(sub) if t[0] == "punct" and t[1] == "("][0]
                inner, _ = _paren_text(text, sub, j)
                out["checks"].append({"name": name, "sqltext": inner.strip()})
            elif up[k] == "FOREIGN":
                sub = tokenize(text)
                j = [i for i, t in enumerate(sub) if t[0] == "punct" and t[1] == "("][0]
                inner, _ = _paren_text(text, sub, j)
                out["fk_names"][tuple(_names(inner))] = name
            continue
        # a column definition: inline UNIQUE / CHECK / REFERENCES
        col = toks[0][1]
        sub = tokenize(text)
        subup = [t[1].upper() if t[0] == "word" else None for t in sub]
        i = 1
        pending_name = None
        while i < len(sub):
            if subup[i] == "CONSTRAINT" and i + 1 < len(sub):
                pending_name = sub[i + 1][1]
                i += 2
                continue
            if subup[i] == "UNIQUE":
                out["uniques"].append({"name": pending_name, "column_names": [col]})
                pending_name = None
            elif subup[i] == "CHECK":
                inner, nxt = _paren_text(text, sub, i + 1)
                out["checks"].append({"name": pending_name, "sqltext": inner.strip()})
                pending_name = None
                i = nxt
                continue
            elif subup[i] == "REFERENCES":
                out["fk_names"][(col,)] = pending_name
                pending_name = None
            elif sub[i][0] == "punct" and sub[i][1] == "(":
                _, i = _paren_text(text, sub, i)
                continue
            i += 1
    return out


def canonical_create_table(sql):
    """A CREATE TABLE statement with whitespace collapsed and its table-level
    constraints sorted (Alembic's batch mode emits them in set order)."""
    m = re.match(r"\s*CREATE\s+TABLE\b", sql, re.I)
    if not m or "(" not in sql:
        return " ".join(sql.split())
    open_at = sql.index("(")
    items, end = split_top(sql, open_at)
    cols, cons = [], []
    for text, toks in items:
        norm = " ".join(text.split())
        if toks and toks[0][0] == "word" and toks[0][1].upper() in CONSTRAINT_WORDS:
            cons.append(norm)
        else:
            cols.append(norm)
    head = " ".join(sql[:open_at].split())
    tail = " ".join(sql[end:].split())
    return "%s (%s)%s" % (head, ", ".join(cols + sorted(cons)), (" " + tail) if tail else "")


# -- values --------------------------------------------------------------------

def _recent(dt):
    return abs((datetime.datetime.now() - dt).total_seconds()) < 2 * 86400 or \
        abs((datetime.datetime.utcnow() - dt).total_seconds()) < 2 * 86400


def _datetime(text):
    s = text.strip().replace("T", " ")
    s = re.sub(r"([+-]\d\d)(:?\d\d)?$", "", s) if re.search(r"\d[+-]\d\d(:?\d\d)?$", s) else s
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            dt = datetime.datetime.strptime(s, fmt)
            break
        except ValueError:
            continue
    else:
        return {"datetime": text}
    if _recent(dt):
        return {"datetime": "<now>"}
    return {"datetime": dt.isoformat()}


def _decimal(v, scale):
    if v is None:
        return None
    if isinstance(v, str):
        text = v
    elif scale is not None:
        text = "%.*f" % (scale, v)
    else:
        text = repr(v)
    return {"decimal": text}


def convert(v, type_text):
    """A raw database value as SQLAlchemy returned it for a column of type_text
    (the recorded, compiled type name), tagged as in the recordings."""
    if v is None:
        return None
    t = type_text.upper()
    if t == "BOOLEAN":
        if isinstance(v, str):
            return v in ("t", "true")
        return bool(v)
    m = re.match(r"^(NUMERIC|DECIMAL)(?:\((\d+)(?:, (\d+))?\))?$", t)
    if m:
        return _decimal(v, int(m.group(3)) if m.group(3) else None)
    if t == "DATE":
        return {"date": v}
    if t.startswith("DATETIME") or t.startswith("TIMESTAMP"):
        return _datetime(v)
    if t.startswith("TIME"):
        return {"time": v}
    if t in ("INTEGER", "BIGINT", "SMALLINT") and isinstance(v, str):
        return int(v)
    if t in ("DOUBLE PRECISION", "REAL", "FLOAT") and isinstance(v, str):
        return float(v)
    if t in ("JSON", "JSONB") and isinstance(v, str):
        return json.loads(v)
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    return v


def row_key(row):
    return json.dumps(row, sort_keys=True, default=str)


# -- SQLite ----------------------------------------------------------------------

def _sqlite_type(declared):
    if not declared:
        return "NullType()"
    t = " ".join(declared.split()).upper()
    return re.sub(r"\s*,\s*", ", ", t).replace("( ", "(").replace(" )", ")")


def sqlite_snapshot(path, version_table="luamig_version"):
    con = sqlite3.connect(path)
    try:
        q = lambda s: con.execute(s).fetchall()
        master = sorted([list(r) for r in q("SELECT type, name, tbl_name, sql FROM sqlite_master")],
                        key=lambda r: (r[0], r[1]))
        names = sorted(r[1] for r in master if r[0] == "table" and r[1] != version_table
                       and not (r[1].startswith("sqlite_") and r[1] != "sqlite_sequence"))
        tables = {}
        for name in names:
            sql = [r[3] for r in master if r[0] == "table" and r[1] == name][0]
            parsed = parse_create_table(sql) if name != "sqlite_sequence" else \
                {"pk_name": None, "uniques": [], "checks": [], "fk_names": {}}
            info = q('PRAGMA table_info("%s")' % name)
            cols = [{"name": r[1], "type": _sqlite_type(r[2]), "nullable": not r[3],
                     "default": r[4]} for r in info]
            pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]
            indexes = []
            for r in q('PRAGMA index_list("%s")' % name):
                iname = r[1]
                if iname.startswith("sqlite_autoindex"):
                    continue
                iinfo = q('PRAGMA index_info("%s")' % iname)
                if any(x[1] == -2 for x in iinfo):
                    continue        # expression index: SQLAlchemy 1.4 skips it
                isql = [m[3] for m in master if m[0] == "index" and m[1] == iname][0] or ""
                where = re.search(r"\)\s+WHERE\s+(.*)$", isql, re.I | re.S)
                ix = {"name": iname, "column_names": [x[2] for x in sorted(iinfo)],
                      "unique": bool(r[2])}
                if where:
                    ix["where"] = " ".join(where.group(1).split())
                indexes.append(ix)
            fks = {}
            for r in q('PRAGMA foreign_key_list("%s")' % name):
                fk = fks.setdefault(r[0], {"constrained_columns": [], "referred_schema": None,
                                           "referred_table": r[2], "referred_columns": [],
                                           "options": {}})
                fk["constrained_columns"].append(r[3])
                fk["referred_columns"].append(r[4])
                if r[6] and r[6] != "NO ACTION":
                    fk["options"]["ondelete"] = r[6]
                if r[5] and r[5] != "NO ACTION":
                    fk["options"]["onupdate"] = r[5]
            foreign_keys = []
            for fk in fks.values():
                fk["name"] = parsed["fk_names"].get(tuple(fk["constrained_columns"]))
                foreign_keys.append(fk)
            types = [c["type"] for c in cols]
            rows = [[convert(v, types[i]) for i, v in enumerate(r)]
                    for r in q('SELECT * FROM "%s"' % name)]
            tables[name] = {
                "columns": cols,
                "primary_key": {"name": parsed["pk_name"] if pk else None, "columns": pk},
                "indexes": indexes,
                "unique_constraints": parsed["uniques"],
                "foreign_keys": foreign_keys,
                "check_constraints": parsed["checks"],
                "rows": sorted(rows, key=row_key),
            }
        version = None
        if any(r[0] == "table" and r[1] == version_table for r in master):
            version = sorted(r[0] for r in q("SELECT version_num FROM %s" % version_table))
        return {"tables": tables, version_table: version, "sqlite_master": master}
    finally:
        con.close()


# -- PostgreSQL --------------------------------------------------------------------

PG_TYPES = {
    "integer": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT", "text": "TEXT",
    "boolean": "BOOLEAN", "date": "DATE", "double precision": "DOUBLE PRECISION",
    "real": "REAL", "bytea": "BYTEA", "json": "JSON", "jsonb": "JSONB", "interval": "INTERVAL",
    "uuid": "UUID", "character varying": "VARCHAR",
    "timestamp without time zone": "TIMESTAMP WITHOUT TIME ZONE",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "time without time zone": "TIME WITHOUT TIME ZONE",
    "time with time zone": "TIME WITH TIME ZONE",
}


def _pg_type(t, typtype):
    if typtype == "e":
        return t.split(".")[-1]
    if t in PG_TYPES:
        return PG_TYPES[t]
    m = re.match(r"^character varying\((\d+)\)$", t)
    if m:
        return "VARCHAR(%s)" % m.group(1)
    m = re.match(r"^character\((\d+)\)$", t)
    if m:
        return "CHAR(%s)" % m.group(1)
    m = re.match(r"^numeric\((\d+),(\d+)\)$", t)
    if m:
        return "NUMERIC(%s, %s)" % m.groups()
    return t.upper()


_RULES = {"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT", "r": "RESTRICT"}


def _strip_check(src):
    m = re.match(r"^CHECK *\((.+)\)( NOT VALID)?$", src, re.S)
    if not m:
        return src
    inner = m.group(1)
    m2 = re.match(r"^\s*\((.+)\)\s*$", inner, re.S)
    return m2.group(1) if m2 else inner


def _interval_seconds(text):
    d = 0
    m = re.search(r"(-?\d+) days?", text)
    if m:
        d = int(m.group(1)) * 86400
    m = re.search(r"(-?)(\d+):(\d+):(\d+(?:\.\d+)?)$", text)
    if m:
        s = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
        d += -s if m.group(1) else s
    return {"timedelta_seconds": d}


def pg_snapshot(url, version_table="luamig_version"):
    P = lambda s: pg.psql(url, s)
    user_ns = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'"
    user_ns = user_ns.replace("%%", "%")

    def key(schema, name):
        return name if schema == "public" else "%s.%s" % (schema, name)

    tables = {}
    oids = {}
    for (oid, schema, name, comment) in P("""
        SELECT c.oid, n.nspname, c.relname, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND %s ORDER BY 2, 3;""" % user_ns):
        if schema == "public" and name == version_table:
            continue
        k = key(schema, name)
        oids[oid] = k
        tables[k] = {"columns": [], "primary_key": {"name": None, "columns": []}, "indexes": [],
                     "unique_constraints": [], "foreign_keys": [], "check_constraints": [],
                     "comment": comment, "rows": [], "_schema": schema, "_name": name}
    attnames = {}
    for (oid, num, name, typ, typtype, notnull, default, comment) in P("""
        SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), t.typtype,
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN (
            SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND %s)
        ORDER BY 1, 2;""" % user_ns):
        if oid not in oids:
            continue
        col = {"name": name, "type": _pg_type(typ, typtype), "nullable": notnull == "f",
               "default": default}
        if comment is not None:
            col["comment"] = comment
        tables[oids[oid]]["columns"].append(col)
        attnames[(oid, int(num))] = name

    def cols_of(oid, nums):
        return [attnames.get((oid, n)) for n in nums]

    for (oid, name, ctype, conkey, frel, fschema, ftable, fkey, upd, dele, match, deferrable,
         deferred, definition) in P("""
        SELECT k.conrelid, k.conname, k.contype, array_to_string(k.conkey, ','),
               k.confrelid, fn.nspname, fc.relname, array_to_string(k.confkey, ','),
               k.confupdtype, k.confdeltype, k.confmatchtype, k.condeferrable, k.condeferred,
               pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        LEFT JOIN pg_class fc ON fc.oid = k.confrelid
        LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
        WHERE k.conrelid <> 0 ORDER BY 2;"""):
        if oid not in oids:
            continue
        t = tables[oids[oid]]
        nums = [int(x) for x in conkey.split(",")] if conkey else []
        if ctype == "p":
            t["primary_key"] = {"name": name, "columns": cols_of(oid, nums)}
        elif ctype == "u":
            t["unique_constraints"].append({"name": name, "column_names": cols_of(oid, nums)})
        elif ctype == "c":
            t["check_constraints"].append({"name": name, "sqltext": _strip_check(definition)})
        elif ctype == "f":
            fnames = P("SELECT attname FROM pg_attribute a, unnest('{%s}'::int2[]) WITH ORDINALITY u(n, i) "
                       "WHERE a.attrelid = %s AND a.attnum = u.n ORDER BY u.i;" % (fkey, frel))
            opts = {}
            if upd != "a":
                opts["onupdate"] = _RULES[upd]
            if dele != "a":
                opts["ondelete"] = _RULES[dele]
            if deferrable == "t":
                opts["deferrable"] = True
                if deferred == "t":
                    opts["initially"] = "DEFERRED"
            if match == "f":
                opts["match"] = "FULL"
            t["foreign_keys"].append({
                "name": name, "constrained_columns": cols_of(oid, nums),
                "referred_schema": None if fschema == "public" else fschema,
                "referred_table": ftable, "referred_columns": [r[0] for r in fnames],
                "options": opts})
    for (oid, name, unique, primary, indkey, pred) in P("""
        SELECT x.indrelid, i.relname, x.indisunique, x.indisprimary,
               array_to_string(x.indkey, ','), pg_get_expr(x.indpred, x.indrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid ORDER BY 2;"""):
        if oid not in oids or primary == "t":
            continue
        nums = [int(n) for n in indkey.split(",")]
        if 0 in nums:
            continue        # expression index: SQLAlchemy 1.4 skips it
        ix = {"name": name, "column_names": cols_of(oid, nums), "unique": unique == "t"}
        if pred is not None:
            ix["where"] = pred
        tables[oids[oid]]["indexes"].append(ix)
    for k, t in tables.items():
        types = [c["type"] for c in t["columns"]]
        if types:
            sel = ", ".join("%s::text" % pg.quote_ident(c["name"]) for c in t["columns"])
            raw = P('SELECT %s FROM %s.%s;' % (sel, pg.quote_ident(t["_schema"]),
                                              pg.quote_ident(t["_name"])))
            rows = []
            for r in raw:
                row = []
                for i, v in enumerate(r):
                    if v is not None and types[i] == "INTERVAL":
                        row.append(_interval_seconds(v))
                    elif v is not None and types[i] == "BYTEA":
                        row.append({"hex": v[2:] if v.startswith("\\x") else v})
                    else:
                        row.append(convert(v, types[i]))
                rows.append(row)
            t["rows"] = sorted(rows, key=row_key)
        del t["_schema"], t["_name"]
    version = None
    if P("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
         "WHERE n.nspname = 'public' AND c.relname = '%s' AND c.relkind = 'r';" % version_table):
        version = sorted(r[0] for r in P("SELECT version_num FROM %s;" % version_table))
    schemas = [r[0] for r in P("SELECT n.nspname FROM pg_namespace n WHERE %s AND n.nspname <> 'public' "
                               "ORDER BY 1;" % user_ns)]
    enums = []
    for (schema, name, visible, labels) in P("""
        SELECT n.nspname, t.typname, pg_type_is_visible(t.oid),
               array_to_json(array(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
                                   ORDER BY e.enumsortorder))
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'e' AND %s ORDER BY 1, 2;""" % user_ns):
        enums.append({"name": name, "schema": schema, "visible": visible == "t",
                      "labels": json.loads(labels)})
    sequences = [key(r[0], r[1]) for r in P("""
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND %s ORDER BY 1, 2;""" % user_ns)]
    pg_indexes = [list(r) for r in P("""
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3;""")]
    pg_constraints = [list(r) for r in P("""
        SELECT n.nspname, k.conrelid::regclass::text, k.conname, k.contype::text,
               pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
        WHERE k.conrelid <> 0 AND %s ORDER BY 1, 2, 3;""" % user_ns)]
    return {"tables": tables, version_table: version, "schemas": schemas, "enums": enums,
            "sequences": sequences, "pg_indexes": pg_indexes, "pg_constraints": pg_constraints}


def snapshot(backend, where, version_table="luamig_version"):
    if backend == "sqlite":
        return sqlite_snapshot(where, version_table)
    return pg_snapshot(where, version_table)
