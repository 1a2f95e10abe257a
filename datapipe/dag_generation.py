"""``datapipe generate dag``: the Airflow DAG that extracts one table and loads it into the warehouse.

The DAG is rendered from a Jinja template into ``dags/dag_<cloud>_<table>.py``: readable, deterministic (the
same config and schema give the same bytes) and headed by a do-not-edit notice. Its tasks:

- ``extract``: a KubernetesPodOperator on the table's Celery queue runs ``python -m datapipe.extract`` in the
  extractor image, writing the run's rows (incremental: the data interval of the partition column) as Avro
  files under the staging bucket;
- full loads: ``load`` replaces the warehouse table with the files (``WRITE_TRUNCATE``);
- incremental loads: ``load_staging`` replaces a staging table with the files, then ``merge`` creates the
  warehouse table if missing and MERGEs the staging rows into it on the primary keys, one row per key.
"""

from __future__ import annotations

import itertools
import json
import pprint
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from datapipe.bigquery_evolution import BigQueryChange, bigquery_changes
from datapipe.bigquery_sql import (
    clustering_columns,
    create_table_sql,
    deleted_condition,
    evolution_sql,
    merge_sql,
    prune_declarations,
    schema_guard_sql,
    staging_expiration_sql,
    table_ref,
)
from datapipe.config import WAREHOUSES, AwsDestination, AzureDestination, Cloud, GcpDestination, LoadMode, Project
from datapipe.errors import ConfigError, ConfigProblem, DatapipeError, MissingSchemaError, UnsupportedTargetError
from datapipe.schema_generation import SchemaFiles
from datapipe.table_registry import SubjectHistory, read_subject
from datapipe.table_schema import PRIMARY_KEYS
from versioning.exports.bigquery import to_bigquery

FULL_HISTORY_START = (
    "{{ '' if params.full_history or prev_data_interval_start_success is none "
    "else data_interval_start.isoformat() }}"
)
"""The extractor's ``--start``: empty (the whole history before the interval's end) on the DAG's first run and
when triggered with ``{"full_history": true}``; the data interval's start otherwise."""

STAGING_TABLE_PREFIX = "_staging_"
"""Incremental loads land in ``<dataset>._staging_<table>`` before the MERGE."""



class MissingPrimaryKeyError(DatapipeError):
    """An incremental table without primary keys cannot be merged."""

    def __init__(self, table: str, config: str) -> None:
        super().__init__(
            f"table {table!r} loads incrementally but has no primary key to merge on; set "
            f"tables[].primary_keys for it in {config}, then run `datapipe generate schema {table}` again"
        )


@dataclass(frozen=True)
class GeneratedDag:
    """What ``generate dag`` wrote."""

    dag_id: str
    path: Path
    text: str


def dag_path(project: Project, table_key: str) -> Path:
    """``dags/dag_<cloud>_<table>.py`` inside the project."""
    return project.dags_dir / f"dag_{project.config.destination.cloud}_{table_key}.py"


def render_dag(project: Project, table_name: str, config_file: str | None = None) -> GeneratedDag:
    """Render the DAG of ``table_name`` from the config and the table's generated ``.avsc`` (not written)."""
    config = project.config
    settings = project.table(table_name)
    destination = config.destination
    if isinstance(destination, AwsDestination | AzureDestination):
        raise UnsupportedTargetError(destination.cloud.value, WAREHOUSES[destination.cloud], [Cloud.GCP.value])
    assert isinstance(destination, GcpDestination)
    shown_config = config_file or str(project.config_path)
    files = SchemaFiles.of(project, settings)
    if not files.avsc.is_file():
        raise MissingSchemaError(settings.name, str(files.avsc), shown_config)
    avro = json.loads(files.avsc.read_text(encoding="utf-8"))
    if not files.bigquery.is_file():
        raise MissingSchemaError(settings.name, str(files.bigquery), shown_config)
    # The BigQuery table schema file (written beside the .avsc by `generate schema`) is what the table is
    # created with: columns, modes, descriptions.
    fields: list[dict[str, Any]] = json.loads(files.bigquery.read_text(encoding="utf-8"))
    primary_keys: list[str] = list(avro.get(PRIMARY_KEYS, []))
    incremental = settings.load_mode is LoadMode.INCREMENTAL
    if incremental and not primary_keys:
        raise MissingPrimaryKeyError(settings.name, shown_config)
    partition = _field_name(fields, settings.partition_column)

    name = config.project.name
    dag_id = f"{name}__{settings.key}"
    staging_uri = f"gs://{destination.staging_bucket}/{name}/{settings.key}/{{{{ data_interval_start | ts_nodash }}}}/"
    project_dir = config.airflow.project_dir or f"/opt/datapipe/{name}"
    arguments = ["--config", f"{project_dir}/config.yaml", "--table", settings.name, "--output", staging_uri]
    if incremental:
        # The first run (no earlier successful one) and a run triggered with full_history read the whole history.
        arguments += ["--start", FULL_HISTORY_START]
        arguments += ["--end", "{{ data_interval_end.isoformat() }}"]
    mode = "incremental (merged on " + ", ".join(primary_keys) + ")" if incremental else "full (replaced)"
    values: dict[str, Any] = {
        "config_file": shown_config,
        "schema_file": f"schemas/{files.avsc.name}",
        "table": settings,
        "title": f"Load {settings.name} from {config.source.kind} into BigQuery "
        f"{destination.project_id}.{destination.dataset}.{settings.key}.",
        "description": f"Load mode: {mode}; schedule {config.airflow.schedule}; "
        f"extraction on Celery queue {settings.queue or config.airflow.queue!r}.",
        "dag_id": dag_id,
        "airflow": config.airflow,
        "destination": destination,
        "tags": ["datapipe", name, config.project.environment, settings.load_mode.value],
        "pod_name": f"extract-{name}-{settings.key.replace('_', '-')}"[:63].rstrip("-"),
        "queue": settings.queue or config.airflow.queue,
        "source_secret": config.airflow.source_secret or f"{name}-source",
        "service_account": config.airflow.service_account or f"{name}-extractor",
        "resources": config.airflow.extractor_resources,
        "staging_uri": staging_uri,
        "extract_arguments": arguments,
        "incremental": incremental,
        "load_task_id": "load_staging" if incremental else "load",
        "load_table": STAGING_TABLE_PREFIX + settings.key if incremental else settings.key,
        "time_partitioning": partition if _is_time(fields, partition) else None,
        "clustering": clustering_columns(fields, primary_keys),
        "table_description": avro.get("doc"),
        "merge_script": incremental_script(
            project, settings.key, avro, fields, primary_keys, partition,
            _deleted(fields, settings.name, settings.deleted_column, shown_config), settings.partition_immutable,
        ) if incremental else "",
    }
    text = _environment().get_template(f"dag_{destination.cloud}.py.j2").render(values)
    return GeneratedDag(dag_id, dag_path(project, settings.key), text)


