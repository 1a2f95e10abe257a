"""PostgreSQL tables read through ``COPY ... TO STDOUT`` (CSV parsed by Arrow): edge values written into a real
table come back from the Avro files (read by fastavro) exactly, and the path is really the COPY one; a table with a
type the CSV path does not carry, or a value it cannot parse, is read (or refused) by the reference path."""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import psycopg
import pytest
import sqlalchemy as sa
from datapipe_fixtures import pg_source, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datapipe.config import Project, load_project
from datapipe.errors import ValueOverflowError
from datapipe.extract import ExtractResult, copy_fetch, extract_table
from datapipe.schema_generation import SchemaFiles, generate_schema

pytestmark = pytest.mark.postgres

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAIVE = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
# Text that CSV must quote: delimiters, quotes, both newlines, the CSV end marker, what looks like a NULL.
TRICKY = st.sampled_from(["", ",", '"', '""', "\n", "\r\n", "\\.", "\\N", "NULL", " ", "a,b\n\"c\""])
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30) | TRICKY

DDL = """CREATE TABLE {s}.edge (
    id bigint PRIMARY KEY, i integer, sm smallint NOT NULL, num numeric(38, 10), n18 numeric(18, 4),
    wide numeric(50, 20), d8 double precision, f4 real, tstz timestamptz, ts timestamp, d date, txt text,
    vc varchar(12), ch char(3), by bytea, flag boolean
)"""
ROW = st.fixed_dictionaries({
    "i": st.none() | st.integers(-(2**31), 2**31 - 1),
    "sm": st.integers(-(2**15), 2**15 - 1),
    "num": st.none() | st.decimals(min_value=Decimal("-" + "9" * 28 + ".9999999999"),
                                   max_value=Decimal("9" * 28 + ".9999999999"), places=10),
    "n18": st.none() | st.integers(-(10**18) + 1, 10**18 - 1).map(lambda n: Decimal(n).scaleb(-4)),
    "wide": st.none() | st.integers(-(10**50) + 1, 10**50 - 1).map(lambda n: Decimal(f"{n}E-20")),
    "d8": st.none() | st.floats(),
    "f4": st.none() | st.floats(width=32),
    "tstz": st.none() | st.builds(lambda t, z: t.replace(tzinfo=z), NAIVE, OFFSETS),
    "ts": st.none() | NAIVE,
    "d": st.none() | st.dates(),
    "txt": st.none() | TEXT,
    "vc": st.none() | TEXT.map(lambda t: t[:12]),
    "ch": st.none() | st.text(st.sampled_from("ab ,\""), min_size=3, max_size=3).filter(lambda t: t[-1] != " "),
    "by": st.none() | st.binary(max_size=40),
    "flag": st.none() | st.booleans(),
})


@pytest.fixture
def edge(pg_schema: tuple[sa.Engine, str], postgres_url: str, pg_user_env: str,
         tmp_path: Path) -> tuple[Project, sa.Engine, str]:
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.exec_driver_sql(DDL.format(s=schema))
    project = load_project(write_config(tmp_path / "copy", source=pg_source(postgres_url, schema),
                                        tables=[{"name": "edge", "load_mode": "full"}]))
    generate_schema(project, "edge")
    return project, engine, schema


