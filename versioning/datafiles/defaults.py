"""Fill fields a record leaves out with their schema defaults, as Python values, before it is written.

Avro writes a missing field with its default, and so must JSON Lines and Parquet. Doing it once, here,
also spares fastavro's validation from reading defaults in their JSON form (a ``bytes`` default is a
string there, which it would reject).
"""

from __future__ import annotations

from typing import Any

from versioning.datafiles.avro_types import AvroSchema, Node, logical_type, type_name
from versioning.datafiles.converters import Convert, each_item, each_value
from versioning.values import INT_RANGE, LOGICAL_TYPES, LONG_RANGE, logical_from_json

_NO_DEFAULT = object()


def default_filler(schema: AvroSchema) -> Convert | None:
    """A function returning a record with its missing fields filled in (the caller's dicts are not changed),
    or ``None`` when the schema has no defaults anywhere."""
    return _Compiler(schema).compile(schema.parsed)


def python_default(schema: AvroSchema, node: Node, default: Any) -> Any:
    """A default written in Avro's JSON form (a field's ``"default"``) as the Python value fastavro reads."""
    node = schema.resolve(node)
    kind = type_name(node)
    if default is None:
        return None
    if kind == "union":
        # Avro 1.12 lets the default belong to any branch: the first branch it matches.
        branch = next((b for b in node if _matches(schema, b, default)), None)
        return default if branch is None else python_default(schema, branch, default)
    logical = logical_type(node)
    if logical is not None and (kind, logical) in LOGICAL_TYPES:
        converted = logical_from_json(logical, default, node.get("scale", 0))
        if converted is not default:
            return converted
    if kind in {"bytes", "fixed"} and isinstance(default, str):
        # Avro writes bytes defaults as strings whose code points 0-255 are the bytes.
        return default.encode("latin-1")
    if kind in {"float", "double"} and isinstance(default, int) and not isinstance(default, bool):
        return float(default)
    if kind in {"record", "error"} and isinstance(default, dict):
        filled = {}
        for f in node["fields"]:
            value = default.get(f["name"], f.get("default", _NO_DEFAULT))
            if value is not _NO_DEFAULT:
                filled[f["name"]] = python_default(schema, f["type"], value)
        return filled
    if kind == "array" and isinstance(default, list):
        return [python_default(schema, node["items"], item) for item in default]
    if kind == "map" and isinstance(default, dict):
        return {k: python_default(schema, node["values"], v) for k, v in default.items()}
    return default


def _matches(schema: AvroSchema, node: Node, value: Any) -> bool:
    """Whether a JSON value belongs to a union branch (enough to choose the branch, as Avro does)."""
    node = schema.resolve(node)
    kind = type_name(node)
    simple = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool) and INT_RANGE[0] <= value <= INT_RANGE[1],
        "long": isinstance(value, int) and not isinstance(value, bool) and LONG_RANGE[0] <= value <= LONG_RANGE[1],
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "double": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "bytes": isinstance(value, str),
    }
    if kind in simple:
        return simple[kind]
    if kind == "fixed":
        return isinstance(value, str) and len(value) == node["size"]
    if kind == "enum":
        return value in node["symbols"]
    if kind == "array":
        return isinstance(value, list) and all(_matches(schema, node["items"], v) for v in value)
    if kind == "map":
        return isinstance(value, dict) and all(_matches(schema, node["values"], v) for v in value.values())
    if kind in {"record", "error"}:
        return isinstance(value, dict) and all(
            _matches(schema, f["type"], value[f["name"]]) if f["name"] in value else "default" in f
            for f in node["fields"]
        )
    return False


class _Compiler:
    def __init__(self, schema: AvroSchema) -> None:
        self.schema = schema
        self.records: dict[str, Convert | None] = {}

    def compile(self, node: Node) -> Convert | None:
        node = self.schema.resolve(node)
        kind = type_name(node)
        if kind in {"record", "error"}:
            return self._record(node)
        if kind == "array":
            item = self.compile(node["items"])
            return each_item(item)
        if kind == "map":
            value = self.compile(node["values"])
            return each_value(value)
        if kind == "union":
            return self._union(node)
        return None

    def _record(self, node: dict[str, Any]) -> Convert | None:
        name = node["name"]
        if name in self.records:
            return lambda value: converter(value) if (converter := self.records[name]) else value
        self.records[name] = None
        defaults = {
            f["name"]: python_default(self.schema, f["type"], f["default"]) for f in node["fields"] if "default" in f
        }
        children = [(f["name"], c) for f in node["fields"] if (c := self.compile(f["type"])) is not None]
        if not defaults and not children:
            return None

        def fill(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            missing = [name for name in defaults if name not in value]
            if not missing and not children:
                return value
            filled = dict(value)
            for field_name in missing:
                filled[field_name] = defaults[field_name]
            for field_name, child in children:
                if field_name in filled:
                    filled[field_name] = child(filled[field_name])
            return filled

        self.records[name] = fill
        return fill

    def _union(self, branches: list[Node]) -> Convert | None:
        records: list[tuple[frozenset[str], Convert]] = []
        other: dict[str, Convert] = {}
        for branch in branches:
            resolved = self.schema.resolve(branch)
            converter = self.compile(resolved)
            if converter is None:
                continue
            kind = type_name(resolved)
            if kind in {"record", "error"}:
                records.append((frozenset(f["name"] for f in resolved["fields"]), converter))
            else:
                other.setdefault(kind, converter)
        if not records and not other:
            return None

        def fill(value: Any) -> Any:
            if isinstance(value, dict):
                # The record branch the dict's keys belong to, as fastavro chooses when writing.
                for names, converter in records:
                    if value.keys() <= names:
                        return converter(value)
                if "map" in other:
                    return other["map"](value)
                return records[0][1](value) if records else value
            if isinstance(value, list) and "array" in other:
                return other["array"](value)
            return value

        return fill
