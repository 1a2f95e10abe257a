"""The ``datapipe`` command line: ``init``, ``generate schema``, ``generate dag`` and ``extract``.

Exit codes: 0 done; 1 the operation was refused on its merits (an incompatible schema version, an existing
project, a source value its column's Avro type cannot hold); 2 bad input (config, missing environment variable,
unknown table or column, unreachable source or output, usage).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from datapipe.config import Cloud, load_project
from datapipe.errors import DatapipeError
from versioning import VersioningError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def _config_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_file",
        required=True,
        type=click.Path(dir_okay=False),
        help="The migration project's config.yaml.",
    )(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Scaffold a table migration, generate its schemas and its Airflow DAGs."""


@cli.command()
@click.argument("name")
@click.option(
    "--cloud",
    type=click.Choice([c.value for c in Cloud]),
    default=Cloud.GCP.value,
    show_default=True,
    help="Where the warehouse is: gcp (BigQuery). aws (Redshift) and azure (Synapse) are not supported yet.",
)
def init(name: str, cloud: str) -> None:
    """Create the folder NAME with a commented config.yaml template."""
    from datapipe.project_init import init_project

    path = init_project(name, Cloud(cloud))
    click.echo(f"created {path}; edit it, then run `datapipe generate schema TABLE --config {path}`")


@cli.group()
def generate() -> None:
    """Generate a table's schemas or its Airflow DAG."""


@generate.command("schema")
@click.argument("table")
@_config_option
@click.option("--force", is_flag=True, help="Record a new version even if it breaks the subject's compatibility.")
def generate_schema_command(table: str, config_file: str, force: bool) -> None:
    """Reflect TABLE from the source and write schemas/<table>.avsc and schemas/<table>.json."""
    from datapipe.schema_generation import generate_schema

    project = load_project(config_file)
    outcome = generate_schema(project, table, force=force)
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
def generate_dag_command(table: str, config_file: str) -> None:
    """Write dags/dag_<cloud>_<table>.py, the Airflow DAG that extracts and loads TABLE."""
    from datapipe.dag_generation import generate_dag

    project = load_project(config_file)
    dag = generate_dag(project, table, config_file)
    click.echo(f"wrote {dag.path} (DAG {dag.dag_id})")


@cli.command()
@click.option("--table", required=True, help="The table to extract, as named in the config.")
@_config_option
@click.option("--output", required=True, help="Folder or gs://bucket/prefix/ for the Avro part files.")
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
def extract(
    table: str, config_file: str, output: str, start: str | None, end: str | None, batch_size: int,
    rows_per_file: int, storage_timeout: float,
) -> None:
    """Read TABLE (or one interval of it) into Avro part files under --output."""
    from datapipe.extract import Interval, extract_table

    project = load_project(config_file)
    interval = Interval.parse(start, end)
    result = extract_table(
        project, table, output, interval, batch_size=batch_size, rows_per_file=rows_per_file,
        storage_timeout=storage_timeout,
    )
    click.echo(f"extracted {result.rows} rows of {table} into {len(result.files)} file(s) under {output}")


def _run(command: click.Command, args: list[str] | None) -> int:
    # The avro library warns about logical types it does not know (local-timestamp-micros); not for users.
    warnings.filterwarnings("ignore", message="Unknown local-timestamp")
    try:
        command.main(args=args, prog_name="datapipe", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_REFUSED
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except DatapipeError as error:
        click.echo(f"error: {error}", err=True)
        return error.exit_code
    except VersioningError as error:
        click.echo(f"error: {error}", err=True)
        return EXIT_BAD_INPUT
    return EXIT_OK


def main(args: list[str] | None = None) -> int:
    """Run the ``datapipe`` CLI; returns the exit code."""
    return _run(cli, args if args is not None else sys.argv[1:])


def extract_main(args: list[str] | None = None) -> int:
    """Run the extractor alone (``python -m datapipe.extract``); returns the exit code."""
    return _run(extract, args if args is not None else sys.argv[1:])
