"""Lossless extraction: edge values written into real SQLite, PostgreSQL and MariaDB tables come back from the
Avro files (read by fastavro) exactly; values a column's Avro type cannot hold stop the run and leave no file."""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
import sqlalchemy as sa
from datapipe_fixtures import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datapipe.config import Project, load_project
from datapipe.errors import ValueOverflowError
from datapipe.extract import extract_table
from datapipe.schema_generation import generate_schema
from datapipe.source import engine_for

UTC = dt.UTC
PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MICROS = st.integers(0, 999_999)
# Avro timestamp-micros spans far more than the databases; these bounds are the databases' own.
NAIVE = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


def read_back(project: Project, table: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as out:
        result = extract_table(project, table, out)
        records: list[dict[str, Any]] = []
        for path in result.files:
            with open(path, "rb") as stream:
                records.extend(fastavro.reader(stream))
    return sorted(records, key=lambda r: r["id"])


def float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return bool(expected == actual)


def assert_rows(expected: list[dict[str, Any]], actual: list[dict[str, Any]],
                compare: dict[str, Callable[[Any, Any], bool]] | None = None) -> None:
    compare = compare or {}
    assert len(actual) == len(expected)
    for want, got in zip(sorted(expected, key=lambda r: r["id"]), actual, strict=True):
        for name, value in want.items():
            check = compare.get(name, same)
            assert (value is None and got[name] is None) or check(value, got[name]), (name, value, got[name])


def project_on(folder: Path, source: dict[str, Any], table: str) -> Project:
    return load_project(write_config(folder, source=source, tables=[{"name": table, "load_mode": "full"}]))


# --- SQLite -------------------------------------------------------------------------------------------------------

SQLITE_DDL = """CREATE TABLE edge (
    id INTEGER PRIMARY KEY,          -- 64-bit
    n NUMBER(20),                    -- decimal(20, 0)
    amount NUMBER(12, 2),            -- decimal(12, 2)
    bare NUMERIC,                    -- exact text
    r REAL,                          -- double
    ts TIMESTAMP WITH TIME ZONE,     -- instant
    lt TIMESTAMP,                    -- local time
    d DATE,
    t TEXT,
    b BLOB
)"""


@pytest.fixture
def sqlite_edge(tmp_path: Path) -> Iterator[tuple[Project, sa.Engine]]:
    folder = tmp_path / "lossless"
    folder.mkdir()
    engine = sa.create_engine(f"sqlite:///{folder / 'source.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(SQLITE_DDL)
    project = project_on(folder, {"kind": "sqlite", "database": "source.db"}, "edge")
    generate_schema(project, "edge")
    yield project, engine
    engine.dispose()


SQLITE_ROW = st.fixed_dictionaries({
    "n": st.none() | st.integers(-(2**63), 2**63 - 1),
    "amount": st.none() | st.decimals(min_value=Decimal("-9999999999.99"), max_value=Decimal("9999999999.99"),
                                      places=2),
    "bare": st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False),
    "r": st.none() | st.floats(allow_nan=False),
    "ts": st.none() | st.builds(lambda t, z: t.replace(tzinfo=z), NAIVE, OFFSETS),
    "lt": st.none() | NAIVE,
    "d": st.none() | st.dates(),
    "t": st.none() | TEXT,
    "b": st.none() | st.binary(max_size=40),
})


def _numeric_text_equal(expected: Any, actual: str) -> bool:
    # SQLite keeps a NUMERIC value as an integer when it is one (a float like 5.2e16 included), else as a REAL.
    return float(actual) == expected if isinstance(expected, float) else Decimal(actual) == expected


@PROPERTY
@given(rows=st.lists(SQLITE_ROW, max_size=6), first_id=st.integers(-(2**63), 2**63 - 7))
def test_should_round_trip_sqlite_edge_values(
    sqlite_edge: tuple[Project, sa.Engine], rows: list[dict[str, Any]], first_id: int
) -> None:
    project, engine = sqlite_edge
    rows = [{"id": first_id + i, **row} for i, row in enumerate(rows)]
    stored = [{**r, "amount": None if r["amount"] is None else str(r["amount"]),
               "ts": None if r["ts"] is None else r["ts"].isoformat(),
               "lt": None if r["lt"] is None else r["lt"].isoformat(" "),
               "d": None if r["d"] is None else r["d"].isoformat()} for r in rows]
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM edge")
        if stored:
            connection.exec_driver_sql(
                "INSERT INTO edge VALUES (:id, :n, :amount, :bare, :r, :ts, :lt, :d, :t, :b)", stored)
    assert_rows(rows, read_back(project, "edge"), {"bare": _numeric_text_equal})


# --- PostgreSQL ---------------------------------------------------------------------------------------------------

PG_DDL = """CREATE TABLE {s}.edge (
    id bigint PRIMARY KEY, i integer, sm smallint, num numeric(38, 10), bare numeric, d8 double precision,
    f4 real, tstz timestamptz, ts timestamp, d date, tm time, txt text, by bytea, flag boolean, u uuid, j jsonb
)"""


@pytest.fixture
def pg_edge(pg_schema: tuple[sa.Engine, str], postgres_url: str, pg_user_env: str,
            tmp_path: Path) -> tuple[Project, sa.Engine, str]:
    from datapipe_fixtures import pg_source

    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.exec_driver_sql(PG_DDL.format(s=schema))
    project = project_on(tmp_path / "lossless", pg_source(postgres_url, schema), "edge")
    generate_schema(project, "edge")
    return project, engine, schema


PG_DECIMAL = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e130"),
                         max_value=Decimal("1e130")).filter(lambda d: d.as_tuple().exponent >= -16383)
