#!/usr/bin/python3
"""MLflow's tracking-store history under luamig and under Alembic (by hand; not in the suite).

    /usr/bin/python3 tests/convert/mlflow_history.py LUAMIG VERSIONS_DIR [--pg postgresql://user@host:port]

VERSIONS_DIR holds revision files of MLflow's mlflow/store/db_migrations/versions (Apache-2.0,
kept outside this repository): a chain from 451aebb31d03 (add_metric_step). MLflow's first
revision expects the tables of mlflow/store/tracking/dbmodels/initial_models.py; both runs
start with a base revision, `initial_models`, that creates them as that file declares them
(written here by hand, in Python for Alembic and in Lua for luamig), and 451aebb31d03's
down_revision is set to it.

luamig: `luamig convert` into a fresh project; each file with a TODO is replaced by the hand
translation below (HAND_LUA, or HAND_PY: the Python with the application's names replaced by
what they stand for, then converted); `luamig upgrade heads` with one transaction per
migration, counting the revisions that ran through the audit history.
Alembic 1.8.1 (Debian's python3-alembic): the same Python files, with the MLflow modules they
import stubbed by the names and table definitions they use (`stub_mlflow`), `alembic upgrade
heads`.
Then both schemas are dumped by SQLAlchemy's inspector (alembic_reference.schema) and diffed,
on SQLite and, with --pg, on a fresh PostgreSQL database of that server (made and dropped
with psql).
"""
import contextlib
import difflib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import alembic_reference  # noqa: E402

BASE = "initial_models"

# The tables initial_models.py declares (MLflow 0.9.1's schema), for Alembic.
INITIAL_PY = '''"""initial models: MLflow's tables before its first migration"""
from alembic import op
import sqlalchemy as sa

revision = "initial_models"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, autoincrement=True),
        sa.Column("name", sa.String(256), unique=True, nullable=False),
        sa.Column("artifact_location", sa.String(256), nullable=True),
        sa.Column("lifecycle_stage", sa.String(32)),
        sa.CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="experiments_lifecycle_stage"),
        sa.PrimaryKeyConstraint("experiment_id", name="experiment_pk"),
    )
    op.create_table(
        "runs",
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("name", sa.String(250)),
        sa.Column("source_type", sa.String(20)),
        sa.Column("source_name", sa.String(500)),
        sa.Column("entry_point_name", sa.String(50)),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("status", sa.String(20)),
        sa.Column("start_time", sa.BigInteger),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("source_version", sa.String(50)),
        sa.Column("lifecycle_stage", sa.String(20)),
        sa.Column("artifact_uri", sa.String(200)),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id")),
        sa.CheckConstraint("source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')", name="source_type"),
        sa.CheckConstraint("status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING')", name="status"),
        sa.CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="runs_lifecycle_stage"),
        sa.PrimaryKeyConstraint("run_uuid", name="run_pk"),
    )
    op.create_table(
        "tags",
        sa.Column("key", sa.String(250)),
        sa.Column("value", sa.String(250), nullable=True),
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid")),
        sa.PrimaryKeyConstraint("key", "run_uuid", name="tag_pk"),
    )
    op.create_table(
        "metrics",
        sa.Column("key", sa.String(250)),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("timestamp", sa.BigInteger),
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid")),
        sa.PrimaryKeyConstraint("key", "timestamp", "run_uuid", name="metric_pk"),
    )
    op.create_table(
        "params",
        sa.Column("key", sa.String(250)),
        sa.Column("value", sa.String(250), nullable=False),
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid")),
        sa.PrimaryKeyConstraint("key", "run_uuid", name="param_pk"),
    )


def downgrade():
    pass
'''

