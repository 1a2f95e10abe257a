"""Constant values in generated SQL for the types SQLAlchemy cannot render as literals: bytes and JSON.

SQLAlchemy renders strings, numbers, dates and times as literals for every dialect, but writes bytes as raw
characters and has no literal form for JSON. These two constructs fill the gap, compiled per dialect:

- bytes: ``X'00ff'`` (SQLite, MySQL), ``decode('00ff', 'hex')`` (PostgreSQL; BigQuery gets ``FROM_HEX``);
- timestamps with a time zone: as they are, except on MySQL/MariaDB (no zone in a DATETIME), in UTC;
- JSON: the JSON text as a string literal, which each database converts on assignment to a JSON column;
  PostgreSQL gets an explicit ``CAST(... AS JSON)`` (BigQuery then gets ``PARSE_JSON``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement


class BytesLiteral(ColumnElement[bytes]):
    """A constant byte string."""

    inherit_cache = True
    type = sa.LargeBinary()

    def __init__(self, value: bytes) -> None:
        self.value = value


class TimestampLiteral(ColumnElement[dt.datetime]):
    """A constant moment with a time zone (an Avro ``timestamp-*``)."""

    inherit_cache = True

    def __init__(self, value: dt.datetime, type_: sa.types.TypeEngine[Any]) -> None:
        self.value = value
        self.type = type_


class JsonLiteral(ColumnElement[Any]):
    """A constant JSON document (a record, array or map value)."""

    inherit_cache = True
    type = sa.JSON()

    def __init__(self, value: Any) -> None:
        self.value = value


@compiles(BytesLiteral)
def _bytes_hex(element: BytesLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    # Hex digits only, so the text needs no escaping.
    return f"X'{element.value.hex()}'"


@compiles(BytesLiteral, "postgresql")
def _bytes_postgresql(element: BytesLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(sa.func.decode(sa.literal(element.value.hex()), sa.literal("hex")), literal_binds=True)


@compiles(TimestampLiteral)
def _timestamp(element: TimestampLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(sa.literal(element.value, element.type), literal_binds=True)


@compiles(TimestampLiteral, "mysql")
@compiles(TimestampLiteral, "mariadb")
def _timestamp_mysql(element: TimestampLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    # DATETIME has no time zone and MariaDB refuses a literal with an offset: the moment in UTC, as the
    # column holds every timestamp.
    utc = element.value.astimezone(dt.UTC).replace(tzinfo=None)
    return compiler.process(sa.literal(utc, element.type), literal_binds=True)


@compiles(JsonLiteral)
def _json_text(element: JsonLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(sa.literal(_dumps(element.value), sa.Text()), literal_binds=True)


@compiles(JsonLiteral, "postgresql")
def _json_postgresql(element: JsonLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(sa.cast(sa.literal(_dumps(element.value), sa.Text()), sa.JSON()), literal_binds=True)


def literal(value: Any, type_: sa.types.TypeEngine[Any]) -> ColumnElement[Any]:
    """A constant of a column's type, renderable with ``literal_binds`` for every dialect."""
    if isinstance(type_, sa.JSON):
        return JsonLiteral(value)
    if isinstance(value, bytes):
        return BytesLiteral(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return TimestampLiteral(value, type_)
    return sa.literal(value, type_)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
