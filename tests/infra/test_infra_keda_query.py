"""KEDA's scaling query, executed by PostgreSQL on Airflow's own metadata schema.

The schema is Airflow's: its SQLAlchemy models (Airflow 3.1.8, the Airflow virtualenv) compiled to PostgreSQL
DDL by SQLAlchemy, which is what ``airflow db migrate`` creates on an empty database. (The Airflow virtualenv
has no PostgreSQL driver, so Airflow cannot connect itself; the DDL is executed here.) Task instances are
inserted in every state, and the replica count the query returns is what KEDA would scale the pool to.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from infra_fixtures import ROOT

from infra.worker_pool import keda_query

AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
needs_airflow = pytest.mark.skipif(
    not AIRFLOW_PYTHON.exists() and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="the Airflow virtualenv (.venv-airflow) is not set up",
)

AIRFLOW_DDL = """
import json
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable
import airflow.models
airflow.models.import_all_models()
from airflow.models.base import Base
dialect = postgresql.dialect()
statements = []
for table in Base.metadata.sorted_tables:
    # Each table's indexes right after it: some are the unique keys later tables' foreign keys reference.
    statements.append(str(CreateTable(table).compile(dialect=dialect)))
    statements += [str(CreateIndex(index).compile(dialect=dialect)) for index in table.indexes]
print(json.dumps(statements))
"""


@pytest.fixture(scope="module")
def airflow_schema(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """A fresh database holding Airflow's metadata tables."""
    completed = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", AIRFLOW_DDL],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home"))},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    statements = json.loads(completed.stdout.strip().splitlines()[-1])
    name = f"airflow_keda_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.make_url(postgres_url).set(database=name))
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    yield engine
    engine.dispose()
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}"'))
    server.dispose()


def put_task_instances(engine: sa.Engine, rows: list[tuple[str, str]]) -> None:
    """Replace every task instance by ``(state, queue)`` rows."""
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM task_instance"))
        # The query reads task_instance alone; the DAG runs its rows belong to are beside the point, so the
        # foreign-key triggers are off for this transaction (the test server's user is a superuser).
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for index, (state, queue) in enumerate(rows):
            connection.execute(
                sa.text(
                    "INSERT INTO task_instance (id, task_id, dag_id, run_id, map_index, state, pool, pool_slots, "
                    "queue, try_number, span_status) VALUES (:id, :task, 'pipeline', 'run', -1, :state, "
                    "'default_pool', 1, :queue, 1, 'not_started')"
                ),
                {"id": str(uuid.uuid4()), "task": f"task_{index}", "state": state, "queue": queue},
            )


def replicas(engine: sa.Engine, queues: list[str], per_replica: int) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(keda_query(queues, per_replica))).scalar_one())


POOL = ["etl", "backfill"]
CASES = [
    ("nothing at all", [], 0),
    ("only finished work", [("success", "etl"), ("failed", "backfill"), ("up_for_retry", "etl")], 0),
    ("one long task running", [("running", "etl")], 1),
    ("one queued", [("queued", "backfill")], 1),
    ("running and queued summed over the pool's queues", [("running", "etl")] * 3 + [("queued", "backfill")] * 2, 2),
    ("exactly full", [("running", "etl")] * 4, 1),
    ("one more than full", [("running", "etl")] * 4 + [("queued", "etl")], 2),
    ("other pools' queues ignored", [("running", "reporting")] * 9 + [("queued", "default")] * 5, 0),
    ("scheduled and deferred not yet work", [("scheduled", "etl"), ("deferred", "etl")], 0),
]


@needs_airflow
@pytest.mark.parametrize(("case", "rows", "expected"), CASES, ids=[case for case, _, _ in CASES])
def test_should_ask_for_one_replica_per_four_running_or_queued_tasks_of_the_pool(
    airflow_schema: sa.Engine, case: str, rows: list[tuple[str, str]], expected: int
) -> None:
    put_task_instances(airflow_schema, rows)
    assert replicas(airflow_schema, POOL, 4) == expected, case


@needs_airflow
def test_should_never_scale_to_zero_while_a_task_of_the_pool_runs(airflow_schema: sa.Engine) -> None:
    put_task_instances(airflow_schema, [("running", "backfill")])
    for per_replica in (1, 4, 16, 64):
        assert replicas(airflow_schema, POOL, per_replica) >= 1


def test_should_quote_queue_names_as_sql_literals() -> None:
    assert keda_query(["a'b"], 2).endswith("queue IN ('a''b')")