# The same tables for luamig.
INITIAL_LUA = '''--[[ initial models: MLflow's tables before its first migration ]]
revision = "initial_models"
down_revision = nil

function upgrade()
  op.create_table("experiments",
    sa.Column("experiment_id", sa.Integer(), { autoincrement = true }),
    sa.Column("name", sa.String(256), { unique = true, nullable = false }),
    sa.Column("artifact_location", sa.String(256), { nullable = true }),
    sa.Column("lifecycle_stage", sa.String(32)),
    sa.CheckConstraint("lifecycle_stage IN ('active', 'deleted')", { name = "experiments_lifecycle_stage" }),
    sa.PrimaryKeyConstraint("experiment_id", { name = "experiment_pk" }))
  op.create_table("runs",
    sa.Column("run_uuid", sa.String(32), { nullable = false }),
    sa.Column("name", sa.String(250)),
    sa.Column("source_type", sa.String(20)),
    sa.Column("source_name", sa.String(500)),
    sa.Column("entry_point_name", sa.String(50)),
    sa.Column("user_id", sa.String(256), { nullable = true }),
    sa.Column("status", sa.String(20)),
    sa.Column("start_time", sa.BigInteger()),
    sa.Column("end_time", sa.BigInteger(), { nullable = true }),
    sa.Column("source_version", sa.String(50)),
    sa.Column("lifecycle_stage", sa.String(20)),
    sa.Column("artifact_uri", sa.String(200)),
    sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.experiment_id")),
    sa.CheckConstraint("source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')", { name = "source_type" }),
    sa.CheckConstraint("status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING')", { name = "status" }),
    sa.CheckConstraint("lifecycle_stage IN ('active', 'deleted')", { name = "runs_lifecycle_stage" }),
    sa.PrimaryKeyConstraint("run_uuid", { name = "run_pk" }))
  op.create_table("tags",
    sa.Column("key", sa.String(250)),
    sa.Column("value", sa.String(250), { nullable = true }),
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid")),
    sa.PrimaryKeyConstraint("key", "run_uuid", { name = "tag_pk" }))
  op.create_table("metrics",
    sa.Column("key", sa.String(250)),
    sa.Column("value", sa.Float(), { nullable = false }),
    sa.Column("timestamp", sa.BigInteger()),
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid")),
    sa.PrimaryKeyConstraint("key", "timestamp", "run_uuid", { name = "metric_pk" }))
  op.create_table("params",
    sa.Column("key", sa.String(250)),
    sa.Column("value", sa.String(250), { nullable = false }),
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid")),
    sa.PrimaryKeyConstraint("key", "run_uuid", { name = "param_pk" }))
end

function downgrade()
end
'''

# Files that only name MLflow's models for their table names: those names are written in, the
# import dropped, and the result converted.
TABLES = {
    "SqlRegisteredModel": "registered_models", "SqlModelVersion": "model_versions",
    "SqlRegisteredModelTag": "registered_model_tags", "SqlModelVersionTag": "model_version_tags",
    "SqlRegisteredModelAlias": "registered_model_aliases", "SqlDataset": "datasets",
    "SqlInput": "inputs", "SqlInputTag": "input_tags", "SqlLatestMetric": "latest_metrics",
    "SqlExperimentTag": "experiment_tags", "SqlExperiment": "experiments", "SqlTraceInfo": "trace_info",
    "SqlTraceTag": "trace_tags", "SqlTraceRequestMetadata": "trace_request_metadata",
    "SqlTraceMetadata": "trace_request_metadata",
}


def hand_py(text):
    """The Python of a revision with MLflow's model names replaced by their tables."""
    text = re.sub(r"(?m)^from mlflow\.store\.\S+ import .*\n", "", text)
    for model, table in TABLES.items():
        text = text.replace("{%s.__tablename__}" % model, table)  # in f-strings
        text = text.replace(model + ".__tablename__", '"%s"' % table)
    return text.replace("SqlTraceInfo.request_id", '"trace_info.request_id"')


HAND_PY = {"27a6a02d2cf1", "728d730b5ebd", "7f2a7d5fae7d", "a8c4a736bde6", "acf3f17fdcc7", "867495a8f9d4",
           "5b0e9adcef9c"}