PG_ROW = st.fixed_dictionaries({
    "i": st.none() | st.integers(-(2**31), 2**31 - 1),
    "sm": st.none() | st.integers(-(2**15), 2**15 - 1),
    "num": st.none() | st.decimals(min_value=Decimal("-" + "9" * 28 + ".9999999999"),
                                   max_value=Decimal("9" * 28 + ".9999999999"), places=10),
    "bare": st.none() | PG_DECIMAL,
    "d8": st.none() | st.floats(allow_nan=False),
    "f4": st.none() | st.floats(width=32, allow_nan=False),
    "tstz": st.none() | st.builds(lambda t, z: t.replace(tzinfo=z), NAIVE, OFFSETS),
    "ts": st.none() | NAIVE,
    "d": st.none() | st.dates(),
    "tm": st.none() | st.times(),
    "txt": st.none() | TEXT,
    "by": st.none() | st.binary(max_size=40),
    "flag": st.none() | st.booleans(),
    "u": st.none() | st.uuids(),
    "j": st.none() | st.dictionaries(st.text(max_size=5).filter(lambda k: "\x00" not in k), st.integers(), max_size=3),
})


@pytest.mark.postgres
@PROPERTY
@given(rows=st.lists(PG_ROW, max_size=6), first_id=st.integers(-(2**63), 2**63 - 7))
def test_should_round_trip_postgresql_edge_values(
    pg_edge: tuple[Project, sa.Engine, str], rows: list[dict[str, Any]], first_id: int
) -> None:
    project, engine, schema = pg_edge
    rows = [{"id": first_id + i, **row} for i, row in enumerate(rows)]
    from psycopg.types.json import Jsonb

    stored = [{**r, "j": None if r["j"] is None else Jsonb(r["j"])} for r in rows]
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM {schema}.edge")
        if stored:
            connection.exec_driver_sql(
                f"INSERT INTO {schema}.edge VALUES (%(id)s, %(i)s, %(sm)s, %(num)s, %(bare)s, %(d8)s, %(f4)s, "
                "%(tstz)s, %(ts)s, %(d)s, %(tm)s, %(txt)s, %(by)s, %(flag)s, %(u)s, %(j)s)", stored)
    assert_rows(rows, read_back(project, "edge"), {
        "bare": lambda want, got: Decimal(got) == want,
        "j": lambda want, got: json.loads(got) == want,
    })


# --- MariaDB ------------------------------------------------------------------------------------------------------

