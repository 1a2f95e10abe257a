"""Table columns from Avro fields: the SQL type and nullability of each field, and its default as a value.

=========================================  ==================================================================
Avro                                       SQLAlchemy column type
=========================================  ==================================================================
``["null", T]`` (either order)             ``T``, nullable; every other field is ``NOT NULL``
string                                     ``Text`` (MySQL ``LONGTEXT``: its ``TEXT`` stops at 64 KiB)
``uuid`` (on string)                       ``String(36)``; PostgreSQL ``UUID``
enum                                       ``String(255)``: later versions may add symbols without an ALTER
int / long                                 ``Integer`` / ``BigInteger``
float / double                             ``Float`` / ``Double``
boolean                                    ``Boolean``
bytes, fixed                               ``LargeBinary`` (MySQL ``LONGBLOB``)
``decimal(P, S)`` (on bytes or fixed)      ``Numeric(P, S)``
``date`` (on int)                          ``Date``
``time-millis`` / ``time-micros``          ``Time`` (MySQL ``TIME(3)`` / ``TIME(6)``)
``timestamp-millis`` / ``-micros``         ``DateTime(timezone=True)`` (MySQL ``DATETIME(3)`` / ``(6)``)
``local-timestamp-millis`` / ``-micros``   ``DateTime`` (MySQL ``DATETIME(3)`` / ``(6)``)
record, array, map, other unions           ``JSON``
=========================================  ==================================================================

A logical type on the wrong underlying type (``date`` on a string, say) is ignored, as Avro says readers
must. Named types are resolved by the ``avro`` package, so a field may use a type defined earlier by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import avro.schema
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from versioning.migrations.errors import MigrationError
from versioning.schema import Schema
from versioning.values import from_json, logical_type

ENUM_LENGTH = 255
UUID_LENGTH = 36

_FRACTIONAL_DIGITS = {"millis": 3, "micros": 6}
_JSON_KINDS = frozenset({"record", "error", "array", "map", "union"})


@dataclass(frozen=True)
class ColumnSpec:
    """One table column as a version of a subject defines it."""

    name: str
    type: sa.types.TypeEngine[Any]
    nullable: bool
    kind: str
    """The Avro type it comes from, as people read it: ``long``, ``timestamp-micros``, ``decimal(10, 2)``..."""

    def column(self) -> sa.Column[Any]:
        """A fresh SQLAlchemy column (a column belongs to one table, so each use needs its own)."""
        return sa.Column(self.name, self.type, nullable=self.nullable)

    def same_type(self, other: ColumnSpec) -> bool:
        """Whether both columns have the same SQL type (every JSON-held kind is the same ``JSON`` column)."""
        return _family(self.kind) == _family(other.kind)


def column_spec(schema: Schema, name: str) -> ColumnSpec:
    """The column for the top-level field ``name`` of a record schema."""
    parsed = _field(schema, name).type
    nullable = False
    if isinstance(parsed, avro.schema.UnionSchema):
        branches = [b for b in parsed.schemas if b.type != "null"]
        nullable = len(branches) < len(parsed.schemas)
        if len(branches) == 1:
            kind, sql_type = _sql_type(branches[0])
            return ColumnSpec(name, sql_type, nullable, kind)
        return ColumnSpec(name, sa.JSON(), nullable, "union")
    kind, sql_type = _sql_type(parsed)
    return ColumnSpec(name, sql_type, nullable, kind)


def table_columns(schema: Schema) -> list[ColumnSpec]:
    """Every column of a version's table, in field order."""
    return [column_spec(schema, name) for name in schema.field_names]


def default_value(schema: Schema, name: str) -> tuple[bool, Any]:
    """Whether the field has a default, and that default as the column's Python value (None for null)."""
    found = schema.field(name)
    if found is None or "default" not in found:
        return False, None
    return True, sql_value(_field(schema, name).type, found["default"])


def sql_value(parsed: avro.schema.Schema, value: Any) -> Any:
    """An Avro JSON value (as in a default) as the Python value of its column: bytes, dates, Decimals...

    Columns held as JSON (records, arrays, maps, unions of several types) take the JSON form as it is.
    """
    if value is None:
        return None
    if isinstance(parsed, avro.schema.UnionSchema):
        branches = [b for b in parsed.schemas if b.type != "null"]
        return sql_value(branches[0], value) if len(branches) == 1 else value
    if parsed.type in _JSON_KINDS:
        return value
    return from_json(parsed, value)


def _family(kind: str) -> str:
    return "json" if kind in _JSON_KINDS else kind


def _field(schema: Schema, name: str) -> avro.schema.Field:
    parsed = schema.parsed
    fields = getattr(parsed, "fields_dict", {})
    if name not in fields:
        raise MigrationError(f"{schema.source} has no field {name!r}", field=name)
    return fields[name]


def _int_prop(parsed: avro.schema.Schema, name: str) -> int:
    value = parsed.get_prop(name)
    return value if isinstance(value, int) else 0


def _logical_type(parsed: avro.schema.Schema) -> str | None:
    logical = logical_type(parsed)
    # A uuid on fixed(16) is bytes in a file; only the text form is a UUID column here.
    return None if logical == "uuid" and parsed.type == "fixed" else logical


def _sql_type(parsed: avro.schema.Schema) -> tuple[str, sa.types.TypeEngine[Any]]:
    kind, logical = parsed.type, _logical_type(parsed)
    if logical == "decimal":
        precision, scale = _int_prop(parsed, "precision"), _int_prop(parsed, "scale")
        return f"decimal({precision}, {scale})", sa.Numeric(precision, scale)
    if logical == "uuid":
        return logical, sa.String(UUID_LENGTH).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
    if logical == "date":
        return logical, sa.Date()
    if logical is not None:
        # MySQL keeps whole seconds unless told the fractional digits; the other databases keep micros.
        digits = _FRACTIONAL_DIGITS[logical.rsplit("-", 1)[1]]
        if logical.startswith("time-"):
            return logical, sa.Time().with_variant(mysql.TIME(fsp=digits), "mysql", "mariadb")
        zoned = logical.startswith("timestamp-")
        return logical, sa.DateTime(timezone=zoned).with_variant(mysql.DATETIME(fsp=digits), "mysql", "mariadb")
    simple: dict[str, sa.types.TypeEngine[Any]] = {
        # MySQL's TEXT and BLOB stop at 64 KiB; an Avro string or bytes has no limit, so LONGTEXT/LONGBLOB.
        "string": sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"),
        "int": sa.Integer(),
        "long": sa.BigInteger(),
        "float": sa.Float(),
        "double": sa.Double(),
        "boolean": sa.Boolean(),
        "bytes": sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
        "fixed": sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
        "enum": sa.String(ENUM_LENGTH),
    }
    if kind in simple:
        return kind, simple[kind]
    if kind == "null":
        raise MigrationError("a field that is always null has no column type; give it a type or remove it")
    return kind, sa.JSON()
