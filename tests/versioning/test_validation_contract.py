"""The validation contract, run against every implementation: the reference Validator and the msgspec RowValidator
(with its compiled plain-value scan, and with the same check in Python, which runs where the scan is not built).

1. Every implementation gives the reference's verdict and errors, record for record.
2. What an implementation accepts, fastavro writes and reads back unchanged (at the type's own precision):
   validation refuses what cannot be written faithfully.
3. Valid values of every type are accepted.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from typing import Any

import fastavro
import msgspec
import pytest
from avro_strategies import for_fastavro, read_back, record_schemas, records, same, valid_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.schema import Schema, parse_schema
from versioning.validation import RecordErrors, RowValidator, Validator

IMPLEMENTATIONS: dict[str, Callable[[Schema], Any]] = {
    "reference": Validator,
    "rows (msgspec, compiled scan)": RowValidator,
    "rows (msgspec, scan in Python)": lambda schema: RowValidator(schema, compiled=False),
}


def verdicts(validator: Any, batch: list[dict[str, Any]]) -> list[tuple[int, list[str]]]:
    found: list[RecordErrors] = list(validator.invalid(batch))
    return [(e.position, [str(x) for x in e.errors]) for e in found]


@st.composite
def schemas_and_batches(draw: st.DrawFn, valid_only: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    schema = draw(record_schemas(itertools.count()))
    strategy = valid_values(schema) if valid_only else records(schema)
    return schema, draw(st.lists(strategy, min_size=1, max_size=6))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=schemas_and_batches())
def test_should_give_the_reference_verdicts_and_accept_only_what_is_written_faithfully(
    implementation: str, drawn: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    schema_json, batch = drawn
    schema = parse_schema(schema_json)
    found = verdicts(IMPLEMENTATIONS[implementation](schema), batch)
    assert found == verdicts(Validator(schema), batch)
    rejected = {position for position, _ in found}
    accepted = [r for i, r in enumerate(batch, 1) if i not in rejected and r.keys() == set(schema.field_names)]
    if accepted:
        buffer = io.BytesIO()
        fastavro.writer(buffer, fastavro.parse_schema(for_fastavro(schema_json)), accepted)
        buffer.seek(0)
        back = list(fastavro.reader(buffer))
        for written, read in zip(accepted, back, strict=True):
            assert same(read, read_back(schema_json, written)), (written, read)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=schemas_and_batches(valid_only=True))
def test_should_accept_valid_values_of_every_type(
    implementation: str, drawn: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    schema_json, batch = drawn
    assert verdicts(IMPLEMENTATIONS[implementation](parse_schema(schema_json)), batch) == []


class _Text(str):
    pass


class _Mapping(dict):
    pass


class _Items(list):
    pass


class _Count(int):
    pass


class _Blob(bytes):
    pass


CONTAINERS = {
    "type": "record",
    "name": "Holder",
    "fields": [
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": "int"}},
        {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [{"name": "n", "type": "long"}]}},
        {"name": "maybe", "type": ["null", {"type": "array", "items": {"type": "array", "items": "int"}}]},
        {"name": "label", "type": "string"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "blob", "type": "bytes"},
        {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 2}},
        {"name": "size", "type": "long"},
        {"name": "ratio", "type": "double"},
        {"name": "level", "type": {"type": "enum", "name": "Level", "symbols": ["low", "high"]}},
        {"name": "blobs", "type": {"type": "array", "items": "bytes"}},
    ],
}
PLAIN = {
    "tags": ["a"],
    "counts": {"x": 1},
    "inner": {"n": 1},
    "maybe": [[1, 2]],
    "label": "ok",
    "blob": b"x",
    "code": b"ab",
    "size": 2,
    "ratio": 0.5,
    "level": "low",
    "blobs": [b"y"],
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", ("a", "b")),
        ("tags", {"a"}),
        ("tags", frozenset({"a"})),
        ("tags", _Items(["a"])),
        ("tags", ["a", _Text("b")]),
        ("counts", _Mapping(x=1)),
        ("inner", _Mapping(n=1)),
        ("maybe", [(1, 2)]),
        ("maybe", ([1],)),
        ("label", _Text("x")),
        # Lone surrogates in text of two and of four bytes per character, where it is kept and inside containers.
        ("label", "é\ud800"),
        ("label", "😀\udfff"),
        ("note", "ok \udc80"),
        ("note", _Text("x")),
        ("tags", ["a", "ü\ud83d"]),
        ("counts", {"\ud800": 1}),
        ("counts", {_Text("x"): 1}),
        # Values msgspec hands back as another object than it was given, so only the record tells.
        ("size", _Count(2)),
        ("ratio", _Count(2)),
        ("level", _Text("low")),
        ("blob", memoryview(b"x")),
        ("blob", _Blob(b"x")),
        ("code", memoryview(b"ab")),
        ("blobs", [memoryview(b"y")]),
    ],
)
def test_should_give_the_reference_verdict_for_python_containers_and_subclasses(
    implementation: str, field: str, value: Any
) -> None:
    schema = parse_schema(CONTAINERS)
    batch = [dict(PLAIN), {**PLAIN, field: value}, dict(PLAIN)]
    expected = verdicts(Validator(schema), batch)
    assert [position for position, _ in expected] == [2]  # the reference takes only exact types, and text UTF-8 holds
    assert verdicts(IMPLEMENTATIONS[implementation](schema), batch) == expected


def test_should_check_plain_batches_in_one_fast_pass() -> None:
    validator = RowValidator(parse_schema(CONTAINERS))
    assert validator.fast and validator._chunk_valid([dict(PLAIN)] * 10)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("stamp", [_Count(1), "\ud800", (1,), 2**70, msgspec.UNSET, None])
def test_should_give_the_reference_verdict_whatever_the_version_stamp_holds(implementation: str, stamp: Any) -> None:
    # The stamp the schema does not declare is typed Any for msgspec, which keeps whatever object it is given
    # (msgspec.UNSET included, what a Struct holds for a field left out); the reference does not validate it.
    schema = parse_schema(CONTAINERS)
    batch = [dict(PLAIN), {**PLAIN, "schema_version": stamp}, {**PLAIN, "schema_version": stamp, "label": _Text("x")}]
    expected = verdicts(Validator(schema), batch)
    assert [position for position, _ in expected] == [3]
    assert verdicts(IMPLEMENTATIONS[implementation](schema), batch) == expected