def extract(project: Project, table: str = "edge") -> tuple[ExtractResult, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as out:
        result = extract_table(project, table, out)
        records: list[dict[str, Any]] = []
        for path in result.files:
            with open(path, "rb") as stream:
                records.extend(fastavro.reader(stream))
    return result, sorted(records, key=lambda r: r["id"])


def float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return type(expected) is type(actual) and bool(expected == actual)


def insert(engine: sa.Engine, schema: str, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM {schema}.edge")
        if rows:
            names = list(rows[0])
            connection.exec_driver_sql(
                f"INSERT INTO {schema}.edge ({', '.join(names)}) VALUES ({', '.join(f'%({n})s' for n in names)})",
                rows)


@PROPERTY
@given(rows=st.lists(ROW, max_size=8), first_id=st.integers(-(2**63), 2**63 - 9))
def test_should_read_postgresql_edge_values_through_copy_exactly(
    edge: tuple[Project, sa.Engine, str], rows: list[dict[str, Any]], first_id: int
) -> None:
    project, engine, schema = edge
    rows = [{"id": first_id + i, **row} for i, row in enumerate(rows)]
    insert(engine, schema, rows)
    result, records = extract(project)
    assert result.fetch == "copy"
    assert len(records) == len(rows)
    for want, got in zip(rows, records, strict=True):
        want = {**want, "f4": None if want["f4"] is None else float32(want["f4"])}
        if want["tstz"] is not None:
            want["tstz"] = want["tstz"].astimezone(dt.UTC)
        for name, value in want.items():
            assert same(value, got[name]), (name, value, got[name])


# 4096: many blocks, cut between the COPY's messages, with quoted newlines near every cut.
@pytest.mark.parametrize("block_bytes", [copy_fetch.BLOCK_BYTES, 4096])
def test_should_write_the_same_files_content_as_the_reference_path(
    edge: tuple[Project, sa.Engine, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    project, engine, schema = edge
    monkeypatch.setattr(copy_fetch, "BLOCK_BYTES", block_bytes)
    rows = [{"id": n, "i": n if n % 3 else None, "sm": n % 100, "num": Decimal(n).scaleb(-10), "n18": None,
             "wide": Decimal(n) ** 3, "d8": n / 7, "f4": n / 3, "tstz": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
             + dt.timedelta(microseconds=n * 977), "ts": dt.datetime(1999, 1, 1) + dt.timedelta(seconds=n),
             "d": dt.date(2000, 1, 1) + dt.timedelta(days=n), "txt": f"line {n}\n\"{n}\"" if n % 5 else "",
             "vc": str(n), "ch": "abc", "by": n.to_bytes(4, "big"), "flag": n % 2 == 0} for n in range(3000)]
    insert(engine, schema, rows)
    copied, by_copy = extract(project)
    # The same table with one more column of a type the CSV path leaves to the reference path.
    with engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {schema}.edge ADD COLUMN tm time")
    generate_schema(project, "edge")
    referenced, by_cursor = extract(project)
    assert (copied.fetch, referenced.fetch) == ("copy", "cursor")
    assert [{k: v for k, v in r.items() if k != "tm"} for r in by_cursor] == by_copy


@pytest.mark.parametrize("column", ["num", "n18", "wide"])
def test_should_leave_a_value_copy_cannot_parse_to_the_reference_path_which_refuses_it(
    edge: tuple[Project, sa.Engine, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, column: str
) -> None:
    project, engine, schema = edge
    # Small CSV blocks: several batches are written before the bad value, and must not survive.
    monkeypatch.setattr(copy_fetch, "BLOCK_BYTES", 4096)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"INSERT INTO {schema}.edge (id, sm) SELECT g, 1 FROM generate_series(1, 2000) g")
        connection.exec_driver_sql(f"UPDATE {schema}.edge SET {column} = 'NaN' WHERE id = 1999")
    out = tmp_path / "out"
    with pytest.raises(ValueOverflowError) as refused:
        extract_table(project, "edge", str(out))
    assert refused.value.column == column and "NaN" in refused.value.reason
    assert list(out.iterdir()) == []


class CountingRows:
    """The fetch's own reader of a real COPY, counting the bytes the fetch thread has taken from the connection."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows
        self.taken = 0

    def fill(self, block: bytearray, size: int) -> bool:
        more: bool = self.rows.fill(block, size)
        self.taken += len(block)
        return more


def copy_plan(project: Project, engine: sa.Engine, schema: str) -> tuple[str, list[Any]]:
    fields = json.loads(SchemaFiles.of(project, project.table("edge")).avsc.read_text())["fields"]
    table = sa.Table("edge", sa.MetaData(), schema=schema, autoload_with=engine)
    plan = copy_fetch.plan([table.c[f["name"]] for f in fields], fields)
    assert plan is not None
    return f"SELECT {', '.join(f['name'] for f in fields)} FROM {schema}.edge", plan


def fill(engine: sa.Engine, schema: str, rows: int) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO {schema}.edge (id, sm, txt, d8, tstz) SELECT g, g %% 100, "
            f"'row ' || g || E'\\n' || md5(g::text), g / 3.0, "
            f"timestamptz '2020-01-01 UTC' + g * interval '1 ms' FROM generate_series(1, {rows}) g")


def edge_rows(connection: Any, schema: str) -> int:
    """How many rows the edge table holds, asked on the (raw) connection a fetch used: it still answers."""
    cursor = connection.cursor()
    cursor.execute(f"SELECT count(*) FROM {schema}.edge")
    return int(cursor.fetchone()[0])


def test_should_read_the_copy_at_most_three_blocks_ahead_of_a_slow_consumer(
    edge: tuple[Project, sa.Engine, str]
) -> None:
    # The bound on memory: however far behind the Avro side falls, the fetch thread has taken at most the block
    # being encoded, the one waiting in the queue and the one it holds (an unbounded queue would take the table).
    project, engine, schema = edge
    fill(engine, schema, 20_000)
    sql, plan = copy_plan(project, engine, schema)
    block = 4096
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement in copy_fetch.SESSION:
            cursor.execute(statement)
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            counting = CountingRows(copy_fetch._CopyRows(copy, connection.dbapi_connection.pgconn))
            blocks = copy_fetch._Blocks(counting, plan, block)
            try:
                first = blocks.get()
                assert first is not None
                time.sleep(0.5)  # a slow encoder: the thread has long had the time to read on
                taken_while_waiting = counting.taken
                rows = first[1]
                while (item := blocks.get()) is not None:
                    rows += item[1]
            finally:
                blocks.stop()
        connection.rollback()
    finally:
        connection.close()
    assert rows == 20_000 and counting.taken > 100 * block
    # Each block ends with the row that reached the block size: at most one row (here < 200 bytes) beyond it.
    assert taken_while_waiting <= 3 * (block + 200)


def test_should_give_the_connection_back_when_the_consumer_stops_early(edge: tuple[Project, sa.Engine, str]) -> None:
    project, engine, schema = edge
    fill(engine, schema, 20_000)
    sql, plan = copy_plan(project, engine, schema)
    connection = engine.raw_connection()
    try:
        batches = copy_fetch.batches(connection.dbapi_connection, sql, plan, block_bytes=4096)
        assert next(batches)[1] > 0
        batches.close()  # as when writing the Avro file fails: the COPY is cancelled, the thread gone
        assert not [t for t in threading.enumerate() if t.name == "datapipe-copy-fetch"]
        connection.rollback()
        assert edge_rows(connection, schema) == 20_000
    finally:
        connection.close()


@pytest.mark.parametrize("rows", [0, 1, 3000])
def test_should_leave_the_connection_ready_for_the_next_statement_after_the_copy(
    edge: tuple[Project, sa.Engine, str], rows: int
) -> None:
    # However the end of the COPY was met (by libpq while rows were being taken from it, or by psycopg waiting for
    # more), its final result has been read: the same transaction goes on.
    project, engine, schema = edge
    fill(engine, schema, rows)
    sql, plan = copy_plan(project, engine, schema)
    connection = engine.raw_connection()
    try:
        fetched = sum(count for _, count in copy_fetch.batches(connection.dbapi_connection, sql, plan))
        assert fetched == edge_rows(connection, schema) == rows
    finally:
        connection.close()


def test_should_raise_the_servers_error_met_in_the_middle_of_the_copy(edge: tuple[Project, sa.Engine, str]) -> None:
    project, engine, schema = edge
    fill(engine, schema, 20_000)
    sql, plan = copy_plan(project, engine, schema)
    failing = sql.replace("sm,", "(sm + 0 / (id - 15000))::smallint AS sm,", 1)
    assert failing != sql
    connection = engine.raw_connection()
    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            for _ in copy_fetch.batches(connection.dbapi_connection, failing, plan, block_bytes=4096):
                pass
        connection.rollback()
        assert edge_rows(connection, schema) == 20_000
    finally:
        connection.close()


def test_should_stop_promptly_while_the_server_is_slow_to_send_rows(edge: tuple[Project, sa.Engine, str]) -> None:
    # The consumer gives up (say, writing the file failed) while the fetch thread waits for a row the server takes
    # 30 s to produce: the query is cancelled rather than waited for, and the connection recovers.
    project, engine, schema = edge
    fill(engine, schema, 2000)
    sql, plan = copy_plan(project, engine, schema)
    # Past the server's first 8 KiB of output (it sends nothing before), and short of the thread's first block.
    stalled = f"{sql} WHERE CASE WHEN id = 1000 THEN pg_sleep(30)::text IS NOT NULL ELSE true END"
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement in copy_fetch.SESSION:
            cursor.execute(statement)
        with pytest.raises(RuntimeError), cursor.copy(f"COPY ({stalled}) TO STDOUT WITH (FORMAT csv)") as copy:
            rows = copy_fetch._CopyRows(copy, connection.dbapi_connection.pgconn)
            blocks = copy_fetch._Blocks(rows, plan, 1 << 20, cancel=connection.dbapi_connection.cancel_safe)
            time.sleep(0.5)  # the thread has the first rows and waits for row 1000
            started = time.monotonic()
            blocks.stop()
            stopped_after = time.monotonic() - started
            raise RuntimeError("the consumer's error")  # psycopg ends the COPY as it does for any error
        connection.rollback()
        assert edge_rows(connection, schema) == 2000
    finally:
        connection.close()
    assert stopped_after < 10