# Hand translations into Lua of what the remaining files do (their upgrade()).
HAND_LUA = {
    # an ORM loop: each run's user_id becomes its "mlflow.user" tag, unless it has one
    "90e64c465722": '''
  op.execute([[INSERT INTO tags (key, value, run_uuid)
SELECT 'mlflow.user', user_id, run_uuid FROM runs
WHERE user_id IS NOT NULL AND user_id <> ''
AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = runs.run_uuid AND t.key = 'mlflow.user')]])
''',
    # op.create_table(name, *SqlExperimentTag.__table__.columns): Alembic copies the model's
    # columns with their primary key flags, and neither the name of the primary key nor the
    # foreign key of experiment_id (Alembic 1.8.1 leaves the table without them)
    "df50e92ffc5e": '''
  op.create_table("experiment_tags",
    sa.Column("key", sa.String(250), { primary_key = true }),
    sa.Column("value", sa.String(5000), { nullable = true }),
    sa.Column("experiment_id", sa.Integer(), { primary_key = true }))
''',
    # the table, then the latest metric of each (run, key): highest step, then timestamp, value
    "89d4b8295536": '''
  op.create_table("latest_metrics",
    sa.Column("key", sa.String(250)),
    sa.Column("value", sa.Float({ precision = 53 }), { nullable = false }),
    sa.Column("timestamp", sa.BigInteger(), { nullable = false }),
    sa.Column("step", sa.BigInteger(), { default = 0, nullable = false }),
    sa.Column("is_nan", sa.Boolean(), { default = false, nullable = false }),
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), { nullable = false }),
    sa.PrimaryKeyConstraint("key", "run_uuid", { name = "latest_metric_pk" }))
  op.execute([[INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan)
SELECT m.run_uuid, m.key, m.step, m.timestamp, MAX(m.value), m.is_nan FROM metrics m
JOIN (SELECT m2.run_uuid, m2.key, m2.step, MAX(m2.timestamp) AS timestamp FROM metrics m2
      JOIN (SELECT run_uuid, key, MAX(step) AS step FROM metrics GROUP BY run_uuid, key) s
      ON m2.run_uuid = s.run_uuid AND m2.key = s.key AND m2.step = s.step
      GROUP BY m2.run_uuid, m2.key, m2.step) t
ON m.run_uuid = t.run_uuid AND m.key = t.key AND m.step = t.step AND m.timestamp = t.timestamp
GROUP BY m.run_uuid, m.key, m.step, m.timestamp, m.is_nan]])
''',
    # the registry's tables (the Python-side defaults are not DDL)
    "2b4d017a5e9b": '''
  op.create_table("registered_models",
    sa.Column("name", sa.String(256), { unique = true, nullable = false }),
    sa.Column("creation_time", sa.BigInteger()),
    sa.Column("last_updated_time", sa.BigInteger(), { nullable = true }),
    sa.Column("description", sa.String(5000), { nullable = true }),
    sa.PrimaryKeyConstraint("name", { name = "registered_model_pk" }))
  op.create_table("model_versions",
    sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", { onupdate = "cascade" })),
    sa.Column("version", sa.Integer(), { nullable = false }),
    sa.Column("creation_time", sa.BigInteger()),
    sa.Column("last_updated_time", sa.BigInteger(), { nullable = true }),
    sa.Column("description", sa.String(5000), { nullable = true }),
    sa.Column("user_id", sa.String(256), { nullable = true }),
    sa.Column("current_stage", sa.String(20)),
    sa.Column("source", sa.String(500), { nullable = true }),
    sa.Column("run_id", sa.String(32), { nullable = false }),
    sa.Column("status", sa.String(20)),
    sa.Column("status_message", sa.String(500), { nullable = true }),
    sa.PrimaryKeyConstraint("name", "version", { name = "model_version_pk" }))
''',
    # try: drop the "status" check (Alembic refuses it on SQLite, the except logs that);
    # then the runs table with the new status check, keeping the other two on SQLite
    "cfd24bdc0731": '''
  if op.get_context().dialect.name ~= "sqlite" then
    op.drop_constraint("status", "runs", { type_ = "check" })
  end
  local check_constraint_table_args = {
    sa.CheckConstraint("source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')", { name = "source_type" }),
    sa.CheckConstraint("lifecycle_stage IN ('active', 'deleted')", { name = "runs_lifecycle_stage" }),
  }
  op.batch_alter_table("runs", { table_args = check_constraint_table_args }, function(batch_op)
    batch_op.alter_column("status", {
      existing_type = sa.String(),
      type_ = sa.Enum("SCHEDULED", "FAILED", "FINISHED", "RUNNING", "KILLED",
                      { create_constraint = true, constraint_name = "status", native_enum = false }),
    })
  end)
''',
    # try: drop the "status" check again (refused on SQLite, and logged)
    "0a8213491aaa": '''
  if op.get_context().dialect.name ~= "sqlite" then
    op.drop_constraint("status", "runs", { type_ = "check" })
  end
''',
    # try: on MySQL only, a MEDIUMTEXT column; nothing on SQLite and PostgreSQL
    "4465047574b1": '''
  -- MySQL only: datasets.dataset_schema becomes MEDIUMTEXT
''',
    # the foreign key from datasets to experiments, again with ON DELETE CASCADE and a name;
    # on PostgreSQL the Python reads the old key's name back: the one PostgreSQL gave it
    "0584bdc529eb": '''
  local new_fk_constraint_name = "fk_datasets_experiment_id_experiments"
  if op.get_context().dialect.name == "sqlite" then
    op.batch_alter_table("datasets", {
      naming_convention = { fk = "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s" },
    }, function(batch_op)
      batch_op.drop_constraint(new_fk_constraint_name, { type_ = "foreignkey", if_exists = true })
      batch_op.create_foreign_key(new_fk_constraint_name, "experiments", { "experiment_id" }, { "experiment_id" },
        { ondelete = "CASCADE" })
    end)
  else
    op.drop_constraint("datasets_experiment_id_fkey", "datasets", { type_ = "foreignkey" })
    op.create_foreign_key(new_fk_constraint_name, "datasets", "experiments", { "experiment_id" }, { "experiment_id" },
      { ondelete = "CASCADE" })
  end
''',
    # the table, when it is not there yet (it never is in a run from the base)
    "3500859a5d39": '''
  op.create_table("registered_model_aliases",
    sa.Column("name", sa.String({ length = 256 }),
      sa.ForeignKey("registered_models.name", { onupdate = "cascade", name = "registered_model_alias_name_fkey" }),
      { primary_key = true, nullable = false }),
    sa.Column("alias", sa.String({ length = 256 }), { primary_key = true, nullable = false }),
    sa.Column("version", sa.Integer(), { nullable = false }),
    sa.PrimaryKeyConstraint("name", "alias", { name = "registered_model_alias_pk" }))
''',
}


