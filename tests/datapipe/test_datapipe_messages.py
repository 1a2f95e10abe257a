"""Messages, not tracebacks: unreachable sources, unsupported or unreachable outputs (never a hang), values that
overflow their column (and no partial file), a partition column that is not a date or timestamp."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from datapipe_fixtures import write_config

from datapipe.cli import main
from datapipe.config import Project
from datapipe.schema_generation import generate_schema


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ({"kind": "postgresql", "host": "db.invalid", "port": 5432, "database": "ventas", "username": "${U}"},
         "postgresql+psycopg://etl@db.invalid:5432/ventas"),
        ({"kind": "mariadb", "host": "db.invalid", "port": 3306, "database": "ventas", "username": "${U}"},
         "mariadb+pymysql://etl@db.invalid:3306/ventas"),
    ],
)
def test_should_name_an_unresolvable_source_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source: dict[str, object],
    shown: str,
) -> None:
    monkeypatch.setenv("U", "etl")
    path = write_config(tmp_path, source=source)
    code, _, err = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", str(path))
    assert code == 2
    assert f"cannot read the source database {shown}" in err and "Traceback" not in err


@pytest.fixture
def generated(sqlite_project: Project) -> Project:
    generate_schema(sqlite_project, "VENTAS_CABECERA")
    return sqlite_project


def test_should_refuse_an_unsupported_output_url(generated: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "extract", "--config", str(generated.config_path), "--table", "VENTAS_CABECERA",
                       "--output", "s3://bucket/prefix/")
    assert code == 2
    assert "cannot write to --output s3://bucket/prefix/: the s3:// scheme is not supported" in err
    assert "gs://bucket/prefix/" in err and "Traceback" not in err


@pytest.mark.parametrize("credentials", ["missing-file", "none"])
def test_should_give_up_on_an_unreachable_bucket_within_the_timeout(
    generated: Project, tmp_path: Path, credentials: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCE_"))}
    env["HOME"] = str(tmp_path)  # no gcloud application-default credentials either
    if credentials == "missing-file":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "missing-credentials.json")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "datapipe.extract", "--config", str(generated.config_path), "--table",
         "VENTAS_CABECERA", "--output", "gs://acme-staging/migracion-ventas/", "--storage-timeout", "3"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert time.monotonic() - started < 60  # the process ends, whatever the storage client is still doing
    assert done.returncode == 2, done.stderr
    assert "cannot write to --output gs://acme-staging/migracion-ventas/" in done.stderr
    assert "Traceback" not in done.stderr


def test_should_stop_on_an_overflowing_value_with_a_message_and_no_file(
    generated: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    engine = sa.create_engine(f"sqlite:///{generated.root / 'source.db'}")
    with engine.begin() as connection:
        # SQLite keeps what it is given: 13 integer digits in a NUMBER(12, 2) column.
        connection.exec_driver_sql(
            "INSERT INTO VENTAS_CABECERA (ID_VENTA, CLIENTE, TOTAL, FECHA_VENTA) VALUES "
            "(1, 'Ana', 10.5, '2025-01-01'), (2, 'Luis', 1234567890123, '2025-01-01')")
    engine.dispose()
    out = tmp_path / "out"
    code, _, err = run(capsys, "extract", "--config", str(generated.config_path), "--table", "VENTAS_CABECERA",
                       "--output", str(out))
    assert code == 1
    assert "column 'TOTAL': 1234567890123 does not fit decimal(12, 2)" in err and "nothing was written" in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []


def test_should_refuse_a_partition_column_that_is_not_a_date_at_generate(
    sqlite_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    data = sqlite_project.config.model_dump(mode="json", by_alias=True)
    data["tables"][0]["partition_column"] = "TOTAL"
    path = write_config(sqlite_project.root, data)
    code, _, err = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", str(path))
    assert code == 2
    assert "tables[VENTAS_CABECERA].partition_column: column 'TOTAL' is NUMERIC(12, 2), not a date or timestamp" in err
    assert "FECHA_VENTA, FECHA_MODIFICACION" in err and "Traceback" not in err
