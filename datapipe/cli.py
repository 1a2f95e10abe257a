"""The ``datapipe`` command line: ``init``, ``generate schema``, ``generate dag`` and ``extract``.

Exit codes (shared with ``versioning`` and ``pipeline-platform``, :class:`versioning.command_line.ExitCode`):
0 done; 1 the operation was refused on its merits (an incompatible schema version, an existing project, a source
value its column's Avro type cannot hold); 2 bad input (config, missing environment variable, unknown table or
column, unreachable source or output, usage); 130 interrupted (Ctrl-C or SIGTERM; nothing partial is left).

Results go to standard output (``--format json`` for scripts), errors to standard error. Each command imports
what it needs once its arguments are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import click

from versioning.command_line import (
    CONTEXT_SETTINGS,
    ExitCode,
    format_option,
    print_error,
    print_json,
    run,
    version_option,
    wants_json,
)

EXIT_OK = ExitCode.OK
EXIT_REFUSED = ExitCode.NO
EXIT_BAD_INPUT = ExitCode.BAD_INPUT
CLOUDS = ["gcp", "aws", "azure"]
"""datapipe.config.Cloud's values (a test holds them equal), here so --help needs no config import."""


def _config_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_file",
        required=True,
        type=click.Path(dir_okay=False),
        help="The migration project's config.yaml.",
    )(function)


@click.group(context_settings=CONTEXT_SETTINGS)
@version_option("datapipe")
def cli() -> None:
    """Scaffold a table migration, generate its schemas and its Airflow DAGs.

    Results go to stdout (--format json for scripts), errors to stderr.
    Exit codes: 0 ok, 1 refused, 2 bad input, 130 interrupted.
    """


@cli.command()
@click.argument("name")
@click.option(
    "--cloud",
    type=click.Choice(CLOUDS),
    default="gcp",
    show_default=True,
    help="Where the warehouse is: gcp (BigQuery). aws (Redshift) and azure (Synapse) are not supported yet.",
)
@format_option
def init(name: str, cloud: str, output_format: str, as_json: bool) -> None:
    """Create the folder NAME with a commented config.yaml template."""
    from datapipe.config import Cloud
    from datapipe.project_init import init_project

    path = init_project(name, Cloud(cloud))
    if wants_json(output_format, as_json):
        print_json({"created": str(path)})
        return
    click.echo(f"created {path}; edit it, then run `datapipe generate schema TABLE --config {path}`")


@cli.group()
def generate() -> None:
    """Generate a table's schemas or its Airflow DAG."""


@generate.command("schema")
@click.argument("table")
@_config_option
@click.option("--force", is_flag=True, help="Record a new version even if it breaks the subject's compatibility.")
@format_option
def generate_schema_command(table: str, config_file: str, force: bool, output_format: str, as_json: bool) -> None:
    """Reflect TABLE from the source and write schemas/<table>.avsc and schemas/<table>.json."""
    from datapipe.config import load_project
    from datapipe.schema_generation import generate_schema

    project = load_project(config_file)
    outcome = generate_schema(project, table, force=force)
    if wants_json(output_format, as_json):
        print_json(
            {
                "subject": outcome.subject,
                "version": outcome.version,
                "added": outcome.added,
                "compatibility": str(outcome.compatibility),
                "compatible": outcome.verdict.compatible,
                "incompatibilities": [str(i) for i in outcome.verdict.incompatibilities],
                "bigquery_changes": [{"change": str(c), "in_place": c.in_place} for c in outcome.bigquery_changes],
                "files": {"avsc": str(outcome.files.avsc), "bigquery": str(outcome.files.bigquery)},
            }
        )
        return
    if outcome.added:
        status = "new subject" if outcome.version == 1 else f"new version, {outcome.compatibility}"
        verdict = "compatible" if outcome.verdict.compatible else (
            f"INCOMPATIBLE, forced: recorded in {project.registry_dir}/_exceptions/{outcome.subject}.yaml"
        )
        click.echo(f"{outcome.subject}: v{outcome.version} added to {project.registry_dir} ({status}: {verdict})")
        for incompatibility in outcome.verdict.incompatibilities:
            click.echo(f"  - {incompatibility}")
    else:
        click.echo(f"{outcome.subject}: unchanged since v{outcome.version}")
    if outcome.bigquery_changes:
        click.echo("BigQuery schema changes:")
        for change in outcome.bigquery_changes:
            click.echo(f"  - {change}")
        if all(c.in_place for c in outcome.bigquery_changes):
            click.echo("  the regenerated DAG applies them to the table before its next load")
        else:
            click.echo(
                "  BigQuery applies only NULLABLE additions, REQUIRED->NULLABLE relaxations and some widenings in "
                "place: a full load recreates the table on its next run; an incremental table's DAG stops until "
                "the table is recreated (see docs/datapipe.md, 'Schema changes')"
            )
    click.echo(f"wrote {outcome.files.avsc} and {outcome.files.bigquery}")


