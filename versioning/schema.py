"""Avro schemas: reading them from files and checking them, with every problem located.

The schema language of the registry is Apache Avro. Parsing and name resolution are done by the ``avro``
package (the Apache project's own implementation); structural checks that it leaves out, or reports without a
location, are done here so that every problem names its file and JSON pointer: an unparseable file, an unknown
type, a default that does not match its field's type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import avro.errors
import avro.schema

from versioning.errors import Problem, SchemaError
from versioning.input_limits import nesting_problem, too_deep
from versioning.values import INT_RANGE, LONG_RANGE, from_json

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})


@dataclass
class Schema:
    """One Avro schema: its JSON form and the ``avro`` package's parsed form.

    ``json`` is the schema as written (dicts, lists and strings); ``parsed`` has named types resolved, which
    the compatibility checks walk.
    """

    json: Any
    parsed: avro.schema.Schema = field(repr=False)
    source: str = "<schema>"

    @property
    def fields(self) -> list[dict[str, Any]]:
        """The top-level fields of a record schema (empty for other schemas)."""
        if isinstance(self.json, dict) and self.json.get("type") in ("record", "error"):
            return list(self.json.get("fields", []))
        return []

    @property
    def field_names(self) -> list[str]:
        """The names of the top-level fields, in schema order."""
        return [f["name"] for f in self.fields]

    def field(self, name: str) -> dict[str, Any] | None:
        """The top-level field called ``name``, or None."""
        return next((f for f in self.fields if f["name"] == name), None)

    def default(self, name: str) -> Any:
        """The default of the top-level field ``name`` as a Python value (bytes, Decimal, date...), not its JSON.

        The value is shared and must not be changed: give records :func:`versioning.values.owned` copies.
        Raises KeyError when the field or its default does not exist.
        """
        cache = self.__dict__.setdefault("_defaults", {})
        if name not in cache:
            found = self.field(name)
            if found is None or "default" not in found:
                raise KeyError(name)
            parsed = self.parsed.fields_dict[name].type  # type: ignore[attr-defined]
            cache[name] = from_json(parsed, found["default"])
        return cache[name]


def parse_schema(schema_json: Any, source: str = "<schema>") -> Schema:
    """Check and parse an Avro schema given as JSON data; raises :class:`SchemaError` listing every problem.

    A schema nested deeper than :data:`versioning.input_limits.MAX_NESTING` is refused before any walk.
    """
    too_deep = nesting_problem(schema_json)
    if too_deep:
        raise SchemaError([Problem(source, too_deep)])
    problems = list(check_schema(schema_json, source))
    if problems:
        raise SchemaError(problems)
    try:
        parsed = avro.schema.make_avsc_object(schema_json, avro.schema.Names())
    except (avro.errors.AvroException, TypeError, ValueError, KeyError) as err:
        raise SchemaError([Problem(source, f"not a valid Avro schema: {err}")]) from None
    return Schema(json=schema_json, parsed=parsed, source=source)


def read_schema_file(path: Path, display: str | None = None) -> Schema:
    """Read and parse an ``.avsc`` file; errors name the file, and the line and column of bad JSON."""
    where = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SchemaError([Problem(where, f"cannot read the file: {err.strerror}")]) from None
    except UnicodeDecodeError:
        raise SchemaError([Problem(where, "not UTF-8 text; save the schema as UTF-8 JSON")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaError(
            [Problem(where, f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}")]
        ) from None
    except RecursionError:
        raise SchemaError([Problem(where, too_deep())]) from None
    return parse_schema(data, where)


def check_schema(schema_json: Any, source: str = "<schema>") -> Iterator[Problem]:
    """Yield every structural problem of an Avro schema, each located by a JSON pointer."""
    yield from _Checker(source).check(schema_json, "")


class _Checker:
    """Walks a schema's JSON, tracking named types so that references and defaults can be checked."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.named: dict[str, Any] = {}

    def problem(self, pointer: str, message: str) -> Problem:
        return Problem(f"{self.source}#{pointer or '/'}", message)

    def check(self, node: Any, pointer: str, namespace: str | None = None) -> Iterator[Problem]:
        if isinstance(node, str):
            if node not in PRIMITIVES and self.resolve(node, namespace) is None:
                yield self.problem(pointer, f"unknown type {node!r}; define it before use or fix the name")
            return
        if isinstance(node, list):
            yield from self.check_union(node, pointer, namespace)
            return
        if not isinstance(node, dict):
            yield self.problem(pointer, f"a schema must be a type name, an object or a union list, not {node!r}")
            return
        kind = node.get("type")
        if kind is None:
            yield self.problem(pointer, 'missing "type"')
            return
        if isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind not in NAMED | {"array", "map"}):
            # {"type": "string", "logicalType": ...} or {"type": {...}}: a wrapped schema.
            yield from self.check(kind, f"{pointer}/type", namespace)
            yield from self.check_logical(node, pointer)
            return
        if kind in NAMED:
            yield from self.check_named(node, pointer, namespace)
        elif kind == "array":
            if "items" not in node:
                yield self.problem(pointer, 'an array needs "items"')
            else:
                yield from self.check(node["items"], f"{pointer}/items", namespace)
        elif kind == "map":
            if "values" not in node:
                yield self.problem(pointer, 'a map needs "values"')
            else:
                yield from self.check(node["values"], f"{pointer}/values", namespace)

    def check_union(self, branches: list[Any], pointer: str, namespace: str | None) -> Iterator[Problem]:
        seen: set[str] = set()
        for i, branch in enumerate(branches):
            if isinstance(branch, list):
                yield self.problem(f"{pointer}/{i}", "a union may not directly contain another union")
                continue
            yield from self.check(branch, f"{pointer}/{i}", namespace)
            key = self.branch_key(branch, namespace)
            if key in seen:
                yield self.problem(f"{pointer}/{i}", f"the union has two branches of type {key!r}")
            seen.add(key)

    def check_named(self, node: dict[str, Any], pointer: str, namespace: str | None) -> Iterator[Problem]:
        kind = node["type"]
        name = node.get("name")
        if not isinstance(name, str) or not name:
            yield self.problem(pointer, f'a {kind} needs a "name"')
            return
        full = self.fullname(name, node.get("namespace", namespace))
        if full in self.named:
            yield self.problem(f"{pointer}/name", f"the type {full!r} is defined twice")
        self.named[full] = node
        own_namespace = full.rpartition(".")[0] or None
        if kind in ("record", "error"):
            fields = node.get("fields")
            if not isinstance(fields, list):
                yield self.problem(pointer, 'a record needs a "fields" list')
                return
            names: set[str] = set()
            for i, fld in enumerate(fields):
                at = f"{pointer}/fields/{i}"
                if not isinstance(fld, dict) or not isinstance(fld.get("name"), str):
                    yield self.problem(at, 'each field needs a "name" and a "type"')
                    continue
                if fld["name"] in names:
                    yield self.problem(f"{at}/name", f"field {fld['name']!r} appears twice")
                names.add(fld["name"])
                if "type" not in fld:
                    yield self.problem(at, f'field {fld["name"]!r} has no "type"')
                    continue
                yield from self.check(fld["type"], f"{at}/type", own_namespace)
                if "default" in fld:
                    error = self.default_error(fld["type"], fld["default"], own_namespace)
                    if error:
                        yield self.problem(f"{at}/default", f"field {fld['name']!r}: {error}")
        elif kind == "enum":
            symbols = node.get("symbols")
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                yield self.problem(pointer, 'an enum needs a "symbols" list of strings')
            elif len(set(symbols)) != len(symbols):
                yield self.problem(f"{pointer}/symbols", "enum symbols must be unique")
            elif "default" in node and node["default"] not in symbols:
                yield self.problem(f"{pointer}/default", f"enum default {node['default']!r} is not a symbol")
        elif kind == "fixed":
            size = node.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                yield self.problem(pointer, 'a fixed needs a non-negative integer "size"')
            yield from self.check_logical(node, pointer)

    def check_logical(self, node: dict[str, Any], pointer: str) -> Iterator[Problem]:
        # An invalid logical type (a decimal with no valid precision, say) is not an error: the Avro
        # specification says readers use the underlying type, and the ``avro`` package parses it so.
        return iter(())

    def default_error(self, schema: Any, value: Any, namespace: str | None) -> str | None:
        """Why ``value`` is not a valid default for ``schema`` (Avro JSON encoding), or None if it is."""
        if isinstance(schema, list):
            if not schema:
                return "an empty union can have no default"
            # Since Avro 1.12 a union's default may match any branch (the first one it matches is used).
            found = [self.default_error(branch, value, namespace) for branch in schema]
            if any(error is None for error in found):
                return None
            branches = ", ".join(self.branch_key(branch, namespace) for branch in schema)
            return f"the default matches no branch of the union ({branches}): {found[0]}"
        if isinstance(schema, str) and schema not in PRIMITIVES:
            target = self.resolve(schema, namespace)
            return None if target is None else self.default_error(target, value, namespace)
        if isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error"):
                if not isinstance(value, dict):
                    return f"expected an object for record {schema.get('name')!r}, got {value!r}"
                for fld in schema.get("fields", []):
                    if fld["name"] in value:
                        error = self.default_error(fld["type"], value[fld["name"]], namespace)
                    elif "default" not in fld:
                        error = "has no value and no default"
                    else:
                        error = None
                    if error:
                        return f"field {fld['name']!r} {error}"
                return None
            if kind == "enum":
                ok = value in schema.get("symbols", [])
                return None if ok else f"{value!r} is not one of the enum's symbols"
            if kind == "fixed":
                ok = isinstance(value, str) and len(value) == schema.get("size")
                return None if ok else f"expected a string of {schema.get('size')} characters"
            if kind == "array":
                if not isinstance(value, list):
                    return f"expected a list, got {value!r}"
                errors = (self.default_error(schema["items"], v, namespace) for v in value)
                return next((e for e in errors if e), None)
            if kind == "map":
                if not isinstance(value, dict):
                    return f"expected an object, got {value!r}"
                errors = (self.default_error(schema["values"], v, namespace) for v in value.values())
                return next((e for e in errors if e), None)
            return self.default_error(kind, value, namespace)
        return _primitive_default_error(schema, value)

    def resolve(self, name: str, namespace: str | None) -> Any | None:
        if name in self.named:
            return self.named[name]
        if namespace and f"{namespace}.{name}" in self.named:
            return self.named[f"{namespace}.{name}"]
        return None

    def branch_key(self, branch: Any, namespace: str | None) -> str:
        if isinstance(branch, str):
            if branch in PRIMITIVES:
                return branch
            return self.fullname(branch, namespace)
        if isinstance(branch, dict):
            kind = branch.get("type")
            if kind in NAMED and isinstance(branch.get("name"), str):
                return self.fullname(branch["name"], branch.get("namespace", namespace))
            if isinstance(kind, str) and kind not in NAMED:
                return kind
        return repr(branch)

    @staticmethod
    def fullname(name: str, namespace: str | None) -> str:
        if "." in name or not namespace:
            return name
        return f"{namespace}.{name}"


def _primitive_default_error(kind: str, value: Any) -> str | None:
    expected = {
        "null": ("null", lambda v: v is None),
        "boolean": ("true or false", lambda v: isinstance(v, bool)),
        "int": ("a 32-bit integer", lambda v: _is_int(v) and INT_RANGE[0] <= v <= INT_RANGE[1]),
        "long": ("a 64-bit integer", lambda v: _is_int(v) and LONG_RANGE[0] <= v <= LONG_RANGE[1]),
        "float": ("a number", _is_number),
        "double": ("a number", _is_number),
        "bytes": ("a string", lambda v: isinstance(v, str)),
        "string": ("a string", lambda v: isinstance(v, str)),
    }.get(kind)
    if expected is None:
        return None
    description, accepts = expected
    return None if accepts(value) else f"default {json.dumps(value)} is not {description} ({kind})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not (isinstance(value, float) and math.isnan(value))
