"""Generated migration histories for the benchmark, written twice: as a luamig
project (Lua revision files) and as the equivalent Alembic project (Python
revision files), so that both tools do the same work.

Every revision creates one table with three columns (id, name, note) and one
index on name; its downgrade drops both. A history is a list of Rev records in
file order; the DAG shape comes from down_revision / branch_labels /
depends_on exactly as in Alembic.
"""
import hashlib
import os


class Rev:
    __slots__ = ("rev", "down", "labels", "depends", "table")

    def __init__(self, rev, down, table, labels=None, depends=None):
        self.rev = rev
        self.down = down          # None, a str, or a tuple of str (merge)
        self.table = table
        self.labels = labels      # None or tuple of str
        self.depends = depends    # None or tuple of str


def rev_id(kind, n):
    """A 12-hex-digit identifier, stable across runs, like Alembic's."""
    return hashlib.sha1(("%s-%d" % (kind, n)).encode()).hexdigest()[:12]


def linear(n):
    revs = []
    prev = None
    for i in range(1, n + 1):
        r = rev_id("lin", i)
        revs.append(Rev(r, prev, "t%05d" % i))
        prev = r
    return revs


def branchy(blocks=40):
    """Blocks of: a short trunk, a fork into 2 or 3 branches of 8 revisions
    (the first few blocks label their branches), a cross-branch depends_on,
    and a merge of the branch tips. Also one independent labelled root
    ("lib") that a later revision depends on and that a merge joins in, so
    that the history still has a single head. About 23 revisions a block."""
    revs = []
    counter = [0]

    def new(down, labels=None, depends=None):
        counter[0] += 1
        r = Rev(rev_id("br", counter[0]), down, "t%05d" % counter[0], labels, depends)
        revs.append(r)
        return r.rev

    # The independent root branch, labelled.
    lib_tip = None
    for j in range(5):
        lib_tip = new(lib_tip, labels=("lib",) if j == 0 else None)
    lib_first = revs[0].rev

    tip = None
    for b in range(blocks):
        for _ in range(2):
            tip = new(tip)
        width = 2 + b % 2
        tips = []
        firsts = []
        for k in range(width):
            t = tip
            for j in range(8):
                labels = ("blk%d_br%d" % (b, k),) if (j == 0 and b < 4) else None
                depends = None
                if k > 0 and j == 2:
                    depends = (firsts[0],)     # a sibling branch's first revision
                t = new(t, labels=labels, depends=depends)
                if j == 0:
                    firsts.append(t)
            tips.append(t)
        tip = new(tuple(tips))                 # the merge
        if b == blocks // 2:
            # a revision that depends on the independent root, then joins it in
            tip = new(tip, depends=(lib_first,))
            tip = new((tip, lib_tip))
    return revs


# --------------------------------------------------------------------------
# luamig


def _lua_str(s):
    return '"%s"' % s


def _lua_val(v):
    if v is None:
        return "nil"
    if isinstance(v, str):
        return _lua_str(v)
    return "{ " + ", ".join(_lua_str(x) for x in v) + " }"


def lua_revision(r):
    t = r.table
    down = "" if r.down is None else (r.down if isinstance(r.down, str) else ", ".join(r.down))
    return (
        '--[[ create table %(t)s\n\nRevision ID: %(rev)s\nRevises: %(revises)s\n'
        'Create Date: 2026-11-25 00:00:00\n\n]]\n'
        'revision = "%(rev)s"\n'
        'down_revision = %(down)s\n'
        'branch_labels = %(labels)s\n'
        'depends_on = %(depends)s\n\n'
        'function upgrade()\n'
        '  op.create_table("%(t)s",\n'
        '    sa.Column("id", sa.Integer, { primary_key = true }),\n'
        '    sa.Column("name", sa.String(50), { nullable = false }),\n'
        '    sa.Column("note", sa.Text))\n'
        '  op.create_index("ix_%(t)s_name", "%(t)s", { "name" })\n'
        'end\n\n'
        'function downgrade()\n'
        '  op.drop_index("ix_%(t)s_name", { table_name = "%(t)s" })\n'
        '  op.drop_table("%(t)s")\n'
        'end\n'
    ) % {"t": t, "rev": r.rev, "revises": down, "down": _lua_val(r.down),
         "labels": _lua_val(r.labels), "depends": _lua_val(r.depends)}