@generate.command("dag")
@click.argument("table")
@_config_option
@format_option
def generate_dag_command(table: str, config_file: str, output_format: str, as_json: bool) -> None:
    """Write dags/dag_<cloud>_<table>.py, the Airflow DAG that extracts and loads TABLE."""
    from datapipe.config import load_project
    from datapipe.dag_generation import generate_dag

    project = load_project(config_file)
    dag = generate_dag(project, table, config_file)
    if wants_json(output_format, as_json):
        print_json({"dag_id": dag.dag_id, "path": str(dag.path)})
        return
    click.echo(f"wrote {dag.path} (DAG {dag.dag_id})")


@cli.command()
@click.option("--table", required=True, help="The table to extract, as named in the config.")
@_config_option
@click.option(
    "-o", "--out", "--output", "output", required=True, help="Folder or gs://bucket/prefix/ for the Avro part files."
)
@click.option(
    "--start", default=None,
    help="Interval start (ISO 8601), inclusive; incremental runs. '' reads the whole history before --end.",
)
@click.option("--end", default=None, help="Interval end (ISO 8601), exclusive; incremental runs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--rows-per-file", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option(
    "--storage-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
    help="Seconds reaching the --output location may take before the run stops with a message.",
)
@format_option
def extract(
    table: str, config_file: str, output: str, start: str | None, end: str | None, batch_size: int,
    rows_per_file: int, storage_timeout: float, output_format: str, as_json: bool,
) -> None:
    """Read TABLE (or one interval of it) into Avro part files under --output."""
    from datapipe.config import load_project
    from datapipe.extract import Interval, extract_table

    project = load_project(config_file)
    interval = Interval.parse(start, end)
    result = extract_table(
        project, table, output, interval, batch_size=batch_size, rows_per_file=rows_per_file,
        storage_timeout=storage_timeout,
    )
    if wants_json(output_format, as_json):
        print_json({"table": table, "rows": result.rows, "files": list(result.files), "output": output})
        return
    click.echo(f"extracted {result.rows} rows of {table} into {len(result.files)} file(s) under {output}")


def _datapipe_error(error: BaseException) -> int:
    print_error(str(error))
    return int(getattr(error, "exit_code", EXIT_BAD_INPUT))


def _versioning_error(error: BaseException) -> int:
    print_error(str(error))
    return EXIT_BAD_INPUT


def _run(command: click.Command, args: list[str] | None, prog_name: str = "datapipe") -> int:
    from datapipe.errors import DatapipeError
    from versioning.errors import VersioningError

    # The avro library warns about logical types it does not know (local-timestamp-micros); not for users.
    warnings.filterwarnings("ignore", message="Unknown local-timestamp")
    handlers = [(DatapipeError, _datapipe_error), (VersioningError, _versioning_error)]
    return run(command, args, prog_name, errors=handlers)


def main(args: list[str] | None = None) -> int:
    """Run the ``datapipe`` CLI; returns the exit code."""
    return _run(cli, args)


def extract_main(args: list[str] | None = None) -> int:
    """Run the extractor alone (``python -m datapipe.extract``); returns the exit code."""
    return _run(extract, args, "python -m datapipe.extract")
