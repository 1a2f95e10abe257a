"""``DataVersionManager``: the naive manager's familiar calls, answered by the registry.

Code written against the old in-process manager keeps working unchanged::

    from versioning import DataVersionManager

    manager = DataVersionManager()                        # the project's schemas/, subject "users"
    manager.validate_schema({"id": "1", "name": "Ana", "created_at": "2024-01-01"}, version=1)
    # {'valid': True, 'version': 1, 'errors': []}
    manager.upgrade_data(legacy_record, target_version=3)   # the record, schema_version set to 3
    manager.create_migration_script(1, 3)                   # PostgreSQL DDL + backfill, as text

Underneath, schemas are Avro versions in the registry, validation reports every error with its field path,
upgrades follow the declared steps and migrations are rendered per SQL dialect.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from versioning.errors import VersioningError
from versioning.registry import VERSION_FIELD, Registry, Subject

DEFAULT_REGISTRY = "schemas"
REGISTRY_ENV = "VERSIONING_REGISTRY"


def default_registry_path() -> Path:
    """The registry folder to use when none is given: ``$VERSIONING_REGISTRY``, else ``./schemas``."""
    return Path(os.environ.get(REGISTRY_ENV, DEFAULT_REGISTRY))


class DataVersionManager:
    """One subject's versions behind the naive manager's interface (``users`` in the project's registry)."""

    def __init__(self, registry: str | os.PathLike[str] | Registry | None = None, subject: str = "users") -> None:
        loaded = registry if isinstance(registry, Registry) else Registry.load(registry or default_registry_path())
        self.registry = loaded
        self.subject: Subject = loaded.subject(subject)

    @property
    def current_version(self) -> int:
        """The newest version of the subject."""
        return self.subject.latest

    @property
    def versions(self) -> list[int]:
        """Every version of the subject, oldest first."""
        return self.subject.versions

    def validate_schema(self, data: dict[str, Any], version: int | None = None) -> dict[str, Any]:
        """Validate one record: ``{'valid': bool, 'version': int | None, 'errors': [str, ...]}``.

        The version is ``version`` if given, else the record's own ``schema_version``, else 1: a record
        without ``schema_version`` is legacy data from before versioning, as :meth:`upgrade_data` takes it.
        An unknown version is not an exception: ``valid`` is False and ``errors`` says which versions exist.
        """
        if version is None and not (isinstance(data, dict) and data.get(VERSION_FIELD) is not None):
            version = self.subject.versions[0]
        try:
            used, errors = self.subject.validate(data, version)
        except VersioningError as err:
            return {"valid": False, "version": version, "errors": [str(err)]}
        return {"valid": not errors, "version": used, "errors": [str(e) for e in errors]}

    def upgrade_data(self, data: dict[str, Any], target_version: int) -> dict[str, Any]:
        """Move a record to ``target_version`` (up or down); the result carries ``schema_version``.

        A record without ``schema_version`` is legacy data from before versioning, taken as version 1.
        """
        start = data.get(VERSION_FIELD) or self.subject.versions[0]
        return self.subject.convert(data, target_version, from_version=start)

    def create_migration_script(self, from_version: int, to_version: int, dialect: str = "postgresql") -> str:
        """The SQL script that moves the subject's table between two versions, for a SQL dialect."""
        from versioning.migrations import migration_sql

        return migration_sql(self.subject, from_version, to_version, dialect)
