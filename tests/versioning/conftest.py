"""Fixtures for the SQL migration tests: subjects, and real databases with a fresh namespace per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from versioning import Registry, Subject

MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def _record(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": "Order", "namespace": "shop", "fields": fields}


ORDERS_V1 = _record(
    [
        {"name": "id", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price", "type": "int"},
        {"name": "note", "type": "string", "default": ""},
        {"name": "fax", "type": ["null", "string"], "default": None},
        {"name": "tag", "type": "string", "default": "none"},
    ]
)
ORDERS_V2 = _record(
    [
        {"name": "id", "type": "string"},
        {"name": "quantity", "type": "long"},  # widened with no operation: the table follows anyway
        {"name": "price", "type": "double"},
        {"name": "comment", "type": "string", "default": "", "aliases": ["note"]},
        {"name": "status", "type": "string", "default": "new"},
        {"name": "priority", "type": "int"},
    ]
)
ORDERS_V3 = _record(
    [
        *ORDERS_V2["fields"],
        {"name": "extras", "type": {"type": "map", "values": "string"}, "default": {"gift": "no"}},
        {"name": "checksum", "type": "bytes", "default": "\u0000\u00ff"},
        {"name": "motto", "type": "string", "default": "100% O'Brien: 12:00; ok"},
        {"name": "shipped_on", "type": {"type": "int", "logicalType": "date"}, "default": 19000},
    ]
)
ORDERS_STEPS = [
    {
        "from": 1,
        "to": 2,
        "upgrade": [
            {"rename": {"from": "note", "to": "comment"}},
            {"remove": "fax"},
            {"promote": {"field": "price", "to": "double"}},
            {"add": {"field": "priority", "value": 3}},
        ],
    },
    {"from": 2, "to": 3, "upgrade": []},
]


def write_subject(
    root: Path, name: str, versions: list[dict[str, Any]], steps: list[dict[str, Any]], **config: Any
) -> Subject:
    """Write a subject folder under ``root`` and load it through the registry, as users would."""
    folder = root / name
    folder.mkdir(parents=True)
    for number, schema in enumerate(versions, start=1):
        (folder / f"v{number}.avsc").write_text(json.dumps(schema, indent=2), encoding="utf-8")
    document = {"compatibility": "NONE", "table": name, "steps": steps, **config}
    (folder / "subject.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return Registry.load(root).subject(name)


@pytest.fixture
def users(users_registry_dir: Path) -> Subject:
    """The project's own ``users`` subject (v1 id, name, created_at; v2 + email, updated_at; v3 + phone)."""
    return Registry.load(users_registry_dir).subject("users")


@pytest.fixture
def orders(tmp_path: Path) -> Subject:
    """A subject whose steps rename, remove, promote, widen, and add required and typed columns."""
    return write_subject(tmp_path / "registry", "orders", [ORDERS_V1, ORDERS_V2, ORDERS_V3], ORDERS_STEPS)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A SQLite database in a file of its own."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[tuple[sa.Engine, str]]:
    """The test PostgreSQL database and a schema made for this test (dropped after it)."""
    engine = sa.create_engine(postgres_url)
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(name))
    yield engine, name
    with engine.begin() as connection:
        connection.execute(sa.schema.DropSchema(name, cascade=True))
    engine.dispose()


@pytest.fixture
def mysql_database() -> Iterator[tuple[sa.Engine, str]]:
    """The MariaDB/MySQL server and a database made for this test; skipped with the reason when unavailable."""
    pytest.importorskip("pymysql", reason="pymysql is not installed; MySQL migrations are checked as text only")
    engine = sa.create_engine(MYSQL_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.OperationalError as err:
        engine.dispose()
        pytest.skip(f"MySQL/MariaDB at {MYSQL_URL} is not reachable ({str(err.orig).splitlines()[0]})")
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(name))
    yield engine, name
    with engine.begin() as connection:
        connection.execute(sa.schema.DropSchema(name))
    engine.dispose()
