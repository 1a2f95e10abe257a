"""Shared test set-up: the real PostgreSQL and MariaDB servers (started by the session), and the rule that CI never
skips them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from local_servers import LocalServer, ServerUnavailable, start_mariadb, start_postgres

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Each test session keeps the registry's verdict cache to itself.

    The cache is an optimisation keyed by file contents; a session sharing the user's cache would depend on what
    earlier runs (or other checkouts) left there, and leave its own hostile registries behind for them.
    """
    if "VERSIONING_CACHE_DIR" not in os.environ:
        os.environ["VERSIONING_CACHE_DIR"] = _SESSION_CACHE = tempfile.mkdtemp(prefix="pipeline-platform-verdicts-")
        config.add_cleanup(lambda: shutil.rmtree(_SESSION_CACHE, ignore_errors=True))


def in_ci() -> bool:
    """CI (``CI=true``, as ``.ci/run`` sets) turns every unavailable service into a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _server_url(env_var: str, start: Callable[[], LocalServer], request: pytest.FixtureRequest) -> str:
    """The URL of a server of the user's own (``env_var``), or of one this session starts and stops."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    try:
        server = start()
    except ServerUnavailable as err:
        if in_ci():
            pytest.fail(f"{err}; CI requires it", pytrace=False)
        pytest.skip(str(err))
    request.addfinalizer(server.stop)
    return server.url


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The SQLAlchemy URL of the test PostgreSQL database (``TEST_POSTGRES_URL``, else a server started here)."""
    return _server_url("TEST_POSTGRES_URL", start_postgres, request)


@pytest.fixture(scope="session")
def mysql_url(request: pytest.FixtureRequest) -> str:
    """The SQLAlchemy URL of the test MariaDB database (``TEST_MYSQL_URL``, else a server started here)."""
    return _server_url("TEST_MYSQL_URL", start_mariadb, request)


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
