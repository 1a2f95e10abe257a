"""BigQuery export: a record schema as the JSON table schema that ``bq mk --schema`` and the BigQuery API take.

The mapping is the one BigQuery itself applies when it loads Avro files with ``useAvroLogicalTypes`` on, so
a table created from this export accepts the subject's Avro files as they are:

* ``["null", T]`` (either order): ``T`` with mode ``NULLABLE``; any other non-array type: mode ``REQUIRED``;
* array of ``T``, also ``["null", array]``: ``T`` with mode ``REPEATED`` (BigQuery loads a null array as
  ``[]``);
* record: ``RECORD`` with nested ``fields``; map of ``T``: ``REPEATED RECORD`` of ``key`` (``STRING``) and
  ``value`` (``T``);
* enum, string, ``uuid``: ``STRING``; bytes, fixed: ``BYTES``; int, long: ``INTEGER``; float, double:
  ``FLOAT``; boolean: ``BOOLEAN``;
* ``date``: ``DATE``; ``time-millis``, ``time-micros``: ``TIME``; ``timestamp-millis``/``-micros``:
  ``TIMESTAMP``; ``local-timestamp-millis``/``-micros``: ``DATETIME``;
* ``decimal(P, S)``: ``NUMERIC`` if 0 <= S <= 9 and P - S <= 29, else ``BIGNUMERIC`` if S <= 38 and
  P - S <= 38, else an error; ``precision`` and ``scale`` are given unless they are NUMERIC's default
  (38, 9).

Other logical types, and logical types on the wrong underlying type (``date`` on a string, say), are
ignored, as Avro says readers must. A field's ``doc`` becomes its ``description`` (a named type's ``doc``
stands in when the field has none). What BigQuery cannot hold raises :class:`ExportError` naming the field:
a union of two non-null types, a field that is always null, arrays of arrays (maps count as arrays),
nullable array items, recursive types, empty records, nesting deeper than BigQuery's 15 levels, and column
names BigQuery rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from versioning.exports.errors import ExportError, pointer_step
from versioning.exports.names import ResolvedSchema, logical_type, resolve, type_name

MAX_NESTED_RECORD_DEPTH = 15
MAX_COLUMN_NAME_LENGTH = 300
MAX_DESCRIPTION_LENGTH = 1024
COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# BigQuery keeps these prefixes (in any letter case) for its pseudo-columns.
RESERVED_COLUMN_PREFIXES = (
    "_TABLE_",
    "_FILE_",
    "_PARTITION",
    "_ROW_TIMESTAMP",
    "__ROOT__",
    "_COLIDENTIFIER",
    "_CHANGE_SEQUENCE_NUMBER",
    "_CHANGE_TYPE",
    "_CHANGE_TIMESTAMP",
)

NUMERIC_DEFAULT_PRECISION_SCALE = (38, 9)

# (underlying Avro type, logicalType) -> BigQuery type, as BigQuery converts Avro logical types on load.
LOGICAL_TYPES: dict[tuple[str, str], str] = {
    ("int", "date"): "DATE",
    ("int", "time-millis"): "TIME",
    ("long", "time-micros"): "TIME",
    ("long", "timestamp-millis"): "TIMESTAMP",
    ("long", "timestamp-micros"): "TIMESTAMP",
    ("long", "local-timestamp-millis"): "DATETIME",
    ("long", "local-timestamp-micros"): "DATETIME",
    ("string", "uuid"): "STRING",
}
PRIMITIVE_TYPES = {
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "long": "INTEGER",
    "float": "FLOAT",
    "double": "FLOAT",
    "bytes": "BYTES",
    "string": "STRING",
    "enum": "STRING",
    "fixed": "BYTES",
}


def to_bigquery(schema: Any) -> list[dict[str, Any]]:
    """The BigQuery table schema (a list of column objects) for an Avro record schema.

    Each column is ``{"name", "type", "mode"}`` plus ``"description"`` when documented, ``"precision"`` and
    ``"scale"`` for parameterised decimals (strings, as the API writes 64-bit integers) and ``"fields"`` for
    ``RECORD`` columns. Raises :class:`ExportError` for anything BigQuery cannot represent.
    """
    resolved = resolve(schema)
    root = resolved.deref(resolved.root)
    if type_name(root) not in ("record", "error"):
        raise ExportError(
            "",
            f"a BigQuery table needs a record at the top level, but this schema is {_describe(root)}; "
            "export a record schema whose fields are the table's columns",
        )
    return _Columns(resolved).of_record(root, "", _Nesting(records=(root["name"],), depth=0))


@dataclass(frozen=True)
class _Column:
    """What a field's Avro type says about its column: mode, BigQuery type and the type's extra keys."""

    mode: str
    type: str
    extra: dict[str, Any]
    type_doc: str | None


@dataclass(frozen=True)
class _Nesting:
    """Where a column sits: the records being expanded around it and how many RECORD levels deep it is."""

    records: tuple[str, ...]
    depth: int

    def enter(self, path: str, record_name: str | None = None) -> _Nesting:
        """The nesting inside a new RECORD column (a record, or a map's key/value entries) at ``path``."""
        if record_name is not None and record_name in self.records:
            raise ExportError(
                path,
                f"record {record_name!r} contains itself ({' -> '.join((*self.records, record_name))}) and "
                "BigQuery cannot represent recursive types; cut the cycle, e.g. store the nested value as a "
                "JSON string or an id that refers to it",
            )
        if self.depth + 1 > MAX_NESTED_RECORD_DEPTH:
            raise ExportError(
                path,
                f"RECORD columns nest {self.depth + 1} levels deep here and BigQuery allows at most "
                f"{MAX_NESTED_RECORD_DEPTH} (a map is a RECORD level too); flatten the innermost records",
            )
        records = self.records if record_name is None else (*self.records, record_name)
        return _Nesting(records=records, depth=self.depth + 1)


class _Columns:
    """Turns records into column lists."""

    def __init__(self, resolved: ResolvedSchema) -> None:
        self.resolved = resolved

    def of_record(self, record: dict[str, Any], path: str, nesting: _Nesting) -> list[dict[str, Any]]:
        if not record["fields"]:
            raise ExportError(
                path,
                f"record {record['name']!r} has no fields and BigQuery cannot store an empty RECORD; "
                "add a field to it or remove the field that uses it",
            )
        seen: dict[str, str] = {}
        columns = []
        for field in record["fields"]:
            name = field["name"]
            field_path = f"{path}/fields/{pointer_step(name)}"
            _check_column_name(name, field_path)
            if name.lower() in seen:
                raise ExportError(
                    field_path,
                    f"column {name!r} clashes with column {seen[name.lower()]!r}: BigQuery column names "
                    "ignore letter case; rename one of the fields",
                )
            seen[name.lower()] = name
            columns.append(self.of_field(name, field["type"], field.get("doc"), field_path, nesting))
        return columns

    def of_field(self, name: str, schema: Any, doc: str | None, path: str, nesting: _Nesting) -> dict[str, Any]:
        column = self._column(schema, path, nesting)
        description = doc if doc is not None else column.type_doc
        result: dict[str, Any] = {"name": name, "type": column.type, "mode": column.mode}
        if description:
            if len(description) > MAX_DESCRIPTION_LENGTH:
                raise ExportError(
                    path,
                    f"the doc is {len(description)} characters long and BigQuery descriptions hold at most "
                    f"{MAX_DESCRIPTION_LENGTH}; shorten the doc",
                )
            result["description"] = description
        return result | column.extra

    def _column(self, schema: Any, path: str, nesting: _Nesting) -> _Column:
        nullable, value = self._unwrap_nullable(schema, path)
        kind = type_name(value)
        if kind == "array":
            item_nullable, item = self._unwrap_nullable(value["items"], f"{path}/items")
            if item_nullable:
                raise ExportError(
                    f"{path}/items",
                    "the array's items may be null, and BigQuery arrays cannot hold nulls; "
                    'make the item type non-nullable (drop "null" from the items\' union)',
                )
            if type_name(item) in ("array", "map"):
                raise ExportError(
                    f"{path}/items",
                    f"the array's items are {_describe(item)}s, and BigQuery has no arrays of arrays "
                    "(a map is an array of key/value records); wrap the inner "
                    f"{type_name(item)} in a record with one field",
                )
            element = self._column(item, f"{path}/items", nesting)
            return _Column("REPEATED", element.type, element.extra, element.type_doc)
        if kind == "map":
            inner = nesting.enter(path)
            value_column = self.of_field("value", value["values"], None, f"{path}/values", inner)
            entry = [{"name": "key", "type": "STRING", "mode": "REQUIRED"}, value_column]
            return _Column("REPEATED", "RECORD", {"fields": entry}, None)
        return _Column("NULLABLE" if nullable else "REQUIRED", *self._scalar_or_record(value, path, nesting))

    def _scalar_or_record(self, schema: Any, path: str, nesting: _Nesting) -> tuple[str, dict[str, Any], str | None]:
        kind = type_name(schema)
        doc = schema.get("doc") if isinstance(schema, dict) else None
        if kind in ("record", "error"):
            inner = nesting.enter(path, schema["name"])
            return "RECORD", {"fields": self.of_record(schema, path, inner)}, doc
        if kind == "null":
            raise ExportError(
                path,
                "the field is always null and a BigQuery column needs a type; give the field a type "
                '(e.g. ["null", "string"]) or remove it',
            )
        logical = logical_type(schema)
        if logical == "decimal":
            return *_decimal(schema, path), doc
        return LOGICAL_TYPES.get((kind, logical or "")) or PRIMITIVE_TYPES[kind], {}, doc

    def _unwrap_nullable(self, schema: Any, path: str) -> tuple[bool, Any]:
        """Whether ``schema`` admits null, and the one non-null type it stands for."""
        schema = self.resolved.deref(schema)
        if not isinstance(schema, list):
            return False, schema
        branches = [self.resolved.deref(branch) for branch in schema]
        others = [branch for branch in branches if type_name(branch) != "null"]
        if len(others) > 1:
            listed = ", ".join(_describe(branch) for branch in others)
            raise ExportError(
                path,
                f"the union allows {len(others)} non-null types ({listed}) and a BigQuery column has one "
                'type; keep one type (plus "null"), or split the union into a record with one nullable '
                "field per type",
            )
        if not others:
            raise ExportError(
                path,
                "the union holds only null, so the field is always null and a BigQuery column needs a "
                'type; give the field a type (e.g. ["null", "string"]) or remove it',
            )
        return len(others) < len(branches), others[0]


def decimal_type(precision: int, scale: int, path: str = "") -> tuple[str, int | None, int | None]:
    """BigQuery's type for ``decimal(precision, scale)``: (``NUMERIC`` or ``BIGNUMERIC``, precision, scale).

    BigQuery's rules: ``NUMERIC(P, S)`` takes 0 <= S <= 9 and max(1, S) <= P <= S + 29, ``BIGNUMERIC(P, S)``
    0 <= S <= 38 and max(1, S) <= P <= S + 38. The precision and scale are None for plain ``NUMERIC``
    (which is ``NUMERIC(38, 9)``). The table DDL uses the same function, so both always agree.
    """
    whole_digits = precision - scale
    if 0 <= scale <= 9 and max(1, scale) <= precision and whole_digits <= 29:
        bq_type = "NUMERIC"
    elif 0 <= scale <= 38 and max(1, scale) <= precision and whole_digits <= 38:
        bq_type = "BIGNUMERIC"
    else:
        raise ExportError(
            path,
            f"decimal({precision}, {scale}) does not fit BigQuery: NUMERIC holds scale 0..9 with up to 29 "
            "digits before the point, BIGNUMERIC scale up to 38 with up to 38 digits before the point; "
            "lower the precision or scale",
        )
    if bq_type == "NUMERIC" and (precision, scale) == NUMERIC_DEFAULT_PRECISION_SCALE:
        return bq_type, None, None
    return bq_type, precision, scale


def _decimal(schema: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    bq_type, precision, scale = decimal_type(int(schema["precision"]), int(schema.get("scale", 0)), path)
    if precision is None:
        return bq_type, {}
    return bq_type, {"precision": str(precision), "scale": str(scale)}


def _check_column_name(name: str, path: str) -> None:
    if not COLUMN_NAME.fullmatch(name):
        raise ExportError(
            path,
            f"{name!r} is not a valid BigQuery column name: use letters, digits and underscores, starting "
            "with a letter or underscore; rename the field (keep the old name in its aliases)",
        )
    if len(name) > MAX_COLUMN_NAME_LENGTH:
        raise ExportError(
            path,
            f"the column name is {len(name)} characters long and BigQuery allows at most "
            f"{MAX_COLUMN_NAME_LENGTH}; rename the field (keep the old name in its aliases)",
        )
    for prefix in RESERVED_COLUMN_PREFIXES:
        if name.upper().startswith(prefix):
            raise ExportError(
                path,
                f"column name {name!r} starts with {prefix!r}, which BigQuery reserves for its own columns; "
                "rename the field (keep the old name in its aliases)",
            )


def _describe(schema: Any) -> str:
    kind = type_name(schema)
    if isinstance(schema, dict) and "name" in schema:
        return f"{kind} {schema['name']!r}"
    if isinstance(schema, dict) and "logicalType" in schema:
        return f"{kind} ({schema['logicalType']})"
    return kind
