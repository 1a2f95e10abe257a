"""Hypothesis strategies for the contract suites: Avro schemas of every type, their values, and edge values.

Every Avro type is drawn: the primitives, enum, fixed, array, map, record, unions (nullable and of several
branches), and every logical type the specification defines (decimal on bytes and on fixed, uuid, date,
time-millis/-micros, timestamp-millis/-micros, local-timestamp-millis/-micros), plus invalid logical types that
must read as their underlying type. Values are mostly valid, with edge values that no writer can store
faithfully mixed in (floats beyond a float's range, integers beyond a double's exact range, lone surrogates,
plain ints for decimals, non-canonical UUID text, naive or aware datetimes of the wrong kind, wrong types).

:func:`read_back` says what fastavro gives back for a value it wrote, by the type's own precision (a float is a
32-bit float, a ``-millis`` time keeps milliseconds), so "written faithfully" can be checked by equality.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import struct
import uuid
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
LOGICAL = [
    {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
    {"type": "string", "logicalType": "uuid"},
    {"type": "int", "logicalType": "date"},
    {"type": "int", "logicalType": "time-millis"},
    {"type": "long", "logicalType": "time-micros"},
    {"type": "long", "logicalType": "timestamp-millis"},
    {"type": "long", "logicalType": "timestamp-micros"},
    {"type": "long", "logicalType": "local-timestamp-millis"},
    {"type": "long", "logicalType": "local-timestamp-micros"},
    {"type": "string", "logicalType": "date"},  # not defined on string: a plain string
    {"type": "bytes", "logicalType": "decimal", "precision": 0},  # invalid: plain bytes
]
FIELD_NAMES = ["id", "name", "amount", "tags", "when", "kind", "extra", "nested"]
UTC_MOMENTS = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)
LOCAL_MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))

EDGE_VALUES = st.sampled_from(
    [
        1e39,
        -1e39,
        2**53 + 1,
        10**30,
        "lone \ud800 surrogate",
        5,
        "12345678-1234-5678-1234-56781234567A",
        "{12345678-1234-5678-1234-567812345678}",
        dt.datetime(2024, 1, 1, 12, 0),
        dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC),
        None,
        True,
        b"\x00",
        [],
        {},
        (1,),
    ]
)


@st.composite
def avro_types(draw: st.DrawFn, names: itertools.count[int], depth: int = 0) -> Any:
    """An Avro type of any kind (named types get fresh names from ``names``)."""
    choices = ["primitive"] * 5 + ["enum", "fixed", "fixed-decimal", "logical", "logical", "union", "nullable"]
    if depth < 2:
        choices += ["array", "map", "record"]
    kind = draw(st.sampled_from(choices))
    if kind == "primitive":
        return draw(st.sampled_from(PRIMITIVES))
    if kind == "enum":
        symbols = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=3, unique=True))
        return {"type": "enum", "name": f"E{next(names)}", "symbols": symbols}
    if kind == "fixed":
        return {"type": "fixed", "name": f"F{next(names)}", "size": draw(st.integers(1, 3))}
    if kind == "fixed-decimal":
        return {
            "type": "fixed",
            "name": f"D{next(names)}",
            "size": 4,
            "logicalType": "decimal",
            "precision": 8,
            "scale": 3,
        }
    if kind == "logical":
        return dict(draw(st.sampled_from(LOGICAL)))
    if kind == "array":
        return {"type": "array", "items": draw(avro_types(names, depth + 1))}
    if kind == "map":
        return {"type": "map", "values": draw(avro_types(names, depth + 1))}
    if kind == "record":
        return draw(record_schemas(names, depth + 1))
    if kind == "nullable":
        inner = draw(avro_types(names, depth + 1))
        return inner if isinstance(inner, list) or inner == "null" else ["null", inner]
    # Branches a writer tells apart by the value's Python type (fastavro picks the first that takes it).
    return draw(st.sampled_from([["null", "long", "string"], ["boolean", "double"], ["null", "bytes"]]))


@st.composite
def record_schemas(draw: st.DrawFn, names: itertools.count[int], depth: int = 0) -> dict[str, Any]:
    """An Avro record schema."""
    field_names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=4, unique=True))
    fields = [{"name": n, "type": draw(avro_types(names, depth))} for n in field_names]
    return {"type": "record", "name": f"R{next(names)}", "fields": fields}


def values(schema: Any) -> st.SearchStrategy[Any]:
    """Values of ``schema``: mostly valid, sometimes an edge value or one of the wrong type."""
    return st.one_of(valid_values(schema), valid_values(schema), valid_values(schema), EDGE_VALUES)


def valid_values(schema: Any) -> st.SearchStrategy[Any]:
    """Values of ``schema`` that a writer stores faithfully (within the type's own precision)."""
    if isinstance(schema, list):
        return st.one_of(*[valid_values(branch) for branch in schema])
    if isinstance(schema, str):
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "float": st.one_of(st.floats(width=32, allow_nan=False), st.integers(-(2**24), 2**24)),
            "double": st.one_of(st.floats(allow_nan=False), st.integers(-(2**53), 2**53)),
            "bytes": st.binary(max_size=4),
            "string": st.text(max_size=4).filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s)),
        }[schema]
    logical = _logical(schema)
    if logical == "decimal":
        precision, scale = schema["precision"], schema["scale"]
        limit = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        return st.decimals(min_value=-limit, max_value=limit, places=scale, allow_nan=False, allow_infinity=False)
    if logical == "uuid":
        return st.one_of(st.uuids(), st.uuids().map(str))
    if logical == "date":
        return st.dates(min_value=dt.date(1, 1, 1))
    if logical in ("time-millis", "time-micros"):
        return st.times()
    if logical in ("timestamp-millis", "timestamp-micros"):
        return UTC_MOMENTS
    if logical in ("local-timestamp-millis", "local-timestamp-micros"):
        return LOCAL_MOMENTS
    kind = schema["type"]
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(valid_values(schema["items"]), max_size=2)
    if kind == "map":
        keys = st.text(alphabet="abc", max_size=2)
        return st.dictionaries(keys, valid_values(schema["values"]), max_size=2)
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: valid_values(f["type"]) for f in schema["fields"]})
    return valid_values(kind)


