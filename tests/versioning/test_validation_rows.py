"""The rows fast path gives the reference validator's verdicts and errors, and Subject.convert's results.

Property tests over generated Avro record schemas and records (valid ones, and ones with wrong types, missing
and unknown fields, out-of-range integers, a ``schema_version`` stamp), plus the cases msgspec treats more
leniently than the reference, each pinned down by name.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.schema import parse_schema
from versioning.validation import RowValidator, Validator
from versioning.validation.rows import CHUNK

FIELD_NAMES = ["id", "name", "amount", "tags", "when", "kind", "extra", "class", "_private", "nested"]
PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def avro_types(draw: st.DrawFn, names: itertools.count[int], depth: int = 0) -> Any:
    """An Avro type: primitives, logical types, enums, fixed, arrays, maps, records and unions."""
    choices = ["primitive"] * 6 + ["enum", "fixed", "logical", "union", "nullable"]
    if depth < 2:
        choices += ["array", "map", "record"]
    kind = draw(st.sampled_from(choices))
    if kind == "primitive":
        return draw(st.sampled_from(PRIMITIVES))
    if kind == "enum":
        symbols = draw(st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=3, unique=True))
        return {"type": "enum", "name": f"E{next(names)}", "symbols": symbols}
    if kind == "fixed":
        return {"type": "fixed", "name": f"F{next(names)}", "size": draw(st.integers(0, 3))}
    if kind == "logical":
        return draw(
            st.sampled_from(
                [
                    {"type": "int", "logicalType": "date"},
                    {"type": "long", "logicalType": "timestamp-millis"},
                    {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2},
                    {"type": "string", "logicalType": "uuid"},
                    {"type": "string", "logicalType": "date"},  # ignored: date needs an int
                ]
            )
        )
    if kind == "array":
        return {"type": "array", "items": draw(avro_types(names, depth + 1))}
    if kind == "map":
        return {"type": "map", "values": draw(avro_types(names, depth + 1))}
    if kind == "record":
        return draw(records_schemas(names, depth + 1))
    if kind == "nullable":
        inner = draw(avro_types(names, depth + 1))
        return inner if isinstance(inner, list) or inner == "null" else ["null", inner]
    branches = draw(st.lists(st.sampled_from(PRIMITIVES), min_size=1, max_size=3, unique=True))
    return branches


@st.composite
def records_schemas(draw: st.DrawFn, names: itertools.count[int], depth: int = 0) -> dict[str, Any]:
    """An Avro record schema; nullable fields get a null default now and then."""
    field_names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=5, unique=True))
    fields = []
    for field_name in field_names:
        field_type = draw(avro_types(names, depth))
        field: dict[str, Any] = {"name": field_name, "type": field_type}
        if isinstance(field_type, list) and field_type[0] == "null" and draw(st.booleans()):
            field["default"] = None
        fields.append(field)
    return {"type": "record", "name": f"R{next(names)}", "fields": fields}


def values_of(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for ``schema`` (mostly), with a wrong value now and then."""
    return st.one_of(_valid_values(schema, named), _valid_values(schema, named), ANY_VALUE)


def _valid_values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of(*[_valid_values(branch, named) for branch in schema])
    if isinstance(schema, str):
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(-(2**31) - 2, 2**31 + 1),
            "long": st.integers(-(2**63) - 2, 2**63 + 1),
            "float": st.one_of(st.floats(), st.integers(-(2**80), 2**80)),
            "double": st.floats(),
            "bytes": st.binary(max_size=4),
            "string": st.text(max_size=4),
        }[schema]
    logical = schema.get("logicalType")
    if logical == "date" and schema["type"] == "int":
        return st.one_of(st.dates(), st.datetimes())
    if logical == "timestamp-millis":
        return st.one_of(st.datetimes(), st.dates())
    if logical == "decimal":
        return st.one_of(st.decimals(places=2, max_value=Decimal(100), min_value=Decimal(-100)), st.integers())
    if logical == "uuid":
        return st.one_of(st.uuids(), st.uuids().map(str), st.text(max_size=3))
    kind = schema["type"]
    if kind == "enum":
        return st.sampled_from([*schema["symbols"], "Z"])
    if kind == "fixed":
        return st.binary(min_size=max(0, schema["size"] - 1), max_size=schema["size"] + 1)
    if kind == "array":
        return st.lists(values_of(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=3), values_of(schema["values"], named), max_size=3)
    if kind == "record":
        return record_values(schema, named)
    return _valid_values(kind, named)


