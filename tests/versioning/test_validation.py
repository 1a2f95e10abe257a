"""Validating records: every error of each record, with its field path; nothing coerced or dropped."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from versioning import Registry, parse_schema
from versioning.validation import FieldError, Validator

RICH = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "count", "type": "int"},
        {"name": "paid", "type": "boolean"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "double"}},
        {
            "name": "address",
            "type": ["null", {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}],
            "default": None,
        },
    ],
}

GOOD: dict[str, Any] = {
    "id": 2**40,
    "count": 3,
    "paid": True,
    "price": Decimal("1234.50"),
    "day": dt.date(2024, 5, 1),
    "at": dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
    "ref": str(uuid.uuid4()),
    "status": "NEW",
    "hash": b"abcd",
    "tags": ["a", "b"],
    "attrs": {"w": 1.5},
    "address": {"city": "Lima"},
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(parse_schema(RICH))


def test_should_accept_a_valid_record(validator: Validator) -> None:
    assert validator.errors(GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"id": "7"}, FieldError("id", "expected long (64-bit), got str '7'")),
        ({"count": 2**31}, FieldError("count", "2147483648 is out of range for int (32-bit)")),
        ({"count": True}, FieldError("count", "expected int (32-bit), got bool True")),
        ({"paid": 1}, FieldError("paid", "expected boolean, got int 1")),
        ({"price": Decimal("12345.5")}, FieldError("price", "12345.5 does not fit decimal(6,2)")),
        ({"price": Decimal("1.234")}, FieldError("price", "1.234 does not fit decimal(6,2)")),
        (
            {"day": dt.datetime(2024, 1, 1)},
            FieldError("day", "expected a date, got datetime datetime.datetime(2024, 1, 1, 0, 0)"),
        ),
        ({"day": "2024-13-45"}, FieldError("day", "expected a date, got str '2024-13-45'")),
        ({"ref": "not-a-uuid"}, FieldError("ref", "expected a UUID, got str 'not-a-uuid'")),
        ({"status": "LOST"}, FieldError("status", "expected one of the Status symbols (NEW, PAID), got str 'LOST'")),
        ({"hash": b"abc"}, FieldError("hash", "expected 4 bytes (Hash), got bytes b'abc'")),
        ({"tags": ["a", 2]}, FieldError("tags[1]", "expected string, got int 2")),
        ({"attrs": {"w": "x"}}, FieldError("attrs['w']", "expected double, got str 'x'")),
        ({"address": {"city": 5}}, FieldError("address.city", "expected string, got int 5")),
        ({"address": "Lima"}, FieldError("address", "expected one of null, Address; got str 'Lima'")),
        ({"extra": 1}, FieldError("extra", "unexpected field (not in the Order schema); remove it")),
    ],
)
def test_should_report_the_error_at_its_field_path(
    validator: Validator, change: dict[str, Any], expected: FieldError
) -> None:
    assert validator.errors({**GOOD, **change}) == [expected]


def test_should_report_every_error_of_a_record(validator: Validator) -> None:
    bad = {k: v for k, v in GOOD.items() if k not in ("id", "paid")} | {"count": "x", "tags": [1, 2]}
    assert [e.path for e in validator.errors(bad)] == ["id", "count", "paid", "tags[0]", "tags[1]"]


def test_should_allow_the_version_field_only_at_the_top(validator: Validator) -> None:
    assert validator.errors({**GOOD, "schema_version": 3}) == []
    nested = {**GOOD, "address": {"city": "Lima", "schema_version": 3}}
    assert [e.path for e in validator.errors(nested)] == ["address.schema_version"]


def test_should_list_invalid_records_with_their_positions(validator: Validator) -> None:
    records = [GOOD, {**GOOD, "count": "x"}, GOOD, "not a record"]
    found = list(validator.invalid(records, first_position=10))
    assert [(r.position, [str(e) for e in r.errors]) for r in found] == [
        (11, ["count: expected int (32-bit), got str 'x'"]),
        (13, ["<record>: expected a Order record (an object), got str 'not a record'"]),
    ]


def test_should_choose_the_version_from_the_record(users_registry_dir: Path) -> None:
    users = Registry.load(users_registry_dir).subject("users")
    v1 = {"id": "1", "name": "A", "created_at": "t"}
    assert users.validate({**v1, "schema_version": 1}) == (1, [])
    version, errors = users.validate({**v1, "phone": None, "schema_version": 2})
    assert version == 2
    assert [str(e) for e in errors] == ["phone: unexpected field (not in the User schema); remove it"]