def incremental_script(
    project: Project,
    key: str,
    avro: dict[str, Any],
    fields: list[dict[str, Any]],
    primary_keys: list[str],
    partition: str | None,
    deleted: str | None = None,
    prune: bool = False,
) -> str:
    """The BigQuery script of an incremental load: create the table if missing; apply the in-place changes of
    the schema versions since the last change BigQuery cannot make in place (each statement can run again);
    stop with a message if the table still differs from the schema; MERGE the staging rows (with ``prune``, only
    into the target partitions of the staging rows' range)."""
    destination = project.config.destination
    assert isinstance(destination, GcpDestination)
    target = table_ref(destination.project_id, destination.dataset, key)
    staging = table_ref(destination.project_id, destination.dataset, STAGING_TABLE_PREFIX + key)
    history = read_subject(project.registry_dir, key)
    version = f"v{history.latest}" if history is not None else "of schemas/" + key + ".avsc"
    prune_on = partition if prune and partition and _is_time(fields, partition) else None
    statements = prune_declarations(staging, prune_on) if prune_on else []
    statements += [
        staging_expiration_sql(staging, project.config.airflow.staging_expiration_hours),
        create_table_sql(target, fields, primary_keys, partition, avro.get("doc")),
    ]
    statements += evolution_sql(target, in_place_changes(history))
    dag_id = f"{project.config.project.name}__{key}"
    fix = (
        f"Recreate it: drop {destination.dataset}.{key} (or rename it to keep its rows), then load the whole "
        f"history once: trigger {dag_id} with the config {{\"full_history\": true}} (airflow dags trigger --conf)"
    )
    statements.append(schema_guard_sql(destination.project_id, destination.dataset, key, fields, version, fix))
    statements.append(merge_sql(target, staging, fields, primary_keys, partition, deleted, prune_on))
    return ";\n\n".join(statements) + ";\n"


def in_place_changes(history: SubjectHistory | None) -> list[BigQueryChange]:
    """The in-place changes of every version step since the last step BigQuery cannot apply in place, in order.

    Earlier steps are left out: a table older than such a step must be recreated (the script's guard says so),
    and replaying them on a newer table could undo a later change (a column added, then dropped)."""
    if history is None:
        return []
    versions = sorted(history.schemas)
    steps: list[list[BigQueryChange]] = []
    for before, after in itertools.pairwise(versions):
        changes = bigquery_changes(to_bigquery(history.schemas[before]), to_bigquery(history.schemas[after]))
        if not all(c.in_place for c in changes):
            steps = []
        else:
            steps.append(changes)
    return [change for step in steps for change in step]


def generate_dag(project: Project, table_name: str, config_file: str | None = None) -> GeneratedDag:
    """Render the DAG of ``table_name`` and write it to ``dags/dag_<cloud>_<table>.py``."""
    dag = render_dag(project, table_name, config_file)
    dag.path.parent.mkdir(parents=True, exist_ok=True)
    dag.path.write_text(dag.text, encoding="utf-8")
    return dag


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("datapipe", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML
    )
    env.filters["py"] = _python_literal
    env.filters["sql_literal"] = _sql_literal
    return env


def _python_literal(value: Any) -> str:
    # repr of str/bool/list/dict is valid, deterministic Python source.
    return pprint.pformat(value, width=100, sort_dicts=False)


def _sql_literal(sql: str) -> str:
    # A triple-quoted string reads like the SQL itself; fall back to repr when the text could break it.
    if '"""' in sql or "\\" in sql:
        return _python_literal(sql)
    return '"""\\\n' + sql + '"""'


def _deleted(fields: list[dict[str, Any]], table: str, column: str | None, config_file: str) -> str | None:
    if column is None:
        return None
    try:
        return deleted_condition(fields, column)
    except ValueError as error:
        raise ConfigError(config_file, [ConfigProblem(
            f"tables[{table}].deleted_column",
            f"{error}; name the boolean, date or timestamp column the source sets on deleted rows "
            f"(columns: {', '.join(f['name'] for f in fields)})",
        )]) from None


def _field_name(fields: list[dict[str, Any]], column: str | None) -> str | None:
    if column is None:
        return None
    return next((f["name"] for f in fields if f["name"].lower() == column.lower()), column)


def _is_time(fields: list[dict[str, Any]], column: str | None) -> bool:
    return any(f["name"] == column and f["type"] in {"DATE", "DATETIME", "TIMESTAMP"} for f in fields)