def stub_mlflow():
    """The names the revision files import from MLflow, as the files use them."""
    import sqlalchemy as sa
    from sqlalchemy.orm import declarative_base

    def module(name, **names):
        m = types.ModuleType(name)
        m.__dict__.update(names)
        sys.modules[name] = m
        return m

    Base = declarative_base()

    class SqlRun(Base):
        __tablename__ = "runs"
        run_uuid = sa.Column(sa.String(32), primary_key=True)
        source_type = sa.Column(sa.String(20))
        lifecycle_stage = sa.Column(sa.String(20))

    class SqlExperimentTag(Base):
        __tablename__ = "experiment_tags"
        key = sa.Column(sa.String(250))
        value = sa.Column(sa.String(5000), nullable=True)
        experiment_id = sa.Column(sa.Integer, sa.ForeignKey("experiments.experiment_id"))
        __table_args__ = (sa.PrimaryKeyConstraint("key", "experiment_id", name="experiment_tag_pk"),)

    class SqlMetric(Base):
        __tablename__ = "metrics"
        key = sa.Column(sa.String(250), primary_key=True)
        value = sa.Column(sa.Float(precision=53), primary_key=True)
        timestamp = sa.Column(sa.BigInteger, primary_key=True)
        step = sa.Column(sa.BigInteger, primary_key=True)
        is_nan = sa.Column(sa.Boolean, primary_key=True)
        run_uuid = sa.Column(sa.String(32), primary_key=True)

    class SqlLatestMetric(Base):
        __tablename__ = "latest_metrics"
        key = sa.Column(sa.String(250), primary_key=True)
        run_uuid = sa.Column(sa.String(32), primary_key=True)

    class SqlTraceInfo(Base):
        __tablename__ = "trace_info"
        request_id = sa.Column(sa.String(50), primary_key=True)

    tables = {name: type(name, (), {"__tablename__": table}) for name, table in TABLES.items()}
    tables["SqlTraceInfo"] = SqlTraceInfo

    class RunStatus:
        SCHEDULED, FAILED, FINISHED, RUNNING, KILLED = "SCHEDULED", "FAILED", "FINISHED", "RUNNING", "KILLED"

        @staticmethod
        def to_string(s):
            return s

    class ModelVersionStatus:
        READY = "READY"

        @staticmethod
        def to_string(s):
            return s

    class LifecycleStage:
        @staticmethod
        def view_type_to_stages(view_type):
            return ["active", "deleted"]

    for name in ["mlflow", "mlflow.utils", "mlflow.store", "mlflow.store.tracking",
                 "mlflow.store.tracking.dbmodels", "mlflow.store.dbmodels", "mlflow.store.model_registry",
                 "mlflow.store.model_registry.dbmodels", "mlflow.entities.model_registry"]:
        module(name)
    module("mlflow.utils.mlflow_tags", MLFLOW_USER="mlflow.user")
    module("mlflow.exceptions", MlflowException=Exception)
    module("mlflow.entities", RunStatus=RunStatus, ViewType=types.SimpleNamespace(ALL=3))
    module("mlflow.entities.lifecycle_stage", LifecycleStage=LifecycleStage)
    module("mlflow.entities.model_registry.model_version_stages", STAGE_NONE="None")
    module("mlflow.entities.model_registry.model_version_status", ModelVersionStatus=ModelVersionStatus)
    module("mlflow.store.dbmodels.models", SqlMetric=SqlMetric, SqlLatestMetric=SqlLatestMetric,
           SqlExperimentTag=SqlExperimentTag)
    module("mlflow.store.tracking.dbmodels.models", SqlRun=SqlRun,
           SourceTypes=["NOTEBOOK", "JOB", "LOCAL", "UNKNOWN", "PROJECT"], **tables)
    module("mlflow.store.model_registry.dbmodels.models", **tables)


