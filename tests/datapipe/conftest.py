"""Fixtures of the datapipe tests (defined in datapipe_fixtures.py, which the test modules also import)."""

import sys
from pathlib import Path

# pytest puts a test module's folder on sys.path only when it imports the module, after this conftest.
sys.path.insert(0, str(Path(__file__).parent))

from datapipe_fixtures import pg_schema, pg_user_env, sqlite_project

__all__ = ["pg_schema", "pg_user_env", "sqlite_project"]
