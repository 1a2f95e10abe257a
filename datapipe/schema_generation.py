"""``datapipe generate schema``: reflect a table, version its Avro schema, write ``schemas/<table>.avsc|.json``.

The project's ``registry/`` folder is a versioning registry with one subject per table (named like the table,
in lower case). A table whose shape changed since the subject's latest version gets a new version, checked
under the subject's compatibility mode; an incompatible one is refused and nothing is written (unless forced).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from datapipe.bigquery_evolution import BigQueryChange, bigquery_changes
from datapipe.config import Project, TableSettings
from datapipe.errors import IncompatibleVersionError
from datapipe.reflection import reflect_table
from datapipe.source import connect, source_schema
from datapipe.table_registry import add_version, read_subject
from datapipe.table_schema import check_partition_column, table_schema
from versioning import Compatibility, CompatibilityResult, IncompatibleSchemaError
from versioning.exports.avro import to_avsc
from versioning.exports.bigquery import to_bigquery


@dataclass(frozen=True)
class SchemaFiles:
    """Where a table's generated schemas are written inside the project."""

    avsc: Path
    bigquery: Path

    @classmethod
    def of(cls, project: Project, table: TableSettings) -> SchemaFiles:
        """The files of ``table``: ``schemas/<table>.avsc`` and ``schemas/<table>.json``."""
        return cls(project.schemas_dir / f"{table.key}.avsc", project.schemas_dir / f"{table.key}.json")


@dataclass(frozen=True)
class GeneratedSchema:
    """What ``generate schema`` did for one table."""

    table: TableSettings
    avro: dict[str, Any]
    bigquery: list[dict[str, Any]]
    files: SchemaFiles
    subject: str
    version: int
    """The subject version that the written schema is."""
    added: bool
    """True when this run added ``version`` to the registry (the table is new or changed)."""
    compatibility: Compatibility
    verdict: CompatibilityResult = field(default_factory=CompatibilityResult)
    bigquery_changes: list[BigQueryChange] = field(default_factory=list)
    forced: bool = False
    """True when the version breaks the subject's mode and was recorded as an exception (``--force``)."""


def generate_schema(
    project: Project,
    table_name: str,
    *,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
    force: bool = False,
) -> GeneratedSchema:
    """Reflect ``table_name`` from the project's source and record and write its schemas."""
    settings = project.table(table_name)
    if engine is None:
        owned = connect(project, environ)
        try:
            table = reflect_table(owned, settings.name, source_schema(project, environ))
            dialect = owned.dialect.name
        finally:
            owned.dispose()
    else:
        table = reflect_table(engine, settings.name, source_schema(project, environ))
        dialect = engine.dialect.name
    check_partition_column(table, settings)
    avro = table_schema(table, settings, project.config, dialect)
    bigquery = to_bigquery(avro)

    subject = read_subject(project.registry_dir, settings.key)
    changes: list[BigQueryChange] = []
    files = SchemaFiles.of(project, settings)
    if subject is not None and _same(subject.schemas[subject.latest], avro):
        outcome = GeneratedSchema(
            settings, avro, bigquery, files, settings.key, subject.latest, False, subject.compatibility,
        )
    else:
        if subject is not None:
            changes = bigquery_changes(to_bigquery(subject.schemas[subject.latest]), bigquery)
        try:
            added = add_version(project.registry_dir, settings.key, avro, force=force, table=settings.key)
        except IncompatibleSchemaError as error:
            mode = subject.compatibility if subject is not None else Compatibility.BACKWARD
            raise IncompatibleVersionError(
                settings.key, str(mode), [str(i) for i in error.result.incompatibilities]
            ) from None
        outcome = GeneratedSchema(
            settings, avro, bigquery, files, settings.key, added.version, True,
            subject.compatibility if subject is not None else Compatibility.BACKWARD, added.verdict, changes,
            added.forced,
        )
    write_schema_files(outcome.files, avro, bigquery)
    return outcome


def write_schema_files(files: SchemaFiles, avro: dict[str, Any], bigquery: list[dict[str, Any]]) -> None:
    """Write the ``.avsc`` and BigQuery ``.json`` files, deterministically (stable key order, newline-ended), each
    to a temporary file renamed into place."""
    files.avsc.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(files.avsc, to_avsc(avro))
    _write_atomically(files.bigquery, json.dumps(bigquery, indent=2, ensure_ascii=False) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
