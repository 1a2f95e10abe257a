"""The type mapping, with SQLAlchemy's real Oracle type classes: nothing is lost on the way to Avro/BigQuery."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, oracle, postgresql

from datapipe.config import UnconstrainedNumber
from datapipe.type_mapping import UnmappableType, avro_type
from versioning.exports.bigquery import to_bigquery

STRING = UnconstrainedNumber.STRING


def decimal(p: int, s: int) -> dict[str, Any]:
    return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}


def bigquery_of(avro: Any) -> str:
    [column] = to_bigquery({"type": "record", "name": "t", "fields": [{"name": "c", "type": avro}]})
    return str(column["type"])


@pytest.mark.parametrize(
    ("column_type", "expected_avro", "expected_bigquery"),
    [
        (oracle.NUMBER(10, 0), "long", "INTEGER"),
        (oracle.NUMBER(18), "long", "INTEGER"),
        (oracle.NUMBER(19), decimal(19, 0), "NUMERIC"),  # 19 digits overflow a long
        (oracle.NUMBER(12, 2), decimal(12, 2), "NUMERIC"),
        (oracle.NUMBER(38, 9), decimal(38, 9), "NUMERIC"),  # p - s = 29: the widest NUMERIC
        (oracle.NUMBER(38, 8), decimal(38, 8), "BIGNUMERIC"),  # p - s = 30
        (oracle.NUMBER(20, 10), decimal(20, 10), "BIGNUMERIC"),  # s = 10 > 9
        (oracle.NUMBER(10, -2), "long", "INTEGER"),  # rounded to hundreds: 12 integer digits
        (oracle.NUMBER(2, 5), decimal(5, 5), "NUMERIC"),  # scale > precision: 0.000xy
        (oracle.NUMBER(38, 60), "string", "STRING"),  # beyond BIGNUMERIC's 38 fractional digits
        (sa.INTEGER(), decimal(38, 0), "BIGNUMERIC"),  # Oracle reflects NUMBER(*, 0) as INTEGER
        (oracle.DATE(), {"type": "long", "logicalType": "local-timestamp-micros"}, "DATETIME"),
        (oracle.TIMESTAMP(), {"type": "long", "logicalType": "local-timestamp-micros"}, "DATETIME"),
        (oracle.TIMESTAMP(timezone=True), {"type": "long", "logicalType": "timestamp-micros"}, "TIMESTAMP"),
        (oracle.TIMESTAMP(local_timezone=True), {"type": "long", "logicalType": "timestamp-micros"}, "TIMESTAMP"),
        (oracle.VARCHAR2(100), "string", "STRING"),
        (oracle.NVARCHAR2(100), "string", "STRING"),
        (oracle.CLOB(), "string", "STRING"),
        (oracle.BLOB(), "bytes", "BYTES"),
        (oracle.RAW(16), "bytes", "BYTES"),
        (oracle.BINARY_DOUBLE(), "double", "FLOAT"),
        (oracle.BINARY_FLOAT(), "float", "FLOAT"),
        # FLOAT(b) is a decimal NUMBER of up to 38 digits at any scale: like bare NUMBER, exact text by default.
        (oracle.FLOAT(126), "string", "STRING"),
    ],
)
def test_should_map_oracle_types_without_loss(column_type: Any, expected_avro: Any, expected_bigquery: str) -> None:
    avro = avro_type(column_type, "oracle", STRING)
    assert avro == expected_avro
    assert bigquery_of(avro) == expected_bigquery


@pytest.mark.parametrize(
    ("choice", "expected_avro", "expected_bigquery"),
    [
        (UnconstrainedNumber.STRING, "string", "STRING"),
        (UnconstrainedNumber.BIGNUMERIC, decimal(76, 38), "BIGNUMERIC"),
        (UnconstrainedNumber.DOUBLE, "double", "FLOAT"),
    ],
)
def test_should_map_a_bare_number_as_configured(
    choice: UnconstrainedNumber, expected_avro: Any, expected_bigquery: str
) -> None:
    avro = avro_type(oracle.NUMBER(), "oracle", choice)
    assert avro == expected_avro
    assert bigquery_of(avro) == expected_bigquery


@pytest.mark.parametrize(
    ("column_type", "expected_avro"),
    [
        (sa.Integer(), "int"),
        (sa.BigInteger(), "long"),
        (sa.SmallInteger(), "int"),
        (sa.Boolean(), "boolean"),
        (sa.Date(), {"type": "int", "logicalType": "date"}),
        (sa.DateTime(), {"type": "long", "logicalType": "local-timestamp-micros"}),
        (sa.DateTime(timezone=True), {"type": "long", "logicalType": "timestamp-micros"}),
        (sa.Time(), {"type": "long", "logicalType": "time-micros"}),
        (sa.Numeric(), "string"),  # PostgreSQL's unconstrained numeric, like Oracle's bare NUMBER
        (sa.Numeric(15), "long"),  # NUMERIC(p) has scale 0
        (postgresql.UUID(), {"type": "string", "logicalType": "uuid"}),
        (postgresql.JSONB(), "string"),
        (postgresql.BYTEA(), "bytes"),
        (sa.REAL(), "float"),
        (postgresql.DOUBLE_PRECISION(), "double"),
    ],
)
def test_should_map_other_dialects_types(column_type: Any, expected_avro: Any) -> None:
    assert avro_type(column_type, "postgresql", STRING) == expected_avro


@pytest.mark.parametrize("column_type", [oracle.ROWID(), oracle.INTERVAL(), postgresql.INTERVAL()])
def test_should_refuse_types_without_a_lossless_mapping(column_type: Any) -> None:
    with pytest.raises(UnmappableType, match="no lossless Avro type"):
        avro_type(column_type, "oracle", STRING)


@pytest.mark.parametrize(
    ("column_type", "dialect", "expected_avro"),
    [
        (mysql.INTEGER(), "mysql", "int"),
        (mysql.INTEGER(unsigned=True), "mysql", "long"),  # up to 4,294,967,295
        (mysql.MEDIUMINT(unsigned=True), "mysql", "int"),
        (mysql.BIGINT(), "mysql", "long"),
        (mysql.BIGINT(unsigned=True), "mariadb", decimal(20, 0)),  # up to 18,446,744,073,709,551,615
        (mysql.FLOAT(), "mysql", "float"),  # 4 bytes: written as the stored single-precision value
        (mysql.FLOAT(precision=53), "mysql", "double"),
        (mysql.DOUBLE(), "mysql", "double"),
        (mysql.TIMESTAMP(), "mysql", {"type": "long", "logicalType": "timestamp-micros"}),  # an instant
        (mysql.DATETIME(), "mysql", {"type": "long", "logicalType": "local-timestamp-micros"}),
        (sa.INTEGER(), "sqlite", "long"),  # SQLite integers are 8 bytes whatever the declared type
        (sa.REAL(), "sqlite", "double"),  # and so are its floats
        (postgresql.INTEGER(), "postgresql", "int"),
    ],
)
def test_should_give_integers_and_floats_the_sources_width(
    column_type: Any, dialect: str, expected_avro: Any
) -> None:
    assert avro_type(column_type, dialect, STRING) == expected_avro