def revision_files(versions):
    return sorted(f for f in os.listdir(versions) if f.endswith(".py") and f != "__init__.py")


def rebase(text):
    """451aebb31d03 (down_revision None) follows the base revision."""
    return re.sub(r"(?m)^down_revision = None", 'down_revision = "%s"' % BASE, text, count=1)


def rebase_lua(text):
    return re.sub(r"(?m)^down_revision = nil", 'down_revision = "%s"' % BASE, text, count=1)


def dump(url, version_table):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        engine = alembic_reference.schema(url, primary_keys=True)
        with engine.connect() as conn:
            import sqlalchemy as sa
            try:
                print("versions", [r[0] for r in conn.execute(sa.text("SELECT version_num FROM " + version_table))])
            except sa.exc.SQLAlchemyError:
                print("versions", [])
        engine.dispose()
    # Alembic copies a rebuilt table's named constraints in the order of a Python set: the
    # CHECKs of each table are compared as a sorted list
    lines, checks = [], []
    for line in out.getvalue().splitlines() + ["table"]:
        if line.startswith("  check "):
            checks.append(line)
            continue
        lines.extend(sorted(checks))
        checks = []
        lines.append(line)
    return "\n".join(lines[:-1]) + "\n"


# 0a8213491aaa drops the "status" check in a try: on PostgreSQL the failed statement aborts
# the transaction, under Alembic as under luamig. With if_exists (both sides alike) it drops
# the check only where there is one, which lets the history run to its head there.
IF_EXISTS_PY = ('op.execute("ALTER TABLE runs DROP CONSTRAINT IF EXISTS status")'
                ' if op.get_bind().dialect.name == "postgresql" else '
                'op.drop_constraint(constraint_name="status", table_name="runs", type_="check")')
IF_EXISTS_LUA = '''
  if op.get_context().dialect.name ~= "sqlite" then
    op.execute("ALTER TABLE runs DROP CONSTRAINT IF EXISTS status")
  end
'''