@st.composite
def records(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """A record of ``schema`` whose field values may be edge values; now and then a field is missing."""
    out = {}
    for f in schema["fields"]:
        if draw(st.integers(0, 9)) == 0:
            continue
        out[f["name"]] = draw(values(f["type"]))
    return out


def read_back(schema: Any, value: Any) -> Any:
    """What fastavro gives back for ``value`` written as ``schema`` (a valid value), at the type's precision."""
    if isinstance(schema, list):
        others = [b for b in schema if b != "null"]
        if value is None:
            return None
        branch = others[0] if len(others) == 1 else next(b for b in others if _takes(b, value))
        return read_back(branch, value)
    if isinstance(schema, str):
        if schema == "float":
            return struct.unpack("<f", struct.pack("<f", float(value)))[0]
        if schema == "double":
            return float(value)
        if schema == "bytes":
            return bytes(value)
        return value
    logical = _logical(schema)
    if logical == "uuid":
        return uuid.UUID(str(value))
    if logical in ("time-millis", "timestamp-millis", "local-timestamp-millis"):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if logical is not None:
        return value
    kind = schema["type"]
    if kind == "array":
        return [read_back(schema["items"], v) for v in value]
    if kind == "map":
        return {k: read_back(schema["values"], v) for k, v in value.items()}
    if kind == "record":
        return {f["name"]: read_back(f["type"], value[f["name"]]) for f in schema["fields"]}
    if kind in ("enum", "fixed"):
        return value
    return read_back(kind, value)


def same(a: Any, b: Any) -> bool:
    """Equality that takes NaN as equal to itself (a float NaN written and read back is still NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return (bool(a == b) and type(a) is type(b)) or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b
    )


def _logical(schema: dict[str, Any]) -> str | None:
    logical = schema.get("logicalType")
    if logical == "decimal" and not (schema.get("precision", 0) >= 1):
        return None
    if logical == "date" and schema["type"] != "int":
        return None
    return logical


def _takes(branch: Any, value: Any) -> bool:
    """Whether fastavro's writer takes ``value`` for a union branch (valid values only; first branch wins)."""
    kind = branch if isinstance(branch, str) else branch["type"]
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bytes":
        return isinstance(value, (bytes, bytearray))
    return False


# --- subjects: two or three versions with the steps between them ----------------------------------------

UPGRADE_VALUES = {
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, width=32),
    "double": st.floats(allow_nan=False),
    "string": st.text(max_size=4).filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s)),
    "bytes": st.binary(max_size=4),
    "boolean": st.booleans(),
}
PROMOTIONS = {"int": ["long", "float", "double"], "long": ["float", "double"], "float": ["double"], "string": ["bytes"]}
TYPED_DEFAULTS = [
    # (field type, default in Avro JSON): a default of every kind
    ("bytes", "\u00ff\u0000"),
    ({"type": "fixed", "name": "Pair", "size": 2}, "ab"),
    ({"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}, "\u0004\u00d2"),
    ({"type": "int", "logicalType": "date"}, 19_000),
    ({"type": "int", "logicalType": "time-millis"}, 3_600_500),
    ({"type": "long", "logicalType": "time-micros"}, 61_000_001),
    ({"type": "long", "logicalType": "timestamp-millis"}, 1_000),
    ({"type": "long", "logicalType": "timestamp-micros"}, 1_000_001),
    ({"type": "long", "logicalType": "local-timestamp-micros"}, 2_000_000),
    ({"type": "string", "logicalType": "uuid"}, "12345678-1234-5678-1234-567812345678"),
    ({"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}, "GREEN"),
    ({"type": "array", "items": "long"}, [1, 2]),
    ({"type": "map", "values": "string"}, {"k": "v"}),
    ({"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "long", "default": 7}]}, {}),
    (["null", "string"], "later branch"),
    ("double", 1),
    ("boolean", True),
]

CALL_MODULE = """
def shout(record):
    out = dict(record)
    out["note"] = str(out.get("note")).upper()
    return out


def hush(record):
    out = dict(record)
    out.pop("note", None)
    return out
"""


def evolve_fields(
    draw: st.DrawFn, v1: list[dict[str, Any]], promotions: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Version 2's fields and the step's operations: each v1 field kept, removed (the operation sometimes left
    implicit), renamed with an alias, copied into a new nullable field, or promoted along ``promotions``."""
    v2 = [dict(f) for f in v1]
    ops: list[Any] = []
    for field in v1:
        action = draw(st.sampled_from(["keep", "keep", "remove", "rename", "copy", "promote"]))
        plain = field["type"]
        if action == "remove":
            v2 = [f for f in v2 if f["name"] != field["name"]]
            if draw(st.booleans()):
                ops.append({"remove": field["name"]})
        elif action == "rename":
            new = {**field, "name": field["name"] + "_new", "aliases": [field["name"]]}
            v2 = [new if f["name"] == field["name"] else f for f in v2]
            ops.append({"rename": {"from": field["name"], "to": new["name"]}})
        elif action == "copy":
            inner = plain[1] if isinstance(plain, list) else plain
            v2.append({"name": field["name"] + "_copy", "type": ["null", inner], "default": None})
            ops.append({"copy": {"field": field["name"] + "_copy", "from": field["name"]}})
        elif action == "promote" and isinstance(plain, str) and plain in promotions:
            target = draw(st.sampled_from(promotions[plain]))
            v2 = [{**f, "type": target} if f["name"] == field["name"] else f for f in v2]
            ops.append({"promote": {"field": field["name"], "to": target}})
    return v2, ops


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    """A subject's files: v1, v2 (every declarative operation, defaults of every kind), maybe a call step to v3."""
    count = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.sampled_from(sorted(UPGRADE_VALUES)), min_size=count, max_size=count))
    v1 = [{"name": f"f{i}", "type": t} for i, t in enumerate(kinds)]
    for field in v1:
        if draw(st.booleans()):
            field["type"], field["default"] = ["null", field["type"]], None
    v2, ops = evolve_fields(draw, v1, PROMOTIONS)
    for i, (kind, default) in enumerate(draw(st.lists(st.sampled_from(TYPED_DEFAULTS), max_size=3, unique_by=str))):
        v2.append({"name": f"added{i}", "type": kind, "default": default})
        if draw(st.booleans()):
            ops.append({"add": f"added{i}"})
    if draw(st.booleans()):
        v2.append({"name": "given", "type": "string", "default": "d"})
        ops.append({"add": {"field": "given", "value": "g"}})
    steps = [{"from": 1, "to": 2, "upgrade": ops}]
    versions = [v1, v2]
    if draw(st.booleans()):
        versions.append([*v2, {"name": "note", "type": "string", "default": ""}])
        steps.append({"from": 2, "to": 3, "upgrade": [{"call": {"upgrade": "steps:shout", "downgrade": "steps:hush"}}]})
    return {"versions": versions, "steps": steps}


def write_subject_files(files: dict[str, Any], root: Any) -> None:
    """Write the drawn subject as a registry folder ``root/thing``."""
    import json

    import yaml

    folder = root / "thing"
    folder.mkdir(parents=True)
    for number, fields in enumerate(files["versions"], 1):
        schema = {"type": "record", "name": "Thing", "fields": fields}
        (folder / f"v{number}.avsc").write_text(json.dumps(schema))
    (folder / "subject.yaml").write_text(yaml.safe_dump({"compatibility": "NONE", "steps": files["steps"]}))
    (folder / "steps.py").write_text(CALL_MODULE)


@st.composite
def full_records(draw: st.DrawFn, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Valid records of a version that carry every field (as files hold them)."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        record = {}
        for field in fields:
            kind = field["type"]
            if isinstance(kind, list):
                record[field["name"]] = draw(st.one_of(st.none(), UPGRADE_VALUES[kind[1]]))
            else:
                record[field["name"]] = draw(UPGRADE_VALUES[kind])
        out.append(record)
    return out


def for_fastavro(schema: Any) -> Any:
    """``schema`` without invalid logical types, which fastavro refuses instead of reading the underlying type."""
    if isinstance(schema, list):
        return [for_fastavro(b) for b in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: for_fastavro(v) if k in ("items", "values") else v for k, v in schema.items()}
    if "fields" in schema:
        out["fields"] = [{**f, "type": for_fastavro(f["type"])} for f in schema["fields"]]
    if "logicalType" in schema and _logical(schema) is None:
        out = {k: v for k, v in out.items() if k not in ("logicalType", "precision", "scale")}
    return out
