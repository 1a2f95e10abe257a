"""A reflected table as an Avro record schema: column order, nullability, primary keys and comments kept."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from datapipe.config import MigrationConfig, TableSettings
from datapipe.errors import (
    PartitionColumnTypeError,
    UnknownColumnError,
    UnsupportedColumn,
    UnsupportedTypeError,
)
from datapipe.reflection import find_column
from datapipe.type_mapping import UnmappableType, avro_type

AVRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

PRIMARY_KEYS = "primary_keys"
"""The record attribute that lists the table's primary key columns (Avro keeps attributes it does not know)."""

SOURCE_TABLE = "source_table"
"""The record attribute that names the table in the source database, as reflected."""


def namespace(config: MigrationConfig) -> str:
    """The Avro namespace of a project's records: ``datapipe.<project name with underscores>``."""
    return "datapipe." + config.project.name.replace("-", "_")


def table_schema(table: sa.Table, settings: TableSettings, config: MigrationConfig, dialect: str) -> dict[str, Any]:
    """The Avro record schema of a reflected table.

    Nullable columns become ``["null", T]`` with default ``null`` (so adding one later is a compatible change);
    column comments become ``doc``; the primary keys (the config's, else the reflected ones) are recorded in
    the ``primary_keys`` attribute.
    """
    unsupported: list[UnsupportedColumn] = []
    fields: list[dict[str, Any]] = []
    for column in table.columns:
        if not AVRO_NAME.match(column.name):
            unsupported.append(
                UnsupportedColumn(column.name, str(column.type), "the name is not a valid Avro field name")
            )
            continue
        try:
            field_type = avro_type(column.type, dialect, config.types.unconstrained_number)
        except UnmappableType as error:
            unsupported.append(UnsupportedColumn(column.name, _type_name(column.type), error.reason))
            continue
        field: dict[str, Any] = {"name": column.name}
        if column.comment:
            field["doc"] = column.comment
        if column.nullable and not column.primary_key:
            field["type"] = ["null", field_type]
            field["default"] = None
        else:
            field["type"] = field_type
        fields.append(field)
    if unsupported:
        raise UnsupportedTypeError(settings.name, unsupported)

    schema: dict[str, Any] = {"type": "record", "name": settings.key, "namespace": namespace(config)}
    schema["doc"] = table.comment or f"Table {table.name} of the {config.project.name} migration."
    schema["fields"] = fields
    schema[SOURCE_TABLE] = table.name
    schema[PRIMARY_KEYS] = _primary_keys(table, settings)
    return schema


def _primary_keys(table: sa.Table, settings: TableSettings) -> list[str]:
    if not settings.primary_keys:
        return [c.name for c in table.primary_key.columns]
    keys: list[str] = []
    index = 0
    for index, name in enumerate(settings.primary_keys):
        column = find_column(table, name)
        if column is None:
            raise UnknownColumnError(
                f"tables[{settings.name}].primary_keys[{index}]", name, table.name, [c.name for c in table.columns]
            )
        keys.append(column.name)
    return keys


def _type_name(column_type: Any) -> str:
    try:
        return str(column_type)
    except Exception:
        # Some dialect types cannot compile without a dialect; their class name is clear enough.
        return type(column_type).__name__


def check_partition_column(table: sa.Table, settings: TableSettings) -> str | None:
    """The reflected name of the table's partition column, if it has one; raises if the table lacks it or if it
    is not a date or timestamp (a data interval selects rows by time)."""
    if settings.partition_column is None:
        return None
    column = find_column(table, settings.partition_column)
    if column is None:
        raise UnknownColumnError(
            f"tables[{settings.name}].partition_column",
            settings.partition_column,
            table.name,
            [c.name for c in table.columns],
        )
    if not isinstance(column.type, sa.Date | sa.DateTime):
        times = [c.name for c in table.columns if isinstance(c.type, sa.Date | sa.DateTime)]
        raise PartitionColumnTypeError(settings.name, column.name, _type_name(column.type), times)
    return column.name