def run_alembic(versions, url, if_exists=False):
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    tmp = tempfile.mkdtemp()
    try:
        script = os.path.join(tmp, "alembic")
        ini = os.path.join(tmp, "alembic.ini")
        with contextlib.redirect_stdout(io.StringIO()):
            command.init(Config(ini), script)
        cfg = Config(ini)
        cfg.set_main_option("script_location", script)
        cfg.set_main_option("sqlalchemy.url", url)
        env = os.path.join(script, "env.py")
        with open(env) as g:
            text = g.read()
        # one transaction per migration, as the luamig run: what ran stays
        text = text.replace("connection=connection, target_metadata=target_metadata",
                            "connection=connection, target_metadata=target_metadata, transaction_per_migration=True")
        with open(env, "w") as g:
            g.write(text)
        vdir = os.path.join(script, "versions")
        for f in revision_files(versions):
            with open(os.path.join(versions, f)) as src, open(os.path.join(vdir, f), "w") as dst:
                text = src.read()
                if f.startswith("451aebb31d03"):
                    text = rebase(text)
                # 181f10493468 passes a misspelt if_exits=True that Alembic 1.8.1 refuses
                # (later Alembic takes and ignores it as a dialect keyword; so does luamig);
                text = text.replace(", if_exits=True", "")
                # 0584bdc529eb: if_exists=True in batch drop_constraint needs a later Alembic
                # (there the constraint exists: the naming convention names SQLite's foreign key)
                text = text.replace(', type_="foreignkey", if_exists=True)', ', type_="foreignkey")')
                if if_exists and f.startswith("0a8213491aaa"):
                    text = text.replace('op.drop_constraint(constraint_name="status", table_name="runs", type_="check")',
                                        IF_EXISTS_PY)
                dst.write(text)
        with open(os.path.join(vdir, BASE + ".py"), "w") as f:
            f.write(INITIAL_PY)
        chain = [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()][::-1]
        failure = ""
        try:
            command.upgrade(cfg, "heads")
        except Exception as e:  # the figure is the first failure
            failure = ("%s: %s" % (type(e).__name__, e)).splitlines()[0]
        text = dump(url, "alembic_version")
        at = re.findall(r"'(\w+)'", text.splitlines()[-1])
        return len(chain), chain.index(at[0]) + 1 if at else 0, failure, text
    finally:
        shutil.rmtree(tmp)


def luamig_cmd(luamig, args, cwd):
    return subprocess.run([luamig] + args, cwd=cwd, capture_output=True, text=True, timeout=600)


def run_luamig(luamig, versions, url, tmp, if_exists=False):
    files = revision_files(versions)
    r = luamig_cmd(luamig, ["init", "migrations"], tmp)
    assert r.returncode == 0, r.stderr
    out = os.path.join(tmp, "migrations", "versions")
    conv = luamig_cmd(luamig, ["convert", "-o", out, os.path.abspath(versions)], tmp)
    todo = {line.split(":", 1)[0] for line in conv.stderr.splitlines()}
    hand = []
    for f in files:
        rev = f.split("_", 1)[0]
        lua = os.path.join(out, f[:-3] + ".lua")
        if os.path.join(os.path.abspath(versions), f) not in todo:
            continue
        if rev in HAND_PY:
            with open(os.path.join(versions, f)) as src:
                text = hand_py(src.read())
            with tempfile.TemporaryDirectory() as t:
                with open(os.path.join(t, f), "w") as g:
                    g.write(text)
                r = luamig_cmd(luamig, ["convert", "-o", out, os.path.join(t, f)], tmp)
                if r.returncode != 0:
                    sys.exit("mlflow_history.py: %s: the hand-edited Python still has a TODO: %s"
                             % (f, r.stderr.strip().splitlines()[0]))
            hand.append(rev)
        elif rev in HAND_LUA:
            with open(lua) as g:
                text = g.read()
            # the converted header (docstring, identifiers), then the hand-written upgrade()
            head = text[:text.index("\nfunction upgrade()")]
            head = re.sub(r"(?m)^-- luamig convert: TODO.*\n(^--.*\n)*", "", head)
            with open(lua, "w") as g:
                body = IF_EXISTS_LUA if if_exists and rev == "0a8213491aaa" else HAND_LUA[rev]
                g.write(head + "\nfunction upgrade()" + body + "end\n\nfunction downgrade()\nend\n")
            hand.append(rev)
    for f in files:
        if f.startswith("451aebb31d03"):
            lua = os.path.join(out, f[:-3] + ".lua")
            with open(lua) as g:
                text = rebase_lua(g.read())
            with open(lua, "w") as g:
                g.write(text)
    with open(os.path.join(out, BASE + ".lua"), "w") as g:
        g.write(INITIAL_LUA)
    ini = os.path.join(tmp, "luamig.ini")
    with open(ini) as g:
        text = g.read()
    text = re.sub(r"(?m)^url = .*$", "url = %s\ntransaction_per_migration = true" % url, text)
    with open(ini, "w") as g:
        g.write(text)
    up = luamig_cmd(luamig, ["upgrade", "heads"], tmp)
    failure = ""
    if up.returncode != 0:
        lines = up.stderr.strip().splitlines()
        failure = lines[-1] if lines else "upgrade failed"
    query = "SELECT COUNT(DISTINCT revision) FROM luamig_history WHERE success AND operation = 'upgrade'"
    if url.startswith("sqlite"):
        con = sqlite3.connect(url[len("sqlite:///"):])
        ran = con.execute(query).fetchone()[0]
        con.close()
    else:
        ran = int(subprocess.run(["psql", "-At", url, "-c", query], capture_output=True, text=True).stdout.strip() or 0)
    clean = len(files) - len({os.path.basename(p) for p in todo})
    return len(files) + 1, clean, len(hand), ran, failure, dump(url, "luamig_version")


