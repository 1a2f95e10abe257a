"""Validating columns (Arrow tables and record batches) with Arrow operations, not Python loops.

Validation of a column is a type check against the Arrow form of the version's Avro schema (see
:func:`versioning.datafiles.arrow_types.arrow_schema`), null counts where the schema allows no null, and the
values Arrow's types cannot hold back on their own, each checked by one Arrow compute call over the column: an
enum's strings must be among its symbols, a ``uuid`` string must be in its canonical form (lower case,
hyphenated), as the reference validator demands.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from versioning.datafiles.arrow_types import arrow_schema
from versioning.datafiles.avro_types import PRIMITIVE_TYPES, AvroSchema, Node, logical_type
from versioning.errors import VersioningError
from versioning.schema import Schema
from versioning.validation.reference import VERSION_FIELD

SHOWN_ROWS = 5
"""How many row numbers an error lists."""
CANONICAL_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
"""The only text ``str(uuid.UUID(text)) == text`` holds for: what the reference validator accepts."""


@dataclass(frozen=True)
class ColumnError:
    """One thing wrong with a column: its field path, what is wrong, and some of the rows where.

    Rows are numbered from the ``first_row`` the check was given: 0 (Arrow's index) for a table in memory,
    the 1-based record number in the file for a batch of a file."""

    path: str
    message: str
    rows: tuple[int, ...] = field(default=())

    def __str__(self) -> str:
        where = f" (rows {', '.join(map(str, self.rows))}{', ...' if len(self.rows) == SHOWN_ROWS else ''})"
        return f"{self.path}: {self.message}{where if self.rows else ''}"


class InvalidColumnsError(VersioningError):
    """Columns do not match a subject version; :attr:`errors` lists every problem."""

    def __init__(self, subject: str, version: int, errors: list[ColumnError]) -> None:
        self.subject, self.version, self.errors = subject, version, errors
        lines = [f"the columns do not match v{version} of {subject!r}:", *(f"  - {e}" for e in errors)]
        super().__init__("\n".join(lines))


class ColumnValidator:
    """A subject version's schema as Arrow types, to check whole columns at once."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.avro = AvroSchema.parse(schema.json, where=schema.source)
        self.arrow = arrow_schema(self.avro)
        self.defaults = {f["name"]: f["default"] for f in schema.fields if "default" in f}
        parsed = self.avro.parsed
        self._nodes: dict[str, Node] = (
            {f["name"]: f["type"] for f in parsed["fields"]} if isinstance(parsed, dict) else {}
        )

    def errors(
        self, data: pa.Table | pa.RecordBatch, first_row: int = 0, vouched: Collection[str] = ()
    ) -> list[ColumnError]:
        """Every problem with the columns: missing, unexpected or of the wrong type, nulls where none may be.

        ``vouched`` names columns whose values an earlier check under the same rules (equal
        :meth:`value_rules`) has passed: their enum and UUID checks, one pass over the values each, are skipped;
        their types and nulls are still checked.
        """
        found: list[ColumnError] = []
        names = set(data.schema.names)
        for expected in self.arrow:
            if expected.name not in names:
                if expected.name not in self.defaults:
                    found.append(ColumnError(expected.name, "missing column (the field has no default); add it"))
                continue
            column = data.column(expected.name)
            if not _same_type(column.type, expected.type):
                found.append(
                    ColumnError(
                        expected.name,
                        f"is {column.type} but {self.schema.source} says {expected.type}; cast the column",
                    )
                )
                continue
            found.extend(_nulls(column, expected.type, expected.nullable, expected.name, first_row))
            if expected.name in self._nodes and expected.name not in vouched:
                found.extend(self._values(column, self._nodes[expected.name], expected.name, first_row))
        for name in data.schema.names:
            if name not in self.arrow.names and name != VERSION_FIELD:
                found.append(ColumnError(name, f"unexpected column (not in {self.schema.source}); drop it"))
        return found

    def value_rules(self, name: str) -> str | None:
        """A field's type with every named type spelled out (docs left out), as JSON: two fields with equal rules
        take the same values, so a check under one vouches for the other. None for a field not in the schema."""
        if name not in self._nodes:
            return None
        try:
            return json.dumps(_spelled_out(self.avro, self._nodes[name], ()), sort_keys=True)
        except RecursionError:  # a recursive type: never vouched for
            return None

    def _values(self, column: Any, node: Node, path: str, first_row: int | None) -> list[ColumnError]:
        """Enum symbols and canonical UUIDs, in a column and its nested fields and items (rows of the top level)."""
        node = self.avro.resolve(node)
        if isinstance(node, list):  # a nullable union: its one other branch (other unions are not columns)
            others = [b for b in node if self.avro.resolve(b) != "null"]
            if len(others) != 1:
                return []
            node = self.avro.resolve(others[0])
        if not isinstance(node, dict):
            return []
        kind = node.get("type")
        bad: Any = None
        if kind == "enum" and pa.types.is_string(column.type):
            symbols = list(node["symbols"])
            bad = pc.invert(pc.is_in(column, value_set=pa.array(symbols, pa.string())))
            message = f"values not among the enum's symbols ({', '.join(symbols)})"
        elif logical_type(node) == "uuid" and pa.types.is_string(column.type):
            bad = pc.invert(pc.match_substring_regex(column, CANONICAL_UUID))
            message = "UUIDs not in canonical form (lower case, hyphenated: 123e4567-e89b-12d3-a456-426614174000)"
        elif kind in ("record", "error") and pa.types.is_struct(column.type):
            found: list[ColumnError] = []
            for i, child in enumerate(node["fields"]):
                found.extend(self._values(pc.struct_field(column, [i]), child["type"], f"{path}.{child['name']}", None))
            return found
        elif kind == "array" and (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
            return self._values(pc.list_flatten(column), node["items"], f"{path}[]", None)
        if bad is None:
            return []
        bad = pc.fill_null(bad, False)  # nulls are the null checks' business
        count = pc.sum(bad).as_py() or 0
        if not count:
            return []
        rows: tuple[int, ...] = ()
        if first_row is not None:
            rows = tuple(first_row + i for i in pc.indices_nonzero(bad).to_pylist()[:SHOWN_ROWS])
        example = pc.filter(column, bad)[0].as_py()
        return [ColumnError(path, f"{count} {message}, e.g. {example!r}; fix the values", rows)]


def _spelled_out(avro: AvroSchema, node: Node, open_names: tuple[str, ...]) -> Node:
    """``node`` with each reference to a named type replaced by its definition; RecursionError for a recursive one."""
    if isinstance(node, str):
        if node in PRIMITIVE_TYPES:
            return node
        if node in open_names:
            raise RecursionError(node)
        return _spelled_out(avro, avro.named[node], (*open_names, node))
    if isinstance(node, list):
        return [_spelled_out(avro, branch, open_names) for branch in node]
    if not isinstance(node, dict):
        return node
    spelled = {key: value for key, value in node.items() if key != "doc"}
    if isinstance(node.get("name"), str):
        open_names = (*open_names, node["name"])
    for key in ("items", "values"):
        if key in node:
            spelled[key] = _spelled_out(avro, node[key], open_names)
    if isinstance(node.get("fields"), list):
        spelled["fields"] = [
            {**{k: v for k, v in f.items() if k != "doc"}, "type": _spelled_out(avro, f["type"], open_names)}
            for f in node["fields"]
        ]
    return spelled


def _same_type(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Equal types, whatever the nested fields say about nulls (null counts are checked separately)."""
    return _nullable_everywhere(actual) == _nullable_everywhere(expected)


def _nullable_everywhere(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _nullable_everywhere(f.type)) for f in kind])
    if pa.types.is_map(kind):
        return pa.map_(kind.key_type, _nullable_everywhere(kind.item_type))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(_nullable_everywhere(kind.value_type))
    return kind


def _nulls(column: Any, kind: pa.DataType, nullable: bool, path: str, first_row: int = 0) -> list[ColumnError]:
    """Nulls where the schema allows none, in the column and (for present parents) in its nested fields."""
    found: list[ColumnError] = []
    if not nullable and column.null_count:
        rows = [first_row + i for i in pc.indices_nonzero(pc.is_null(column)).to_pylist()[:SHOWN_ROWS]]
        found.append(
            ColumnError(path, "null where the schema allows none; fill it or make the field nullable", tuple(rows))
        )
    if pa.types.is_struct(kind):
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        for i, child in enumerate(kind):
            if child.nullable or not any(chunk.field(i).null_count for chunk in chunks):
                for chunk in chunks:
                    found.extend(_nested(chunk.field(i), child, f"{path}.{child.name}"))
                continue
            found.append(
                ColumnError(f"{path}.{child.name}", "null where the schema allows none; fill it or make it nullable")
            )
    elif pa.types.is_list(kind):
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        item = kind.value_field
        for chunk in chunks:
            found.extend(_nulls(chunk.flatten(), item.type, item.nullable, f"{path}[]"))
    return found


def _nested(child: pa.Array, field_: pa.Field, path: str) -> list[ColumnError]:
    return _nulls(child, field_.type, True, path) if pa.types.is_nested(field_.type) else []
