"""The BigQuery SQL of an incremental load: create the table if missing, bring an existing table to the schema
version in place where BigQuery can, stop with a message where it cannot, then MERGE the deduplicated staging rows.

Identifiers are quoted by sqlglot's BigQuery dialect rather than by hand, so any column name BigQuery accepts
is written correctly.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from datapipe.bigquery_evolution import BigQueryChange, ChangeKind

# The BigQuery JSON schema uses the legacy type names; DDL takes the standard ones.
_DDL_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
_TIME_TYPES = {"DATE", "DATETIME", "TIMESTAMP"}


def quote(name: str) -> str:
    """A BigQuery identifier, backquoted."""
    return exp.to_identifier(name, quoted=True).sql(dialect="bigquery")


def table_ref(project_id: str, dataset: str, table: str) -> str:
    """A fully qualified BigQuery table name: ```project`.`dataset`.`table```."""
    return ".".join(quote(part) for part in (project_id, dataset, table))


# BigQuery clusters on at most four columns, and not on FLOAT64 or BYTES ones.
_CLUSTERABLE = {"INTEGER", "STRING", "NUMERIC", "BIGNUMERIC", "BOOLEAN", "DATE", "DATETIME", "TIMESTAMP"}
MAX_CLUSTERING_COLUMNS = 4


def string_literal(text: str) -> str:
    """A BigQuery string literal."""
    return exp.Literal.string(text).sql(dialect="bigquery")


def ddl_type(field: dict[str, Any]) -> str:
    """A column's type as DDL writes it: ``INT64``, ``NUMERIC(12, 2)``."""
    bq_type = _DDL_TYPES.get(field["type"], field["type"])
    if "precision" in field:
        bq_type += f"({field['precision']}, {field.get('scale', 0)})"
    return str(bq_type)


def column_ddl(field: dict[str, Any]) -> str:
    """One column of a CREATE TABLE: name, type with its parameters, NOT NULL, description."""
    text = f"{quote(field['name'])} {ddl_type(field)}"
    if field.get("mode") == "REQUIRED":
        text += " NOT NULL"
    if field.get("description"):
        text += f" OPTIONS(description={string_literal(field['description'])})"
    return text


def clustering_columns(fields: list[dict[str, Any]], primary_keys: list[str]) -> list[str]:
    """The primary key columns BigQuery can cluster on (the first four that are not FLOAT64 or BYTES)."""
    types = {f["name"]: f["type"] for f in fields}
    return [k for k in primary_keys if types.get(k) in _CLUSTERABLE][:MAX_CLUSTERING_COLUMNS]


def partition_clause(fields: list[dict[str, Any]], partition_column: str | None) -> str:
    """``PARTITION BY ...`` for a date or time partition column; empty for any other column."""
    field = next((f for f in fields if f["name"] == partition_column), None)
    if field is None or field["type"] not in _TIME_TYPES:
        return ""
    column = quote(field["name"])
    return f"PARTITION BY {column}" if field["type"] == "DATE" else f"PARTITION BY DATE({column})"


def create_table_sql(
    target: str,
    fields: list[dict[str, Any]],
    primary_keys: list[str],
    partition_column: str | None,
    description: str | None = None,
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the table's columns and their descriptions, primary key (not
    enforced), partitioning on a date/time partition column, clustering on the keys and the table's description."""
    lines = [column_ddl(f) for f in fields]
    if primary_keys:
        lines.append(f"PRIMARY KEY ({', '.join(quote(k) for k in primary_keys)}) NOT ENFORCED")
    body = ",\n  ".join(lines)
    sql = f"CREATE TABLE IF NOT EXISTS {target} (\n  {body}\n)"
    partition = partition_clause(fields, partition_column)
    if partition:
        sql += f"\n{partition}"
    clustering = clustering_columns(fields, primary_keys)
    if clustering:
        sql += f"\nCLUSTER BY {', '.join(quote(c) for c in clustering)}"
    if description:
        sql += f"\nOPTIONS(description={string_literal(description)})"
    return sql


