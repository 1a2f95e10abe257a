"""datapipe: scaffold a table migration, generate its schemas and its Airflow DAGs, and extract its rows.

Public API::

    from datapipe import load_project, generate_schema, generate_dag, extract_table, init_project
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from versioning.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from datapipe.config import Cloud, LoadMode, MigrationConfig, Project, UnconstrainedNumber, load_project
    from datapipe.dag_generation import GeneratedDag, generate_dag, render_dag
    from datapipe.errors import DatapipeError
    from datapipe.extract import ExtractResult, Interval, extract_table
    from datapipe.project_init import init_project
    from datapipe.schema_generation import GeneratedSchema, generate_schema

# Names are imported when first used (versioning.lazy_exports).
_EXPORTS: dict[str, str] = {
    "Cloud": "datapipe.config",
    "LoadMode": "datapipe.config",
    "MigrationConfig": "datapipe.config",
    "Project": "datapipe.config",
    "UnconstrainedNumber": "datapipe.config",
    "load_project": "datapipe.config",
    "GeneratedDag": "datapipe.dag_generation",
    "generate_dag": "datapipe.dag_generation",
    "render_dag": "datapipe.dag_generation",
    "DatapipeError": "datapipe.errors",
    "ExtractResult": "datapipe.extract",
    "Interval": "datapipe.extract",
    "extract_table": "datapipe.extract",
    "init_project": "datapipe.project_init",
    "GeneratedSchema": "datapipe.schema_generation",
    "generate_schema": "datapipe.schema_generation",
}


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "Cloud",
    "DatapipeError",
    "ExtractResult",
    "GeneratedDag",
    "GeneratedSchema",
    "Interval",
    "LoadMode",
    "MigrationConfig",
    "Project",
    "UnconstrainedNumber",
    "extract_table",
    "generate_dag",
    "generate_schema",
    "init_project",
    "load_project",
    "render_dag",
]