MARIADB_DDL = """CREATE TABLE {t} (
    id BIGINT PRIMARY KEY, ubig BIGINT UNSIGNED, uint INT UNSIGNED, d DOUBLE, f FLOAT, dec30 DECIMAL(30, 10),
    ts TIMESTAMP(6) NULL, dtm DATETIME(6), dt DATE, tm TIME(6), vc VARCHAR(200), bl BLOB
) CHARACTER SET utf8mb4"""


@pytest.fixture
def mariadb_edge(mysql_url: str, tmp_path: Path) -> Iterator[tuple[Project, sa.Engine, str]]:
    url = sa.make_url(mysql_url)
    engine = engine_for(url)  # the inserts run in a UTC session too, as the extractor's
    table = f"edge_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(MARIADB_DDL.format(t=table))
    source = {"kind": "mariadb", "host": url.host, "port": url.port, "database": url.database,
              "username": "${MDB_USER}"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MDB_USER", url.username or "root")
        project = project_on(tmp_path / "lossless", source, table)
        generate_schema(project, table)
        try:
            yield project, engine, table
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DROP TABLE {table}")
            engine.dispose()


MARIADB_ROW = st.fixed_dictionaries({
    "ubig": st.none() | st.integers(0, 2**64 - 1),
    "uint": st.none() | st.integers(0, 2**32 - 1),
    "d": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    "f": st.none() | st.floats(width=32, allow_nan=False, allow_infinity=False),
    "dec30": st.none() | st.decimals(min_value=Decimal("-" + "9" * 20 + ".9999999999"),
                                     max_value=Decimal("9" * 20 + ".9999999999"), places=10),
    # TIMESTAMP holds 1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC.
    "ts": st.none() | st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2038, 1, 18),
                                   timezones=st.just(UTC)),
    "dtm": st.none() | st.datetimes(min_value=dt.datetime(1000, 1, 1)),
    "dt": st.none() | st.dates(min_value=dt.date(1000, 1, 1)),
    "tm": st.none() | st.times(),
    "vc": st.none() | TEXT,
    "bl": st.none() | st.binary(max_size=40),
})


@PROPERTY
@given(rows=st.lists(MARIADB_ROW, max_size=6), first_id=st.integers(-(2**63), 2**63 - 7))
def test_should_round_trip_mariadb_edge_values(
    mariadb_edge: tuple[Project, sa.Engine, str], rows: list[dict[str, Any]], first_id: int
) -> None:
    project, engine, table = mariadb_edge
    rows = [{"id": first_id + i, **row} for i, row in enumerate(rows)]
    stored = [{**r, "ts": None if r["ts"] is None else r["ts"].replace(tzinfo=None)} for r in rows]
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM {table}")
        if stored:
            connection.exec_driver_sql(
                f"INSERT INTO {table} VALUES (%(id)s, %(ubig)s, %(uint)s, %(d)s, %(f)s, %(dec30)s, %(ts)s, "
                "%(dtm)s, %(dt)s, %(tm)s, %(vc)s, %(bl)s)", stored)
    assert_rows(rows, read_back(project, table), {"f": lambda want, got: float32(got) == want})


# --- Overflow: a message, and no partial file ----------------------------------------------------------------------


def test_should_stop_on_a_value_its_column_cannot_hold_and_leave_no_file(
    sqlite_edge: tuple[Project, sa.Engine], tmp_path: Path
) -> None:
    project, engine = sqlite_edge
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO edge (id, amount) VALUES (1, 10.5), (2, 3)")
        # SQLite keeps what it is given: a third decimal place in a NUMBER(12, 2) column.
        connection.exec_driver_sql("INSERT INTO edge (id, amount) VALUES (3, '0.125')")
    out = tmp_path / "out"
    with pytest.raises(ValueOverflowError) as caught:
        extract_table(project, "edge", str(out), rows_per_file=1)
    message = str(caught.value)
    assert "column 'amount'" in message and "0.125 does not fit decimal(12, 2) without rounding" in message
    assert "nothing was written" in message
    assert list(out.iterdir()) == []