def evolution_sql(target: str, changes: list[BigQueryChange]) -> list[str]:
    """The statements that apply in-place changes to an existing table. Each can run again on a table that
    already has it (so a table one or several versions behind is brought up by the same script)."""
    statements: list[str] = []
    for change in changes:
        if not change.in_place:
            raise ValueError(f"{change} cannot be applied in place")
        column = quote(change.column)
        if change.kind is ChangeKind.ADD:
            statements.append(f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {column_ddl(change.field)}")
        elif change.kind is ChangeKind.RELAX:
            statements.append(f"ALTER TABLE {target} ALTER COLUMN {column} DROP NOT NULL")
        elif change.kind is ChangeKind.WIDEN:
            statements.append(f"ALTER TABLE {target} ALTER COLUMN {column} SET DATA TYPE {ddl_type(change.field)}")
    return statements


def schema_guard_sql(
    project_id: str, dataset: str, table: str, fields: list[dict[str, Any]], version: str, fix: str
) -> str:
    """A query that fails (BigQuery's ``ERROR()``) when the table's columns are not the version's: a column
    missing, one the version does not have, or a different NULLABLE/REQUIRED mode. It runs after the in-place
    changes, so it fails exactly when the table needs a change BigQuery cannot make in place."""
    columns = f"{quote(project_id)}.{quote(dataset)}.INFORMATION_SCHEMA.COLUMNS"
    expected = "\n    UNION ALL ".join(
        f"SELECT {string_literal(f['name'])} AS column_name, "
        f"{string_literal('NO' if f.get('mode') == 'REQUIRED' else 'YES')} AS is_nullable"
        for f in fields
    )
    names = ", ".join(string_literal(f["name"]) for f in fields)
    where = f"actual.table_schema = {string_literal(dataset)} AND actual.table_name = {string_literal(table)}"
    message = f"table {dataset}.{table} does not match schema {version}, and BigQuery cannot change it in place: "
    return (
        f"SELECT ERROR(CONCAT({string_literal(message)}, STRING_AGG(problem, '; '), {string_literal('. ' + fix)}))\n"
        "FROM (\n"
        "  SELECT CONCAT(expected.column_name, ' is missing or not ', "
        "IF(expected.is_nullable = 'YES', 'NULLABLE', 'REQUIRED')) AS problem\n"
        f"  FROM (\n    {expected}\n  ) AS expected\n"
        f"  LEFT JOIN {columns} AS actual\n"
        f"    ON {where}\n"
        "    AND actual.column_name = expected.column_name AND actual.is_nullable = expected.is_nullable\n"
        "  WHERE actual.column_name IS NULL\n"
        "  UNION ALL\n"
        f"  SELECT CONCAT(actual.column_name, ' is not in the schema') AS problem\n"
        f"  FROM {columns} AS actual\n"
        f"  WHERE {where} AND actual.column_name NOT IN ({names})\n"
        ") AS problems\n"
        "HAVING COUNT(*) > 0"
    )


def deleted_condition(fields: list[dict[str, Any]], deleted_column: str) -> str:
    """The SQL condition, on the ``source`` row, that a soft-delete marker column says the row is deleted."""
    field = next((f for f in fields if f["name"].lower() == deleted_column.lower()), None)
    if field is None:
        raise ValueError(f"no column {deleted_column!r}")
    column = f"source.{quote(field['name'])}"
    if field["type"] == "BOOLEAN":
        return f"{column} IS TRUE"
    if field["type"] in _TIME_TYPES:
        return f"{column} IS NOT NULL"
    raise ValueError(f"column {field['name']!r} is {field['type']}, not a boolean, date or timestamp")


PRUNE_FROM, PRUNE_TO = "merge_partitions_from", "merge_partitions_to"
"""The script variables that hold the staging rows' lowest and highest partition column value."""


def prune_declarations(staging: str, partition: str) -> list[str]:
    """``DECLARE`` the range of the staging rows' partition column values (a BigQuery script declares its
    variables first). The MERGE compares the target's partition column with these constants, which lets BigQuery
    read only the partitions in that range, where a subquery in the join condition would read them all."""
    column = quote(partition)
    return [
        f"DECLARE {PRUNE_FROM} DEFAULT (SELECT MIN({column}) FROM {staging})",
        f"DECLARE {PRUNE_TO} DEFAULT (SELECT MAX({column}) FROM {staging})",
    ]


def merge_sql(
    target: str,
    staging: str,
    fields: list[dict[str, Any]],
    primary_keys: list[str],
    order_by: str | None,
    deleted: str | None = None,
    prune_on: str | None = None,
) -> str:
    """MERGE the staging rows into the target on the primary keys; the latest row per key wins.

    The staging rows are deduplicated first (one per primary key, the highest ``order_by`` value), because a
    MERGE fails when two source rows match one target row. With ``deleted`` (a condition from
    :func:`deleted_condition`), a row marked deleted removes its key from the target and is never inserted.
    With ``prune_on`` (the partition column, when its value never changes once a row exists), the MERGE reads
    only the target rows whose partition value lies in the staging rows' range (the script variables of
    :func:`prune_declarations`), or is NULL, as a row with a NULL partition value may be staged again.
    """
    columns = [quote(f["name"]) for f in fields]
    keys = [quote(k) for k in primary_keys]
    ordering = f"{quote(order_by)} DESC" if order_by else keys[0]
    on = " AND ".join(f"target.{k} = source.{k}" for k in keys)
    if prune_on:
        column = f"target.{quote(prune_on)}"
        on += f"\n  AND ({column} BETWEEN {PRUNE_FROM} AND {PRUNE_TO} OR {column} IS NULL)"
    updates = ",\n    ".join(f"{c} = source.{c}" for c in columns if c not in keys)
    inserted = ",\n    ".join(columns)
    values = ",\n    ".join(f"source.{c}" for c in columns)
    matched = f"WHEN MATCHED AND {deleted} THEN DELETE\n" if deleted else ""
    matched += f"WHEN MATCHED THEN UPDATE SET\n    {updates}\n" if updates else ""
    not_matched = "WHEN NOT MATCHED" + (f" AND NOT ({deleted})" if deleted else "") + " THEN INSERT (\n"
    return (
        f"MERGE {target} AS target\n"
        "USING (\n"
        f"  SELECT * FROM {staging}\n"
        "  WHERE TRUE\n"
        f"  QUALIFY ROW_NUMBER() OVER (PARTITION BY {', '.join(keys)} ORDER BY {ordering}) = 1\n"
        ") AS source\n"
        f"ON {on}\n"
        f"{matched}"
        f"{not_matched}"
        f"    {inserted}\n"
        ") VALUES (\n"
        f"    {values}\n"
        ")"
    )


def staging_expiration_sql(staging: str, hours: int) -> str:
    """Let BigQuery drop the staging table ``hours`` after this statement runs (each run's load replaces it)."""
    return (
        f"ALTER TABLE {staging} SET OPTIONS (\n"
        f"  expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL {int(hours)} HOUR)\n)"
    )
