"""The BigQuery SQL of an incremental load: create the table if missing, then MERGE the deduplicated staging rows.

Identifiers are quoted by sqlglot's BigQuery dialect rather than by hand, so any column name BigQuery accepts
is written correctly.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

# The BigQuery JSON schema uses the legacy type names; DDL takes the standard ones.
_DDL_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
_TIME_TYPES = {"DATE", "DATETIME", "TIMESTAMP"}


def quote(name: str) -> str:
    """A BigQuery identifier, backquoted."""
    return exp.to_identifier(name, quoted=True).sql(dialect="bigquery")


def table_ref(project_id: str, dataset: str, table: str) -> str:
    """A fully qualified BigQuery table name: ```project`.`dataset`.`table```."""
    return ".".join(quote(part) for part in (project_id, dataset, table))


def column_ddl(field: dict[str, Any]) -> str:
    """One column of a CREATE TABLE: name, type with its parameters, NOT NULL, description."""
    bq_type = _DDL_TYPES.get(field["type"], field["type"])
    if "precision" in field:
        bq_type += f"({field['precision']}, {field.get('scale', 0)})"
    text = f"{quote(field['name'])} {bq_type}"
    if field.get("mode") == "REQUIRED":
        text += " NOT NULL"
    if field.get("description"):
        text += f" OPTIONS(description={exp.Literal.string(field['description']).sql(dialect='bigquery')})"
    return text


def partition_clause(fields: list[dict[str, Any]], partition_column: str | None) -> str:
    """``PARTITION BY ...`` for a date or time partition column; empty for any other column."""
    field = next((f for f in fields if f["name"] == partition_column), None)
    if field is None or field["type"] not in _TIME_TYPES:
        return ""
    column = quote(field["name"])
    return f"PARTITION BY {column}" if field["type"] == "DATE" else f"PARTITION BY DATE({column})"


def create_table_sql(
    target: str, fields: list[dict[str, Any]], primary_keys: list[str], partition_column: str | None
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the table's columns, primary key (not enforced) and partitioning."""
    lines = [column_ddl(f) for f in fields]
    if primary_keys:
        lines.append(f"PRIMARY KEY ({', '.join(quote(k) for k in primary_keys)}) NOT ENFORCED")
    body = ",\n  ".join(lines)
    sql = f"CREATE TABLE IF NOT EXISTS {target} (\n  {body}\n)"
    partition = partition_clause(fields, partition_column)
    return f"{sql}\n{partition}" if partition else sql


def merge_sql(
    target: str, staging: str, fields: list[dict[str, Any]], primary_keys: list[str], order_by: str | None
) -> str:
    """MERGE the staging rows into the target on the primary keys; the latest row per key wins.

    The staging rows are deduplicated first (one per primary key, the highest ``order_by`` value), because a
    MERGE fails when two source rows match one target row.
    """
    columns = [quote(f["name"]) for f in fields]
    keys = [quote(k) for k in primary_keys]
    ordering = f"{quote(order_by)} DESC" if order_by else keys[0]
    on = " AND ".join(f"target.{k} = source.{k}" for k in keys)
    updates = ",\n    ".join(f"{c} = source.{c}" for c in columns if c not in keys)
    inserted = ",\n    ".join(columns)
    values = ",\n    ".join(f"source.{c}" for c in columns)
    matched = f"WHEN MATCHED THEN UPDATE SET\n    {updates}\n" if updates else ""
    return (
        f"MERGE {target} AS target\n"
        "USING (\n"
        f"  SELECT * FROM {staging}\n"
        "  WHERE TRUE\n"
        f"  QUALIFY ROW_NUMBER() OVER (PARTITION BY {', '.join(keys)} ORDER BY {ordering}) = 1\n"
        ") AS source\n"
        f"ON {on}\n"
        f"{matched}"
        "WHEN NOT MATCHED THEN INSERT (\n"
        f"    {inserted}\n"
        ") VALUES (\n"
        f"    {values}\n"
        ")"
    )
