"""datapipe: scaffold a table migration, generate its schemas and its Airflow DAGs, and extract its rows.

Public API::

    from datapipe import load_project, generate_schema, generate_dag, extract_table, init_project
"""

from datapipe.config import Cloud, LoadMode, MigrationConfig, Project, UnconstrainedNumber, load_project
from datapipe.dag_generation import GeneratedDag, generate_dag, render_dag
from datapipe.errors import DatapipeError
from datapipe.extract import ExtractResult, Interval, extract_table
from datapipe.project_init import init_project
from datapipe.schema_generation import GeneratedSchema, generate_schema

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
