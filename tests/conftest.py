"""Shared test set-up: the real PostgreSQL server, and the rule that CI never skips it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_reachable: bool | None = None
_reason = ""


def _postgres_reachable() -> bool:
    global _reachable, _reason
    if _reachable is None:
        import sqlalchemy

        try:
            engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("select 1"))
            engine.dispose()
            _reachable = True
        except Exception as err:  # any failure to connect means "not reachable", with its reason
            _reachable = False
            _reason = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    return _reachable


def pytest_runtest_setup(item: pytest.Item) -> None:
    """PostgreSQL tests skip with a visible reason when no server answers, and fail instead under CI."""
    if item.get_closest_marker("postgres") is None or _postgres_reachable():
        return
    message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({_reason})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> str:
    """The SQLAlchemy URL of the test PostgreSQL database."""
    return POSTGRES_URL


@pytest.fixture
def project_root() -> Path:
    """The project's root folder (where Pulumi.yaml and schemas/ are)."""
    return ROOT


@pytest.fixture
def users_registry_dir() -> Path:
    """The project's own schema registry folder."""
    return ROOT / "schemas"


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run a test from an empty temporary folder."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
