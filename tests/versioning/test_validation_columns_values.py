"""The column validator checks enum symbols and canonical UUIDs as the reference validator does, row for row."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.schema import parse_schema
from versioning.validation import ColumnValidator
from versioning.validation.reference import Validator

SCHEMA = parse_schema(
    {
        "type": "record",
        "name": "Event",
        "fields": [
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "maybe", "type": ["null", {"type": "string", "logicalType": "uuid"}], "default": None},
            {
                "name": "inner",
                "type": {"type": "record", "name": "Inner", "fields": [{"name": "k", "type": "Kind"}]},
            },
            {"name": "kinds", "type": {"type": "array", "items": "Kind"}},
        ],
    }
)
VALIDATOR = ColumnValidator(SCHEMA)
GOOD_ID = "123e4567-e89b-12d3-a456-426614174000"


def row(**overrides: Any) -> dict[str, Any]:
    return {"kind": "A", "id": GOOD_ID, "maybe": None, "inner": {"k": "B"}, "kinds": ["C"], **overrides}


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=VALIDATOR.arrow)


@pytest.mark.parametrize(
    ("bad", "path", "rows"),
    [
        ({"kind": "ZZZ"}, "kind", (1,)),
        ({"id": GOOD_ID.upper()}, "id", (1,)),
        ({"id": "not-a-uuid"}, "id", (1,)),
        ({"id": GOOD_ID.replace("-", "")}, "id", (1,)),
        ({"maybe": "{" + GOOD_ID + "}"}, "maybe", (1,)),
        ({"inner": {"k": "Q"}}, "inner.k", ()),
        ({"kinds": ["A", "nope"]}, "kinds[]", ()),
    ],
)
def test_should_report_values_arrow_types_let_through(bad: dict[str, Any], path: str, rows: tuple[int, ...]) -> None:
    errors = VALIDATOR.errors(table([row(), row(**bad)]))
    assert [(e.path, e.rows) for e in errors] == [(path, rows)]
    assert "1 " in errors[0].message and "fix the values" in errors[0].message


def test_should_number_rows_from_the_first_row_given_and_accept_good_values() -> None:
    assert VALIDATOR.errors(table([row(maybe=str(uuid.uuid4()))] * 3)) == []
    errors = VALIDATOR.errors(table([row(), row(kind="X"), row(kind="Y")]), first_row=10)
    assert [(e.path, e.rows) for e in errors] == [("kind", (11, 12))]
    assert errors[0].message.startswith("2 values not among the enum's symbols (A, B, C)")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "kind": st.sampled_from(["A", "B", "C", "a", "ZZZ", ""]),
                "id": st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.text(max_size=40)),
                "maybe": st.one_of(st.none(), st.uuids().map(str), st.uuids().map(lambda u: u.hex)),
            }
        ),
        min_size=1,
        max_size=30,
    )
)
def test_should_flag_exactly_the_rows_the_reference_rejects(values: list[dict[str, Any]]) -> None:
    rows = [row(**v) for v in values]
    reference = Validator(SCHEMA)
    expected: dict[str, list[int]] = {}
    for i, record in enumerate(rows):
        for error in reference.errors(record):
            expected.setdefault(error.path, []).append(i)
    found = {e.path: list(e.rows) for e in VALIDATOR.errors(table(rows))}
    assert found == {path: indexes[:5] for path, indexes in expected.items()}
