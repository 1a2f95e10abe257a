"""Oracle without a server: python-oracledb's own type objects through datapipe's output type handler, and the
values Oracle sends (in the session formats datapipe sets) through its converters into Avro and back."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import fastavro
import oracledb
import pytest

from datapipe.extract.values import converter
from datapipe.oracle_types import SESSION_SETUP, fetch_plan, output_type_handler, parse_timestamp_tz


class RecordingCursor:
    """Stands in for an open python-oracledb cursor: records what the handler asks ``var()`` for."""

    arraysize = 500

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def var(self, typ: Any, **options: Any) -> tuple[str, Any]:
        self.calls.append((typ, options))
        return ("var", typ)


class Column:
    """The part of python-oracledb's FetchInfo the handler reads."""

    def __init__(self, type_code: Any) -> None:
        self.type_code = type_code


@pytest.mark.parametrize(
    ("type_code", "fetched_as", "converts"),
    [
        (oracledb.DB_TYPE_NUMBER, Decimal, False),  # NUMBER, NUMBER(p, s), FLOAT(b), INTEGER: exact decimals
        (oracledb.DB_TYPE_TIMESTAMP_TZ, oracledb.DB_TYPE_VARCHAR, True),  # text with its offset, parsed
        (oracledb.DB_TYPE_CLOB, oracledb.DB_TYPE_LONG, False),
        (oracledb.DB_TYPE_NCLOB, oracledb.DB_TYPE_LONG, False),
        (oracledb.DB_TYPE_BLOB, oracledb.DB_TYPE_LONG_RAW, False),
    ],
)
def test_should_fetch_oracle_values_exactly(type_code: Any, fetched_as: Any, converts: bool) -> None:
    cursor = RecordingCursor()
    assert output_type_handler(cursor, Column(type_code)) == ("var", fetched_as)
    [(typ, options)] = cursor.calls
    assert typ is fetched_as and options["arraysize"] == RecordingCursor.arraysize
    assert (options["outconverter"] is parse_timestamp_tz) is converts


@pytest.mark.parametrize(
    "type_code",
    [oracledb.DB_TYPE_BINARY_DOUBLE, oracledb.DB_TYPE_BINARY_FLOAT, oracledb.DB_TYPE_DATE,
     oracledb.DB_TYPE_TIMESTAMP, oracledb.DB_TYPE_TIMESTAMP_LTZ, oracledb.DB_TYPE_VARCHAR, oracledb.DB_TYPE_RAW],
)
def test_should_leave_exact_oracle_types_to_the_driver(type_code: Any) -> None:
    # IEEE floats are what Oracle stores; DATE/TIMESTAMP are local; LTZ arrives in the session zone (UTC).
    cursor = RecordingCursor()
    assert output_type_handler(cursor, Column(type_code)) is None
    assert cursor.calls == [] and fetch_plan(type_code.name) is None


def test_should_pin_the_session_to_utc_and_iso_timestamps() -> None:
    assert "ALTER SESSION SET TIME_ZONE = 'UTC'" in SESSION_SETUP
    assert any("NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM'" in s for s in SESSION_SETUP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31T23:00:00.123456+05:30",
         dt.datetime(2025, 1, 31, 23, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))),
        ("2025-01-31T23:00:00.000000-03:00", dt.datetime(2025, 1, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-3)))),
        ("0001-01-01T00:00:00+00:00", dt.datetime(1, 1, 1, tzinfo=dt.UTC)),
        ("2025-06-01T12:00:00.123456000+14:00",
         dt.datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=14)))),
    ],
)
def test_should_keep_the_instant_of_a_timestamp_with_time_zone(text: str, expected: dt.datetime) -> None:
    parsed = parse_timestamp_tz(text)
    assert parsed == expected and parsed.utcoffset() == expected.utcoffset()
    assert avro_round_trip({"type": "long", "logicalType": "timestamp-micros"}, parsed) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-01-31T23:00:00.123456789+00:00", "below a microsecond"),
        ("2025-01-31 23:00:00", "not a timestamp with time zone"),
    ],
)
def test_should_refuse_a_timestamp_it_cannot_keep(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_timestamp_tz(text)


@pytest.mark.parametrize(
    ("avro", "value"),
    [
        ("string", Decimal("1.2345678901234567890123456789012345678E+125")),  # bare NUMBER at its largest
        ("string", Decimal("-1E-130")),
        ({"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 0}, Decimal("9" * 38)),  # INTEGER
        ({"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}, Decimal("-1234567890.12")),
        ("double", 0.1 + 0.2),  # BINARY_DOUBLE as stored
        ("float", 16777217.0 - 1),  # BINARY_FLOAT
    ],
)
def test_should_write_oracle_numbers_as_they_are(avro: Any, value: Any) -> None:
    written = avro_round_trip(avro, converter(avro)(value))
    if avro == "string":
        assert Decimal(written) == value
    else:
        assert written == value


def avro_round_trip(avro: Any, value: Any) -> Any:
    schema = fastavro.parse_schema({"type": "record", "name": "r", "fields": [{"name": "v", "type": avro}]})
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [{"v": converter(avro)(value)}])
    buffer.seek(0)
    return next(iter(fastavro.reader(buffer)))["v"]
