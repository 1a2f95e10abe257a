"""Helpers of the datapipe tests: migration projects on disk and real source databases."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from datapipe.config import Project, load_project

PG_USER_VARIABLE = "DATAPIPE_TEST_PGUSER"

BASE_CONFIG: dict[str, Any] = {
    "project": {"name": "migracion-ventas", "environment": "dev"},
    "source": {"kind": "sqlite", "database": "source.db"},
    "destination": {
        "cloud": "gcp",
        "project_id": "acme-data",
        "dataset": "raw_ventas",
        "staging_bucket": "acme-staging",
        "location": "US",
    },
    "airflow": {
        "schedule": "@daily",
        "start_date": "2025-01-01",
        "queue": "extract-oracle",
        "extractor_image": "registry.example.com/datapipe/migracion-ventas:1.0.0",
    },
    "tables": [
        {
            "name": "VENTAS_CABECERA",
            "load_mode": "incremental",
            "partition_column": "FECHA_MODIFICACION",
            "primary_keys": ["ID_VENTA"],
        },
        {"name": "VENTAS_DETALLE", "load_mode": "full"},
    ],
}

# Oracle-style DDL that SQLite accepts (it keeps the declared type names and derives affinities from them).
SQLITE_VENTAS_DDL = [
    """CREATE TABLE VENTAS_CABECERA (
        ID_VENTA NUMBER(10) NOT NULL PRIMARY KEY,
        CLIENTE VARCHAR2(100) NOT NULL,
        TOTAL NUMBER(12, 2),
        IMPORTE_EXACTO NUMBER(38, 12),
        PUNTOS NUMBER,
        NOTAS CLOB,
        FIRMA BLOB,
        FECHA_VENTA DATE NOT NULL,
        FECHA_MODIFICACION TIMESTAMP
    )""",
    """CREATE TABLE VENTAS_DETALLE (
        ID_VENTA NUMBER(10) NOT NULL,
        LINEA NUMBER(4) NOT NULL,
        PRODUCTO VARCHAR2(50) NOT NULL,
        CANTIDAD NUMBER(9, 3) NOT NULL,
        PRECIO NUMBER(30, 4),
        PRIMARY KEY (ID_VENTA, LINEA)
    )""",
]


def config_dict(**sections: Any) -> dict[str, Any]:
    """The base config with whole sections replaced (``source={...}``, ``tables=[...]``)."""
    data = copy.deepcopy(BASE_CONFIG)
    data.update(copy.deepcopy(sections))
    return data


def write_config(folder: Path, data: dict[str, Any] | None = None, **sections: Any) -> Path:
    """Write ``folder/config.yaml`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data or config_dict(**sections), sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    """A project whose source is a SQLite file holding the sales tables (Oracle-style DDL)."""
    folder = tmp_path / "migracion-ventas"
    path = write_config(folder)
    engine = sa.create_engine(f"sqlite:///{folder / 'source.db'}")
    with engine.begin() as connection:
        for ddl in SQLITE_VENTAS_DDL:
            connection.exec_driver_sql(ddl)
    engine.dispose()
    return load_project(path)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[tuple[sa.Engine, str]]:
    """A fresh PostgreSQL schema (unique per test, dropped afterwards) and an engine on the test database."""
    engine = sa.create_engine(postgres_url)
    schema = f"datapipe_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield engine, schema
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def pg_source(postgres_url: str, schema: str) -> dict[str, Any]:
    """A config ``source`` section for the test PostgreSQL, the user name as a ``${VAR}`` reference."""
    url = sa.make_url(postgres_url)
    return {
        "kind": "postgresql",
        "host": url.host,
        "port": url.port or 5432,
        "database": url.database,
        "username": f"${{{PG_USER_VARIABLE}}}",
        "schema": schema,
    }


@pytest.fixture
def pg_user_env(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set the environment variable the PostgreSQL source's username refers to."""
    user = sa.make_url(postgres_url).username or "postgres"
    monkeypatch.setenv(PG_USER_VARIABLE, user)
    return user


GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = "DATAPIPE_UPDATE_GOLDEN"


def assert_golden(actual: str, name: str) -> None:
    """Compare generated text with ``golden/<name>``; ``DATAPIPE_UPDATE_GOLDEN=1`` rewrites the file instead."""
    import os

    path = GOLDEN / name
    if os.environ.get(UPDATE_GOLDEN) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}; run with {UPDATE_GOLDEN}=1 and review the result"
    assert actual == path.read_text(encoding="utf-8"), f"generated text differs from {path}"