def psql(server, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server + "/postgres", "-c", sql],
                   check=True, capture_output=True)


def main():
    luamig = os.path.abspath(sys.argv[1])
    versions = sys.argv[2]
    server = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--pg" else None
    keep = os.environ.get("MLFLOW_HISTORY_KEEP")  # a folder: the dumps are left there
    stub_mlflow()
    print("| database | revisions (with the base) | converted without TODO | hand-translated | ran under luamig "
          "| ran under Alembic | schemas | luamig's first failure |")
    print("|---|---|---|---|---|---|---|---|")
    for db, if_exists in [("sqlite", False)] + ([("postgresql", False), ("postgresql", True)] if server else []):
        with tempfile.TemporaryDirectory() as tmp:
            if db == "sqlite":
                a_url = "sqlite:///%s/alembic.db" % tmp
                l_url = "sqlite:///%s/luamig.db" % tmp
            else:
                for name in ("mlflow_alembic", "mlflow_luamig"):
                    psql(server, "DROP DATABASE IF EXISTS %s" % name)
                    psql(server, "CREATE DATABASE %s" % name)
                a_url, l_url = server + "/mlflow_alembic", server + "/mlflow_luamig"
            n_a, a_ran, a_fail, a_dump = run_alembic(versions, a_url, if_exists)
            os.mkdir(os.path.join(tmp, "project"))
            n, clean, hand, ran, l_fail, l_dump = run_luamig(luamig, versions, l_url, os.path.join(tmp, "project"),
                                                          if_exists)
            diff = list(difflib.unified_diff(a_dump.splitlines(), l_dump.splitlines(), "alembic", "luamig",
                                             lineterm="", n=0))
            label = db + (", 0a8213491aaa with IF EXISTS" if if_exists else "")
            if keep:
                for who, text in (("alembic", a_dump), ("luamig", l_dump)):
                    with open(os.path.join(keep, "%s.%s%s.txt" % (who, db, ".if_exists" if if_exists else "")), "w") as g:
                        g.write(text)
            print("| %s | %d | %d of %d | %d | %d | %s | %s | %s |" % (
                label, n, clean, n - 1, hand, ran, "%d of %d" % (a_ran, n_a) + ("" if not a_fail else ", then " + a_fail[:160].replace("|", "/")),
                "identical" if not diff else "%d lines differ" % len([d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")]),
                (l_fail or "")[:160].replace("|", "/")), flush=True)
            for d in diff:
                print("    " + d)
            if server and db == "postgresql":
                for name in ("mlflow_alembic", "mlflow_luamig"):
                    psql(server, "DROP DATABASE IF EXISTS %s" % name)


if __name__ == "__main__":
    main()