@st.composite
def record_values(draw: st.DrawFn, schema: dict[str, Any], named: dict[str, Any], top: bool = False) -> Any:
    """A record for ``schema``: fields mostly right, sometimes missing, unknown or of the wrong type."""
    record: dict[str, Any] = {}
    for field in schema["fields"]:
        if draw(st.integers(0, 9)) == 0:
            continue  # missing: fine with a default, an error without
        record[field["name"]] = draw(values_of(field["type"], named))
    if draw(st.integers(0, 9)) == 0:
        record[draw(st.sampled_from(["unknown", "schema_version", *FIELD_NAMES]))] = draw(ANY_VALUE)
    if top and draw(st.integers(0, 5)) == 0:
        record["schema_version"] = draw(st.sampled_from([1, "v1", None, 2]))
    if draw(st.integers(0, 30)) == 0:
        return draw(ANY_VALUE)
    return record


@st.composite
def schemas_and_records(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any]]:
    schema = draw(records_schemas(itertools.count()))
    records = draw(st.lists(record_values(schema, {}, top=True), max_size=12))
    return schema, records


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(schemas_and_records())
def test_should_find_the_same_invalid_records_with_the_same_errors_as_the_reference(
    case: tuple[dict[str, Any], list[Any]],
) -> None:
    schema_json, records = case
    schema = parse_schema(schema_json)
    reference = Validator(schema)
    fast = RowValidator(schema)
    assert list(fast.invalid(records, 7)) == list(reference.invalid(records, 7))
    mask = fast.valid_mask(records)
    expected = [not reference.errors(r) for r in records]
    assert (mask if mask is not None else [True] * len(records)) == expected


USER = {
    "type": "record",
    "name": "User",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "age", "type": "int"},
        {"name": "score", "type": "double"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "email", "type": ["null", "string"], "default": None},
        {"name": "joined", "type": {"type": "int", "logicalType": "date"}},
    ],
}


def _user(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "u1",
        "age": 30,
        "score": 1.5,
        "tags": ["a"],
        "email": None,
        "joined": dt.date(2024, 1, 2),
    }
    record.update(overrides)
    return record


def test_should_check_the_user_schema_with_msgspec() -> None:
    assert RowValidator(parse_schema(USER)).fast


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (OrderedDict(_user()), "a dict subclass as the record"),
        (_user(age=2**31), "an int out of the 32-bit range"),
        (_user(age=True), "a bool where an int belongs"),
        (_user(age=3.0), "a float where an int belongs"),
        (_user(score=10**400), "an int too large for a float, which the reference takes as a double"),
        (_user(joined=dt.datetime(2024, 1, 2)), "a datetime where a date belongs"),
        (_user(joined="2024-01-02"), "date text where a date belongs"),
        (_user(id=b"u1"), "bytes where a string belongs"),
        (_user(schema_version="anything"), "any schema_version stamp, which is allowed"),
        ({k: v for k, v in _user().items() if k != "email"}, "a missing field with a default"),
        ({k: v for k, v in _user().items() if k != "id"}, "a missing field without a default"),
    ],
)
def test_should_agree_with_the_reference_where_msgspec_alone_would_differ(record: Any, why: str) -> None:
    schema = parse_schema(USER)
    reference = Validator(schema)
    assert list(RowValidator(schema).invalid([_user(), record])) == list(reference.invalid([_user(), record])), why


def test_should_refuse_a_tuple_for_an_array_as_the_reference_does() -> None:
    # msgspec takes any sequence for a list; the fast path walks the fields that can hold containers.
    schema = parse_schema(USER)
    assert [e.position for e in RowValidator(schema).invalid([_user(), _user(tags=("a",))])] == [2]
    assert [e.position for e in Validator(schema).invalid([_user(), _user(tags=("a",))])] == [2]


def test_should_report_positions_across_chunks() -> None:
    schema = parse_schema(USER)
    records = [_user() for _ in range(CHUNK * 2 + 5)]
    records[3]["age"] = "x"
    records[CHUNK * 2 + 1]["surprise"] = 1
    found = list(RowValidator(schema).invalid(records, first_position=1))
    assert [(e.position, [str(f) for f in e.errors]) for e in found] == [
        (4, ["age: expected int (32-bit), got str 'x'"]),
        (CHUNK * 2 + 2, ["surprise: unexpected field (not in the User schema); remove it"]),
    ]


def test_should_fall_back_to_the_reference_for_schemas_msgspec_cannot_check() -> None:
    schema = parse_schema(
        {
            "type": "record",
            "name": "Price",
            "fields": [{"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4}}],
        }
    )
    fast = RowValidator(schema)
    assert not fast.fast
    records = [{"amount": Decimal("12")}, {"amount": Decimal("12345")}]
    assert [e.position for e in fast.invalid(records)] == [2]