def lua_revision_sql(r, statements):
    """lua_revision(r) with upgrade() running `statements` (the SQL luamig compiles for it,
    from its offline script) through op.execute: the same work for the database with no
    operation objects built, for the benchmark's pipeline floor."""
    text = lua_revision(r)
    head, rest = text.split("function upgrade()\n", 1)
    _, tail = rest.split("end\n\nfunction downgrade()", 1)
    body = "".join("  op.execute([==[%s]==])\n" % st for st in statements)
    return head + "function upgrade()\n" + body + "end\n\nfunction downgrade()" + tail


# --------------------------------------------------------------------------
# Alembic


def _py_val(v):
    if v is None:
        return "None"
    if isinstance(v, str):
        return repr(v)
    return "(" + ", ".join(repr(x) for x in v) + ("," if len(v) == 1 else "") + ")"


def py_revision(r):
    t = r.table
    down = "" if r.down is None else (r.down if isinstance(r.down, str) else ", ".join(r.down))
    return (
        '"""create table %(t)s\n\nRevision ID: %(rev)s\nRevises: %(revises)s\n'
        'Create Date: 2026-11-25 00:00:00\n\n"""\n'
        'from alembic import op\n'
        'import sqlalchemy as sa\n\n\n'
        '# revision identifiers, used by Alembic.\n'
        "revision = '%(rev)s'\n"
        'down_revision = %(down)s\n'
        'branch_labels = %(labels)s\n'
        'depends_on = %(depends)s\n\n\n'
        'def upgrade() -> None:\n'
        "    op.create_table('%(t)s',\n"
        "        sa.Column('id', sa.Integer(), primary_key=True),\n"
        "        sa.Column('name', sa.String(50), nullable=False),\n"
        "        sa.Column('note', sa.Text()))\n"
        "    op.create_index('ix_%(t)s_name', '%(t)s', ['name'])\n\n\n"
        'def downgrade() -> None:\n'
        "    op.drop_index('ix_%(t)s_name', table_name='%(t)s')\n"
        "    op.drop_table('%(t)s')\n"
    ) % {"t": t, "rev": r.rev, "revises": down, "down": _py_val(r.down),
         "labels": _py_val(r.labels), "depends": _py_val(r.depends)}


def write_versions(revs, versions_dir, ext):
    os.makedirs(versions_dir, exist_ok=True)
    render = lua_revision if ext == "lua" else py_revision
    for r in revs:
        with open(os.path.join(versions_dir, "%s_create_table_%s.%s" % (r.rev, r.table, ext)), "w") as f:
            f.write(render(r))


# --------------------------------------------------------------------------
# Autogenerate: a database with N tables, and models that add a column to each


def autogen_tables_sql(n):
    out = ["BEGIN;"]
    for i in range(1, n + 1):
        t = "a%04d" % i
        out.append("CREATE TABLE %s (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, note TEXT, "
                   "PRIMARY KEY (id));" % t)
        out.append("CREATE INDEX ix_%s_name ON %s (name);" % (t, t))
    out.append("COMMIT;")
    return "\n".join(out) + "\n"


def lua_models(n):
    out = ['local sa = require "luamig.sa"', "local metadata = sa.MetaData()"]
    for i in range(1, n + 1):
        t = "a%04d" % i
        out.append('sa.Table("%s", metadata,\n'
                   '  sa.Column("id", sa.Integer, { primary_key = true }),\n'
                   '  sa.Column("name", sa.String(50), { nullable = false, index = true }),\n'
                   '  sa.Column("note", sa.Text),\n'
                   '  sa.Column("extra", sa.Integer))' % t)
    out.append("return metadata")
    return "\n".join(out) + "\n"


def py_models(n):
    out = ["import sqlalchemy as sa", "", "metadata = sa.MetaData()"]
    for i in range(1, n + 1):
        t = "a%04d" % i
        out.append("sa.Table('%s', metadata,\n"
                   "    sa.Column('id', sa.Integer(), primary_key=True),\n"
                   "    sa.Column('name', sa.String(50), nullable=False, index=True),\n"
                   "    sa.Column('note', sa.Text()),\n"
                   "    sa.Column('extra', sa.Integer()))" % t)
    return "\n".join(out) + "\n"
