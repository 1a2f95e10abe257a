"""Schema changes reach the warehouse: the DDL and MERGE of each version's DAG, transpiled by sqlglot to
PostgreSQL and executed for real on a target table created by the previous version's DAG.

PostgreSQL stands in for BigQuery with three adjustments, all about spelling, none about behaviour: BigQuery-only
table options (partitioning, clustering, descriptions, unenforced keys) are dropped; the dataset's
``INFORMATION_SCHEMA.COLUMNS`` view is PostgreSQL's ``information_schema.columns``; and BigQuery's built-in
``ERROR(message)`` is a PL/pgSQL function that raises the message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from datapipe_fixtures import pg_source, write_config
from sqlglot import exp

from datapipe.bigquery_sql import create_table_sql, table_ref
from datapipe.config import Project, load_project
from datapipe.dag_generation import render_dag
from datapipe.errors import IncompatibleVersionError
from datapipe.schema_generation import generate_schema
from versioning.exports.bigquery import to_bigquery

pytestmark = pytest.mark.postgres

SOURCE_DDL = """CREATE TABLE {s}.ventas (
    id bigint PRIMARY KEY, cliente varchar(100) NOT NULL, total numeric(12, 2), modificada timestamp)"""


class Warehouse:
    """A PostgreSQL schema standing in for the BigQuery dataset."""

    def __init__(self, engine: sa.Engine, database: str, dataset: str) -> None:
        self.engine, self.database, self.dataset = engine, database, dataset

    def run(self, script: str) -> None:
        """Run a BigQuery script statement by statement, as BigQuery does: the first error stops it."""
        with self.engine.begin() as connection:
            connection.exec_driver_sql(f'SET search_path TO "{self.dataset}", public')
            for statement in to_postgres(script, self.database, self.dataset):
                connection.exec_driver_sql(statement.replace("%", "%%"))

    def stage(self, fields: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        """Replace the staging table with ``rows`` (what the load job of the run does)."""
        staging = table_ref(self.database, self.dataset, "_staging_ventas")
        with self.engine.begin() as connection:
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{self.dataset}"."_staging_ventas"')
            for statement in to_postgres(create_table_sql(staging, fields, [], None), self.database, self.dataset):
                connection.exec_driver_sql(statement.replace(" IF NOT EXISTS", ""))
            for row in rows:
                names = ", ".join(f'"{k}"' for k in row)
                values = ", ".join(f"%({k})s" for k in row)
                connection.exec_driver_sql(
                    f'INSERT INTO "{self.dataset}"."_staging_ventas" ({names}) VALUES ({values})', row)

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            result = connection.exec_driver_sql(f'SELECT * FROM "{self.dataset}"."ventas" ORDER BY "id"')
            return [dict(r._mapping) for r in result]

    def columns(self) -> dict[str, tuple[str, str]]:
        with self.engine.connect() as connection:
            result = connection.exec_driver_sql(
                "SELECT column_name, data_type, is_nullable, numeric_precision FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'ventas'", (self.dataset,))
            return {r[0]: (f"{r[1]}({r[3]})" if r[3] and r[1] == "numeric" else r[1], r[2]) for r in result}


def to_postgres(script: str, database: str, dataset: str) -> list[str]:
    script = script.replace(f"`{database}`.`{dataset}`.INFORMATION_SCHEMA.COLUMNS", "information_schema.columns")
    statements = []
    variables: dict[str, exp.Expression] = {}
    for statement in sqlglot.parse(script, read="bigquery"):
        assert statement is not None
        if isinstance(statement, exp.Declare):  # a script variable: its default, inlined where it is used
            for item in statement.expressions:
                for name in item.this:
                    variables[name.name] = item.args["default"]
            continue
        for column in list(statement.find_all(exp.Column)):
            if not column.table and column.name in variables:
                column.replace(variables[column.name].copy())
        if isinstance(statement, exp.Alter) and any(isinstance(a, exp.AlterSet) for a in statement.args["actions"]):
            continue  # SET OPTIONS (the staging table's expiration): a table option
        if isinstance(statement, exp.Create):
            statement.set("properties", None)
        for constraint in list(statement.find_all(exp.ColumnConstraint)):
            if isinstance(constraint.args.get("kind"), exp.Properties):
                constraint.pop()
        for key in statement.find_all(exp.PrimaryKey):
            key.set("options", None)
        # BigQuery's parser keeps INFORMATION_SCHEMA views as one name; PostgreSQL's is a schema and a view.
        statements.append(statement.sql(dialect="postgres").replace('"information_schema.columns"',
                                                                     "information_schema.columns"))
    return statements


@pytest.fixture
def setup(pg_schema: tuple[sa.Engine, str], postgres_url: str, pg_user_env: str,
          tmp_path: Path) -> Iterator[tuple[Project, sa.Engine, str, Warehouse]]:
    engine, schema = pg_schema
    dataset = f"wh_{uuid.uuid4().hex[:10]}"
    database = engine.url.database or "test"
    with engine.begin() as connection:
        connection.exec_driver_sql(SOURCE_DDL.format(s=schema))
        connection.exec_driver_sql(f'CREATE SCHEMA "{dataset}"')
        connection.exec_driver_sql(
            f'CREATE FUNCTION "{dataset}".error(message text) RETURNS text LANGUAGE plpgsql '
            "AS $$ BEGIN RAISE EXCEPTION '%%', message; END $$")
    destination = {"cloud": "gcp", "project_id": database, "dataset": dataset, "staging_bucket": "acme-staging"}
    tables = [{"name": "VENTAS", "load_mode": "incremental", "partition_column": "modificada"}]
    project = load_project(write_config(tmp_path / "migracion-ventas", source=pg_source(postgres_url, schema),
                                        destination=destination, tables=tables))
    try:
        yield project, engine, schema, Warehouse(engine, database, dataset)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{dataset}" CASCADE')


def merge_script(project: Project) -> str:
    text = render_dag(project, "VENTAS").text
    match = re.search(r'MERGE_SQL = """\\\n(.*?)"""', text, re.S)
    assert match is not None
    return match.group(1)


def fields_of(project: Project) -> list[dict[str, Any]]:
    import json

    return to_bigquery(json.loads((project.schemas_dir / "ventas.avsc").read_text()))


def first_load(project: Project, warehouse: Warehouse) -> None:
    """Version 1: the DAG creates the table and merges a first row."""
    generate_schema(project, "VENTAS")
    warehouse.stage(fields_of(project), [{"id": 1, "cliente": "Ana", "total": Decimal("10.50"),
                                          "modificada": "2025-01-01 09:00"}])
    warehouse.run(merge_script(project))
    assert [r["id"] for r in warehouse.rows()] == [1]


def alter_source(engine: sa.Engine, schema: str, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement.format(s=schema))


@pytest.mark.parametrize(
    ("change", "force", "row", "column"),
    [
        # A NULLABLE column added.
        (["ALTER TABLE {s}.ventas ADD COLUMN canal varchar(20)"], False,
         {"id": 2, "cliente": "Luis", "canal": "web", "modificada": "2025-01-02 09:00"}, ("canal", ("text", "YES"))),
        # REQUIRED relaxed to NULLABLE: a row without a cliente merges.
        (["ALTER TABLE {s}.ventas ALTER COLUMN cliente DROP NOT NULL"], False,
         {"id": 2, "cliente": None, "modificada": "2025-01-02 09:00"}, ("cliente", ("text", "YES"))),
        # A widening BigQuery applies in place (Avro calls a decimal's new precision incompatible: forced).
        (["ALTER TABLE {s}.ventas ALTER COLUMN total TYPE numeric(14, 2)"], True,
         {"id": 2, "cliente": "Eva", "total": Decimal("123456789012.34"), "modificada": "2025-01-02 09:00"},
         ("total", ("numeric(14)", "YES"))),
        # Two versions at once: the table is brought from v1 to v3.
        (["ALTER TABLE {s}.ventas ADD COLUMN canal varchar(20)", "ALTER TABLE {s}.ventas ADD COLUMN zona text"],
         False, {"id": 2, "cliente": "Eva", "canal": "tienda", "zona": "sur", "modificada": "2025-01-02 09:00"},
         ("zona", ("text", "YES"))),
    ],
)
def test_should_apply_an_in_place_change_before_merging(
    setup: tuple[Project, sa.Engine, str, Warehouse], change: list[str], force: bool, row: dict[str, Any],
    column: tuple[str, tuple[str, str]],
) -> None:
    project, engine, schema, warehouse = setup
    first_load(project, warehouse)
    for statement in change:  # one new version per statement
        alter_source(engine, schema, statement)
        if force:
            with pytest.raises(IncompatibleVersionError):
                generate_schema(project, "VENTAS")
        outcome = generate_schema(project, "VENTAS", force=force)
        assert outcome.added and all(c.in_place for c in outcome.bigquery_changes)
    warehouse.stage(fields_of(project), [row])
    script = merge_script(project)
    warehouse.run(script)
    warehouse.run(script)  # a rerun (or a table already at this version) changes nothing
    name, expected = column
    assert warehouse.columns()[name] == expected
    merged = {r["id"]: r for r in warehouse.rows()}
    assert set(merged) == {1, 2}
    assert {k: merged[2][k] for k in row if k != "modificada"} == {k: v for k, v in row.items() if k != "modificada"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("ALTER TABLE {s}.ventas DROP COLUMN total", "total is not in the schema"),
        ("ALTER TABLE {s}.ventas ALTER COLUMN total SET NOT NULL", "total is missing or not REQUIRED"),
    ],
)
def test_should_stop_the_run_when_bigquery_cannot_change_the_table_in_place(
    setup: tuple[Project, sa.Engine, str, Warehouse], change: str, problem: str
) -> None:
    project, engine, schema, warehouse = setup
    first_load(project, warehouse)
    alter_source(engine, schema, change)
    outcome = generate_schema(project, "VENTAS", force=True)
    assert not all(c.in_place for c in outcome.bigquery_changes)
    warehouse.stage(fields_of(project), [])
    with pytest.raises(sa.exc.DBAPIError) as caught:
        warehouse.run(merge_script(project))
    message = str(caught.value.orig)
    assert f"does not match schema v2, and BigQuery cannot change it in place: {problem}" in message
    assert "Recreate it" in message and "full_history" in message
    assert [r["id"] for r in warehouse.rows()] == [1]  # nothing merged


def test_should_merge_into_the_staged_partitions_only_when_the_partition_column_never_changes(
    setup: tuple[Project, sa.Engine, str, Warehouse],
) -> None:
    """tables[].partition_immutable: the MERGE declares the staging rows' partition range first and matches only
    target rows in it (or with no partition value), so BigQuery reads those partitions, not the whole table."""
    project, _, _, warehouse = setup
    data = project.config.model_dump(mode="json", by_alias=True)
    data["tables"][0]["partition_immutable"] = True
    project = load_project(write_config(project.root, data))
    first_load(project, warehouse)  # id 1 in the partition of 2025-01-01
    fields = fields_of(project)
    warehouse.stage(fields, [{"id": 7, "cliente": "Old", "modificada": "2024-06-01 10:00"},
                             {"id": 3, "cliente": "Sin fecha", "modificada": None}])
    warehouse.run(merge_script(project))
    script = merge_script(project)
    assert script.startswith("DECLARE merge_partitions_from DEFAULT (SELECT MIN(`modificada`) FROM ")
    assert "AND (target.`modificada` BETWEEN merge_partitions_from AND merge_partitions_to" in script

    warehouse.stage(fields, [
        {"id": 1, "cliente": "Ana María", "modificada": "2025-01-01 09:00"},  # in range: updated in place
        {"id": 2, "cliente": "Luis", "modificada": "2025-01-03 12:00"},  # new
        {"id": 3, "cliente": "Sin fecha 2", "modificada": None},  # no partition value: still matched
    ])
    warehouse.run(script)
    warehouse.run(script)  # a rerun changes nothing
    merged = [(r["id"], r["cliente"]) for r in warehouse.rows()]
    assert merged == [(1, "Ana María"), (2, "Luis"), (3, "Sin fecha 2"), (7, "Old")]

    # A row whose partition value changed breaks the promise: its old version lies outside the partitions read,
    # so the MERGE inserts it again. BigQuery's unenforced key would keep both rows (the duplicate that the
    # default, partition_immutable: false, prevents); PostgreSQL's enforced key refuses it, which shows here
    # that the target was limited to the staged range.
    warehouse.stage(fields, [{"id": 7, "cliente": "Moved", "modificada": "2025-01-02 08:00"}])
    with pytest.raises(sa.exc.IntegrityError, match=r"Key \(id\)=\(7\) already exists"):
        warehouse.run(script)


def test_should_read_the_whole_table_by_default(setup: tuple[Project, sa.Engine, str, Warehouse]) -> None:
    project, _, _, warehouse = setup
    first_load(project, warehouse)
    assert "DECLARE" not in merge_script(project) and "merge_partitions" not in merge_script(project)
    warehouse.stage(fields_of(project), [{"id": 1, "cliente": "Ana María", "modificada": "2025-03-01 09:00"}])
    warehouse.run(merge_script(project))
    assert [(r["id"], r["cliente"]) for r in warehouse.rows()] == [(1, "Ana María")]
