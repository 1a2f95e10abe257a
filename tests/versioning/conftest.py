"""Fixtures for the versioning tests: the project's subject, and real databases with a fresh namespace per test."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from versioning import Registry, Subject

# The contract suites share their Hypothesis strategies (avro_strategies.py, beside this file).
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def users(users_registry_dir: Path) -> Subject:
    """The project's own ``users`` subject (v1 id, name, created_at; v2 + email, updated_at; v3 + phone)."""
    return Registry.load(users_registry_dir).subject("users")


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
def mysql_database(mysql_url: str) -> Iterator[tuple[sa.Engine, str]]:
    """The test MariaDB server and a database made for this test (dropped after it)."""
    engine = sa.create_engine(mysql_url)
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(name))
    yield engine, name
    with engine.begin() as connection:
        connection.execute(sa.schema.DropSchema(name))
    engine.dispose()
