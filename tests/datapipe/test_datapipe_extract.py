"""The extractor end to end against PostgreSQL: streaming batches into Avro part files, read back and checked."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
import sqlalchemy as sa
from datapipe_fixtures import PG_USER_VARIABLE, pg_source, write_config

from datapipe.config import Project, load_project
from datapipe.errors import InvalidIntervalError
from datapipe.extract import Interval, extract_table
from datapipe.schema_generation import generate_schema

pytestmark = pytest.mark.postgres

UTC = dt.UTC
ROWS = [
    # id, cliente, total, exacto (bare numeric), creada_en (timestamptz), modificada_en, fecha, firma
    (1, "Ana", Decimal("10.50"), Decimal("123456789012345678901234567890.123456789"),
     dt.datetime(2025, 1, 1, 9, tzinfo=UTC), dt.datetime(2025, 1, 1, 9, 30), dt.date(2025, 1, 1), b"\x00\x01"),
    (2, "Luis", None, None,
     dt.datetime(2025, 1, 1, 23, tzinfo=UTC), dt.datetime(2025, 1, 1, 23, 59, 59, 999999), None, None),
    (3, "Eva", Decimal("0.01"), Decimal("1E-30"),
     dt.datetime(2025, 1, 2, tzinfo=UTC), dt.datetime(2025, 1, 2, 0, 0), dt.date(2025, 1, 2), b""),
]


@pytest.fixture
def project(pg_schema: tuple[sa.Engine, str], postgres_url: str, pg_user_env: str, tmp_path: Path) -> Project:
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"""CREATE TABLE "{schema}".ventas_cabecera (
                id_venta bigint PRIMARY KEY, cliente varchar(100) NOT NULL, total numeric(12, 2),
                exacto numeric, creada_en timestamptz NOT NULL, modificada_en timestamp, fecha date, firma bytea)"""
        )
        table = sa.Table("ventas_cabecera", sa.MetaData(), autoload_with=connection, schema=schema)
        connection.execute(table.insert(), [dict(zip(table.columns.keys(), row, strict=True)) for row in ROWS])
    tables = [{"name": "VENTAS_CABECERA", "load_mode": "incremental", "partition_column": "MODIFICADA_EN"}]
    project = load_project(write_config(tmp_path / "migracion-ventas", source=pg_source(postgres_url, schema),
                                        tables=tables))
    generate_schema(project, "VENTAS_CABECERA")
    return project


def read_back(files: list[str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in files:
        with open(path, "rb") as stream:
            records.extend(fastavro.reader(stream))
    return records


def test_should_extract_the_whole_table_and_read_back_every_value(project: Project, tmp_path: Path) -> None:
    result = extract_table(project, "VENTAS_CABECERA", str(tmp_path / "out"))
    assert result.rows == 3
    records = sorted(read_back(result.files), key=lambda r: r["id_venta"])
    first, second, third = records
    assert first == {
        "id_venta": 1,
        "cliente": "Ana",
        "total": Decimal("10.50"),
        "exacto": "123456789012345678901234567890.123456789",  # bare numeric: exact text
        "creada_en": dt.datetime(2025, 1, 1, 9, tzinfo=UTC),
        "modificada_en": dt.datetime(2025, 1, 1, 9, 30),
        "fecha": dt.date(2025, 1, 1),
        "firma": b"\x00\x01",
    }
    assert second["total"] is None and second["firma"] is None
    assert second["modificada_en"] == dt.datetime(2025, 1, 1, 23, 59, 59, 999999)
    assert third["exacto"] == "0.000000000000000000000000000001"
    assert third["firma"] == b""


def test_should_read_only_the_data_interval(project: Project, tmp_path: Path) -> None:
    interval = Interval.parse("2025-01-01T00:00:00+00:00", "2025-01-02T00:00:00+00:00")
    result = extract_table(project, "VENTAS_CABECERA", str(tmp_path / "out"), interval)
    # start <= modificada_en < end: the row at exactly 2025-01-02 00:00 belongs to the next interval.
    assert sorted(r["id_venta"] for r in read_back(result.files)) == [1, 2]


def test_should_read_the_whole_history_before_the_end_when_the_start_is_empty(
    project: Project, pg_schema: tuple[sa.Engine, str], tmp_path: Path
) -> None:
    """The DAG's first run (and a run triggered with full_history): every earlier row, and rows whose partition
    column is NULL, which no bounded interval reads."""
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO \"{schema}\".ventas_cabecera (id_venta, cliente, creada_en) VALUES (4, 'Sin fecha', now())")
    interval = Interval.parse("", "2025-01-02T00:00:00+00:00")
    assert interval is not None and interval.start is None
    result = extract_table(project, "VENTAS_CABECERA", str(tmp_path / "out"), interval)
    assert sorted(r["id_venta"] for r in read_back(result.files)) == [1, 2, 4]


def test_should_stream_in_batches_into_several_part_files(project: Project, tmp_path: Path) -> None:
    result = extract_table(project, "VENTAS_CABECERA", str(tmp_path / "out"), batch_size=1, rows_per_file=2)
    assert [Path(f).name for f in result.files] == ["part-00000.avro", "part-00001.avro"]
    assert [len(read_back([f])) for f in result.files] == [2, 1]


def test_should_replace_the_part_files_of_an_earlier_try(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    extract_table(project, "VENTAS_CABECERA", str(out), rows_per_file=1)
    interval = Interval.parse("2030-01-01T00:00:00+00:00", "2030-01-02T00:00:00+00:00")
    result = extract_table(project, "VENTAS_CABECERA", str(out), interval)
    # An empty interval still leaves one (empty) file, so the load job's wildcard matches.
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.avro"]
    assert result.rows == 0 and read_back(result.files) == []


def test_should_write_with_the_generated_schema(project: Project, tmp_path: Path) -> None:
    result = extract_table(project, "VENTAS_CABECERA", str(tmp_path / "out"))
    with open(result.files[0], "rb") as stream:
        writer_schema = fastavro.reader(stream).writer_schema
    assert writer_schema is not None
    assert [f["name"] for f in writer_schema["fields"]] == [f["name"] for f in _avsc(project)["fields"]]


def _avsc(project: Project) -> dict[str, Any]:
    import json

    return json.loads((project.schemas_dir / "ventas_cabecera.avsc").read_text())


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-01-01", None, "give both --start and --end"),
        ("yesterday", "2025-01-02", "--start 'yesterday' is not an ISO 8601 timestamp"),
        ("2025-01-02", "2025-01-01", "is not before --end"),
    ],
)
def test_should_refuse_a_bad_interval(start: str, end: str | None, message: str) -> None:
    with pytest.raises(InvalidIntervalError, match=message):
        Interval.parse(start, end)


def test_should_run_as_python_m_datapipe_extract(project: Project, tmp_path: Path, pg_user_env: str) -> None:
    out = tmp_path / "cli-out"
    env = {**os.environ, PG_USER_VARIABLE: pg_user_env}
    done = subprocess.run(
        [sys.executable, "-m", "datapipe.extract", "--config", str(project.config_path), "--table",
         "VENTAS_CABECERA", "--output", str(out), "--start", "2025-01-01T00:00:00+00:00", "--end",
         "2025-01-03T00:00:00+00:00"],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "extracted 3 rows of VENTAS_CABECERA into 1 file(s)" in done.stdout
    assert len(read_back([str(out / "part-00000.avro")])) == 3

    missing = {k: v for k, v in env.items() if k != PG_USER_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-m", "datapipe.extract", "--config", str(project.config_path), "--table",
         "VENTAS_CABECERA", "--output", str(out)],
        capture_output=True, text=True, env=missing, check=False, timeout=120,
    )
    assert done.returncode == 2
    assert f"${{{PG_USER_VARIABLE}}} (referenced by source.username)" in done.stderr
    assert "Traceback" not in done.stderr
