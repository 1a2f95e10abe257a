"""``python -m versioning``: check, validate, upgrade, migrate and export versioned schemas.

Exit codes, the same for every command:

* 0: done; compatible; every record valid.
* 1: the answer is no: incompatible schemas, a registry with problems, invalid records.
* 2: bad input: a missing or unreadable file, a malformed schema, an unknown subject or version, bad options.

Errors go to standard error as one line each that names the file, the line or record and the field. Data
files are JSON Lines, Avro container files or Parquet, streamed in batches; output files are written
atomically, so a failure never leaves a partial file behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from versioning.command_line import (
    CONTEXT_SETTINGS,
    BadInput,
    ExitCode,
    Refused,
    format_option,
    print_error,
    print_json,
    run,
    version_option,
    wants_json,
)

if TYPE_CHECKING:
    from versioning.registry import Registry

# Exit codes, shared with datapipe and pipeline-platform (versioning.command_line.ExitCode).
OK, NO, BAD_INPUT = ExitCode.OK, ExitCode.NO, ExitCode.BAD_INPUT
MODES = ["backward", "backward-transitive", "forward", "forward-transitive", "full", "full-transitive", "none"]
"""Compatibility modes as typed on the command line (tests hold them to versioning.Compatibility)."""
DATA_FORMATS = ["jsonl", "avro", "parquet"]
REGISTRY_ENV = "VERSIONING_REGISTRY"

registry_option = click.option(
    "--registry",
    "registry_dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"The schema registry folder. [default: ${REGISTRY_ENV} or ./schemas]",
)

max_block_option = click.option(
    "--max-block-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="The most one Avro block may inflate to; a larger block is refused, so memory stays bounded. "
    "[default: $VERSIONING_MAX_BLOCK_BYTES or 134217728 (128 MiB)]",
)

out_option = click.option(
    "-o", "--out", "--output", "output", type=click.Path(path_type=Path), help="Write here instead of stdout."
)
overwrite_option = click.option(
    "--overwrite", "--force", "overwrite", is_flag=True, help="Replace the output file if it exists already."
)


def load_registry(registry_dir: Path | None, subjects: list[str] | None = None) -> Registry:
    """The registry named by --registry, else $VERSIONING_REGISTRY, else ./schemas; ``subjects``: check only
    those (a command about one subject reads nothing else of the registry)."""
    from versioning.facade import default_registry_path
    from versioning.registry import Registry

    return Registry.load(registry_dir or default_registry_path(), subjects)


def refuse_existing(path: Path | None, overwrite: bool, flag: str = "--overwrite") -> None:
    """Refuse to write over an existing file unless asked to: a typo in a path must not destroy data."""
    if path is None:
        return
    if path.is_dir():
        raise BadInput(f"{path}: is a folder; give a file name to write to")
    if path.exists() and not overwrite:
        raise BadInput(f"{path}: exists already; choose another name, or pass {flag} to replace it")


@click.group(context_settings=CONTEXT_SETTINGS)
@version_option("versioning")
def cli() -> None:
    """Versioned data schemas: compatibility checks, validation, upgrades, SQL migrations and exports.

    Results go to stdout (--format json on the commands that report findings), errors to stderr.
    Exit codes: 0 ok, 1 incompatible or invalid, 2 bad input, 130 interrupted.
    """


@cli.command()
@click.argument("old", type=click.Path(path_type=Path), required=False)
@click.argument("new", type=click.Path(path_type=Path), required=False)
@click.option(
    "--mode",
    type=click.Choice(MODES, case_sensitive=False),
    default="backward",
    show_default=True,
    help="backward: NEW reads data written with OLD; forward: OLD reads data written with NEW; full: both.",
)
@click.option(
    "--pairs",
    "pairs_file",
    type=click.File("rb"),
    help="Check many pairs in one process: a file (or - for stdin) of lines 'OLD NEW [MODE]'; blank lines and "
    "lines starting with # are skipped; MODE defaults to --mode.",
)
@format_option
def compat(old: Path | None, new: Path | None, mode: str, pairs_file: Any, output_format: str, as_json: bool) -> None:
    """Check two Avro schema files (.avsc) against each other under a compatibility mode, or many pairs at once
    with --pairs (one process for a whole CI job's pairs).

    Prints one line per incompatibility (kind, JSON-pointer location, message) and exits 1 if there is any. With
    --pairs every pair is checked: a pair that cannot be checked (a missing or malformed file, a bad line) is
    reported on stderr with its line, the others still are, and the exit code is then 2.
    """
    json_out = wants_json(output_format, as_json)
    if pairs_file is None:
        if old is None or new is None:
            raise click.UsageError("give OLD and NEW, or --pairs FILE")
        document = _compat_pair(old, new, mode, {})
        if json_out:
            print_json(document)
        else:
            _print_compat(document)
        if not document["compatible"]:
            raise Refused
        return
    if old is not None:
        raise click.UsageError("give either OLD and NEW or --pairs, not both")
    from versioning.errors import VersioningError

    results: list[dict[str, Any]] = []
    bad = 0
    cache: dict[Path, Any] = {}
    name = getattr(pairs_file, "name", "-")
    for number, raw in _numbered_lines(pairs_file):
        words = raw.split() if raw is not None else [""]
        if not words or words[0].startswith("#"):
            continue
        where = f"{name}:{number}"
        try:
            if raw is None:
                raise BadInput(f"{where}: not UTF-8 text; save the file as UTF-8")
            if len(words) not in (2, 3):
                raise BadInput(f"{where}: expected 'OLD NEW [MODE]', got {len(words)} words")
            pair_mode = words[2].lower() if len(words) == 3 else mode
            if pair_mode not in MODES:
                raise BadInput(f"{where}: unknown mode {words[2]!r}; one of {', '.join(MODES)}")
            document = {"line": number, **_compat_pair(Path(words[0]), Path(words[1]), pair_mode, cache)}
        except (BadInput, VersioningError) as err:
            bad += 1
            message = str(err) if isinstance(err, BadInput) else f"{where}: {err}"
            print_error(message)
            results.append(
                {"line": number, "old": words[0] or None, "new": words[1] if len(words) > 1 else None, "error": message}
            )
            continue
        results.append(document)
        if not json_out:
            _print_compat(document)
    compatible = not bad and all(r.get("compatible") for r in results)
    if json_out:
        print_json({"compatible": compatible, "checked": len(results) - bad, "errors": bad, "pairs": results})
    elif not bad:
        click.echo(f"{len(results)} pairs checked: {'all compatible' if compatible else 'incompatible ones above'}")
    if bad:
        raise BadInput(f"{name}: {bad} of {len(results)} pairs could not be checked (listed above)")
    if not compatible:
        raise Refused


def _numbered_lines(handle: Any) -> Iterator[tuple[int, str | None]]:
    """The lines of a file with their numbers; None for a line that is not UTF-8 text."""
    for number, line in enumerate(handle, 1):
        try:
            yield number, line.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None


def _compat_pair(old: Path, new: Path, mode: str, cache: dict[Path, Any]) -> dict[str, Any]:
    """One pair's answer as the JSON document ``compat`` prints; ``cache`` keeps files read for earlier pairs."""
    from versioning.compatibility import Compatibility, check_compatibility
    from versioning.schema import read_schema_file

    def schema(path: Path) -> Any:
        if path not in cache:
            cache[path] = read_schema_file(path)
        return cache[path]

    previous, candidate = schema(old), schema(new)
    result = check_compatibility(candidate, [previous], Compatibility.parse(mode), new_version=2)
    found = []
    for inc in result.incompatibilities:
        reader, writer = (new, old) if inc.reader_version == 2 else (old, new)
        found.append(
            {
                "kind": inc.kind.value,
                "location": inc.location,
                "message": inc.message,
                "reader": str(reader),
                "writer": str(writer),
            }
        )
    return {"compatible": result.compatible, "mode": mode, "old": str(old), "new": str(new), "found": found}


def _print_compat(document: dict[str, Any]) -> None:
    if document["compatible"]:
        click.echo(f"compatible ({document['mode']}): {document['new']} with {document['old']}")
        return
    for item in document["found"]:
        where = f"{item['kind']} at {item['location']}"
        click.echo(f"{where}: {item['message']} (reader {item['reader']}, writer {item['writer']})")


@cli.command()
@registry_option
@format_option
def check(registry_dir: Path | None, output_format: str, as_json: bool) -> None:
    """Check the whole registry: every schema, every step (and that each call step's function loads), every
    subject's chain under its mode.

    Exits 1 and lists every problem (file, location, what to fix) on stdout if anything is wrong.
    """
    from versioning.errors import RegistryError

    try:
        registry = load_registry(registry_dir)
    except RegistryError as err:
        problems = [{"where": p.where, "message": p.message} for p in err.problems]
        if wants_json(output_format, as_json):
            print_json({"ok": False, "problems": problems, "subjects": []})
        else:
            click.echo(str(err))
        raise Refused from None
    subjects = [
        {"name": s.name, "versions": list(s.versions), "compatibility": s.compatibility.value, "table": s.table}
        for s in registry
    ]
    if wants_json(output_format, as_json):
        print_json({"ok": True, "problems": [], "subjects": subjects})
        return
    for item in subjects:
        versions = ", ".join(f"v{v}" for v in item["versions"])
        click.echo(f"ok  {item['name']}: {versions} ({item['compatibility']}, table {item['table']})")


@cli.command()
@registry_option
@format_option
def subjects(registry_dir: Path | None, output_format: str, as_json: bool) -> None:
    """List the registry's subjects, their versions and modes."""
    found = [
        {"name": s.name, "versions": list(s.versions), "compatibility": s.compatibility.value}
        for s in load_registry(registry_dir)
    ]
    if wants_json(output_format, as_json):
        print_json(found)
        return
    for item in found:
        click.echo(f"{item['name']}\t{','.join(map(str, item['versions']))}\t{item['compatibility']}")


FROM_HINT = (
    "hint: records without a schema_version field need --from N, the version they were written with "
    "(e.g. --from 1 for data from before versioning)"
)


@cli.command()
@click.argument("subject_name", metavar="SUBJECT")
@click.argument("data_file", type=click.Path(path_type=Path))
@click.option("--version", "version", type=int, help="Validate every record against this version.")
@click.option(
    "--input-format", "fmt", type=click.Choice(DATA_FORMATS), help="The data file's format, if not its extension's."
)
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--max-errors", type=click.IntRange(min=0), default=100, show_default=True, help="0: print all.")
@max_block_option
@format_option
@registry_option
def validate(
    subject_name: str,
    data_file: Path,
    version: int | None,
    fmt: str | None,
    batch_size: int,
    max_errors: int,
    max_block_bytes: int | None,
    output_format: str,
    as_json: bool,
    registry_dir: Path | None,
) -> None:
    """Validate a data file (JSON Lines, Avro, Parquet) against a subject version.

    Without --version, each record's own schema_version chooses the version, else the newest. Every error of
    every record is printed on stdout as FILE, line|record N: FIELD: MESSAGE (a line that is not JSON is
    reported as such, and the rest of the file is still checked); the exit code is 1 if any record is invalid.
    """
    from versioning.datafiles.service import RecordProblem, validate_data_file

    subject = load_registry(registry_dir, [subject_name]).subject(subject_name)
    json_out = wants_json(output_format, as_json)
    printed = 0
    problems: list[dict[str, Any]] = []

    def show(problem: RecordProblem) -> None:
        nonlocal printed
        for line, error in zip(problem.lines(data_file), problem.errors, strict=True):
            if not max_errors or printed < max_errors:
                if json_out:
                    problems.append({"position": problem.position, "where": problem.where, "error": error})
                else:
                    click.echo(line)
            printed += 1

    report = validate_data_file(
        subject,
        data_file,
        version,
        data_format=fmt,
        batch_size=batch_size,
        on_problem=show,
        max_block_bytes=max_block_bytes,
    )
    hidden = printed - max_errors if max_errors and printed > max_errors else 0
    if json_out:
        print_json(
            {
                "file": str(data_file),
                "subject": subject.name,
                "records": report.records,
                "invalid": report.invalid,
                "errors": problems,
                "errors_not_shown": hidden,
            }
        )
    else:
        if hidden:
            click.echo(f"... {hidden} more errors not shown (use --max-errors 0)")
        click.echo(report.summary())
    if report.invalid:
        raise Refused


@cli.command()
@click.argument("subject_name", metavar="SUBJECT")
@click.argument("input_file", type=click.Path(path_type=Path))
@click.argument("output_file", type=click.Path(path_type=Path))
@click.option("--to", "to_version", type=int, required=True, help="The version to move every record to.")
@click.option(
    "--from",
    "from_version",
    type=int,
    help="The version of records without a schema_version field (data written before versioning: 1).",
)
@click.option("--input-format", "fmt", type=click.Choice(DATA_FORMATS), help="Input format, if not its extension's.")
@click.option(
    "--output-format", "out_fmt", type=click.Choice(DATA_FORMATS), help="Output format, if not its extension's."
)
@click.option("--rejects", type=click.Path(path_type=Path), help="Write invalid records here (JSON Lines).")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@max_block_option
@overwrite_option
@format_option
@registry_option
def upgrade(
    subject_name: str,
    input_file: Path,
    output_file: Path,
    to_version: int,
    from_version: int | None,
    fmt: str | None,
    out_fmt: str | None,
    rejects: Path | None,
    batch_size: int,
    max_block_bytes: int | None,
    overwrite: bool,
    output_format: str,
    as_json: bool,
    registry_dir: Path | None,
) -> None:
    """Move every record of a data file to another version (up or down), validating before and after.

    Each record starts at its own schema_version, else --from. An invalid record is never dropped silently:
    without --rejects nothing is written and every error is listed (exit 1); with --rejects, valid records go
    to OUTPUT, invalid ones with their errors to the rejects file, and the exit code is 1. OUTPUT (and the
    rejects file) must not exist yet, unless --overwrite is given.
    """
    from versioning.datafiles.service import RecordProblem, RecordsRejected, upgrade_data_file

    json_out = wants_json(output_format, as_json)
    refuse_existing(output_file, overwrite)
    refuse_existing(rejects, overwrite)
    subject = load_registry(registry_dir, [subject_name]).subject(subject_name)
    problems: list[dict[str, Any]] = []
    needs_from = [False]

    def show(problem: RecordProblem) -> None:
        for line, error in zip(problem.lines(input_file), problem.errors, strict=True):
            needs_from[0] = needs_from[0] or "has no 'schema_version' field" in error
            if json_out:
                problems.append({"position": problem.position, "where": problem.where, "error": error})
            else:
                click.echo(line)

    def finish(written: int, rejected: int) -> None:
        if needs_from[0] and from_version is None:
            click.echo(FROM_HINT, err=True)
        if json_out:
            print_json(
                {
                    "source": str(input_file),
                    "target": str(output_file) if written or not rejected or rejects else None,
                    "subject": subject.name,
                    "to_version": to_version,
                    "written": written,
                    "rejected": rejected,
                    "errors": problems,
                }
            )

    try:
        report = upgrade_data_file(
            subject,
            input_file,
            output_file,
            to_version,
            from_version,
            input_format=fmt,
            output_format=out_fmt,
            rejects=rejects,
            batch_size=batch_size,
            on_problem=show,
            max_block_bytes=max_block_bytes,
        )
    except RecordsRejected as rejected:
        finish(0, len(rejected.report.rejected))
        if not json_out:
            click.echo(f"{input_file}: nothing written ({len(rejected.report.rejected)} records cannot be upgraded)")
        raise Refused from None
    finish(report.written, len(report.rejected))
    if not json_out:
        click.echo(report.summary())
    if report.rejected:
        raise Refused


class _MigrateGroup(click.Group):
    """``migrate sql|current|upgrade|downgrade``; ``migrate SUBJECT --from N --to N`` still means ``sql``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["sql", *args]
        return super().resolve_command(ctx, args)


@cli.group(cls=_MigrateGroup)
def migrate() -> None:
    """SQL migrations: the script (offline), or applied to a database by URL with a version table.

    \b
    migrate sql SUBJECT --from N --to N [--dialect D]   the script, as text (also: migrate SUBJECT --from ...)
    migrate current SUBJECT --url URL                  the version the database records for the table
    migrate upgrade SUBJECT [--to N] --url URL         move the table up (default: the newest version)
    migrate downgrade SUBJECT --to N --url URL         move the table down

    The URL is a SQLAlchemy URL; pass it in $VERSIONING_DATABASE_URL to keep a password out of process lists.
    """


@migrate.command("sql")
@click.argument("subject_name", metavar="SUBJECT")
@click.option("--from", "from_version", type=int, required=True, help="The table's current version.")
@click.option("--to", "to_version", type=int, required=True, help="The version to move the table to.")
@click.option(
    "--dialect",
    type=click.Choice(["postgresql", "sqlite", "mysql", "bigquery"]),
    default="postgresql",
    show_default=True,
)
@out_option
@overwrite_option
@registry_option
def migrate_sql(
    subject_name: str,
    from_version: int,
    to_version: int,
    dialect: str,
    output: Path | None,
    overwrite: bool,
    registry_dir: Path | None,
) -> None:
    """Print the SQL script that moves a subject's table from one version to another (up or down)."""
    from versioning.migrations import migration_sql

    refuse_existing(output, overwrite)
    subject = load_registry(registry_dir, [subject_name]).subject(subject_name)
    _emit(migration_sql(subject, from_version, to_version, dialect), output)


url_option = click.option(
    "--url",
    envvar="VERSIONING_DATABASE_URL",
    required=True,
    help="The database, as a SQLAlchemy URL (postgresql+psycopg://..., mysql+pymysql://..., sqlite:///file). "
    "[env: VERSIONING_DATABASE_URL]",
)
namespace_option = click.option(
    "--schema", "namespace", help="The PostgreSQL schema or MySQL database of the table (default: the URL's)."
)


@migrate.command("current")
@click.argument("subject_name", metavar="SUBJECT")
@url_option
@namespace_option
@format_option
@registry_option
def migrate_current(
    subject_name: str,
    url: str,
    namespace: str | None,
    output_format: str,
    as_json: bool,
    registry_dir: Path | None,
) -> None:
    """Print the version the database records for the subject's table (exit 1 when it records none)."""
    from versioning.migrations.database import current_version, open_database

    subject = load_registry(registry_dir, [subject_name]).subject(subject_name)
    engine = open_database(url)
    try:
        found = _on_database(lambda: current_version(engine, subject, schema=namespace), engine)
    finally:
        engine.dispose()
    if wants_json(output_format, as_json):
        print_json({"subject": subject.name, "table": subject.table, "version": found, "latest": subject.latest})
    elif found is None:
        click.echo(f"{subject.name}: no version recorded for table {subject.table!r}")
    else:
        click.echo(f"{subject.name}: v{found} (latest v{subject.latest})")
    if found is None:
        raise Refused


def _move_table(
    subject_name: str,
    to_version: int | None,
    from_version: int | None,
    url: str,
    namespace: str | None,
    registry_dir: Path | None,
    direction: str,
    json_out: bool,
) -> None:
    from versioning.migrations.database import current_version, migrate_database, open_database

    subject = load_registry(registry_dir, [subject_name]).subject(subject_name)
    target = subject.version_number(to_version if to_version is not None else subject.latest)
    engine = open_database(url)
    try:
        recorded = _on_database(lambda: current_version(engine, subject, schema=namespace), engine)
        start = recorded if recorded is not None else from_version
        if start is not None and (target < start if direction == "upgrade" else target > start):
            raise click.UsageError(
                f"{direction} goes {'up' if direction == 'upgrade' else 'down'}, but the table is at v{start} "
                f"and --to is v{target}; use '{'downgrade' if direction == 'upgrade' else 'upgrade'}'"
            )
        done = _on_database(
            lambda: migrate_database(engine, subject, target, from_version=from_version, schema=namespace), engine
        )
    finally:
        engine.dispose()
    if json_out:
        print_json(
            {
                "subject": done.subject,
                "table": done.table,
                "from_version": done.from_version,
                "to_version": done.to_version,
                "created": done.from_version is None,
                "statements": done.statements,
            }
        )
    else:
        click.echo(str(done))


@migrate.command("upgrade")
@click.argument("subject_name", metavar="SUBJECT")
@click.option("--to", "to_version", type=int, help="The version to move the table to (default: the newest).")
@click.option("--from", "from_version", type=int, help="Only for a table whose version is not recorded yet.")
@url_option
@namespace_option
@format_option
@registry_option
def migrate_upgrade(
    subject_name: str,
    to_version: int | None,
    from_version: int | None,
    url: str,
    namespace: str | None,
    output_format: str,
    as_json: bool,
    registry_dir: Path | None,
) -> None:
    """Move the subject's table up to a version on the database, and record it (one transaction where the
    database allows it). A table that does not exist is created at that version."""
    json_out = wants_json(output_format, as_json)
    _move_table(subject_name, to_version, from_version, url, namespace, registry_dir, "upgrade", json_out)


@migrate.command("downgrade")
@click.argument("subject_name", metavar="SUBJECT")
@click.option("--to", "to_version", type=int, required=True, help="The version to move the table back to.")
@click.option("--from", "from_version", type=int, help="Only for a table whose version is not recorded yet.")
@url_option
@namespace_option
@format_option
@registry_option
def migrate_downgrade(
    subject_name: str,
    to_version: int,
    from_version: int | None,
    url: str,
    namespace: str | None,
    output_format: str,
    as_json: bool,
    registry_dir: Path | None,
) -> None:
    """Move the subject's table down to a version on the database, and record it."""
    json_out = wants_json(output_format, as_json)
    _move_table(subject_name, to_version, from_version, url, namespace, registry_dir, "downgrade", json_out)


T = TypeVar("T")


def _on_database(call: Callable[[], T], engine: Any) -> T:
    """Run a database call; a failure to reach the database is an error with the URL, password hidden."""
    import sqlalchemy as sa

    from versioning.migrations import MigrationError

    try:
        return call()
    except MigrationError as err:
        if "failed:" in str(err):  # the database refused a statement: the answer is no
            click.echo(f"error: {err}", err=True)
            raise Refused from None
        raise
    except sa.exc.DBAPIError as err:
        shown = engine.url.render_as_string(hide_password=True)
        raise MigrationError(f"the database {shown} failed: {err.orig}") from None


@cli.command()
@click.argument("subject_name", metavar="SUBJECT")
@click.argument("version_argument", metavar="[VERSION]", type=int, required=False)
@click.option("--version", "version", type=int, help="The version to export (the same as VERSION) [default: newest].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["avro", "bigquery", "json-schema"]),
    default="avro",
    show_default=True,
    help="avro: .avsc; bigquery: a BigQuery JSON table schema; json-schema: JSON Schema 2020-12.",
)
@out_option
@overwrite_option
@registry_option
def export(
    subject_name: str,
    version_argument: int | None,
    version: int | None,
    fmt: str,
    output: Path | None,
    overwrite: bool,
    registry_dir: Path | None,
) -> None:
    """Export a subject version's schema to another format (--format is the format of the document written)."""
    from versioning.exports import export_schema

    if version is not None and version_argument is not None and version != version_argument:
        raise click.UsageError(f"VERSION {version_argument} and --version {version} disagree; give one")
    refuse_existing(output, overwrite)
    subject = load_registry(registry_dir, [subject_name]).subject(subject_name)
    chosen = version if version is not None else version_argument
    _emit(export_schema(subject.schema(chosen if chosen is not None else subject.latest), fmt), output)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from versioning.datafiles import atomic_output

    with atomic_output(output) as handle:
        handle.write(text.encode("utf-8"))
    click.echo(f"wrote {output}", err=True)


LEGACY_USERS = [
    {"id": "u-001", "name": "Ana Pérez", "created_at": "2023-03-01T09:30:00Z"},
    {"id": "u-002", "name": "Bruno Díaz", "created_at": "2023-07-15T17:05:00Z"},
    {"id": "u-003", "name": "Chen Li", "created_at": "2024-01-20T08:00:00Z"},
]


@cli.command()
@registry_option
def demo(registry_dir: Path | None) -> None:
    """Walk through the naive manager's flow on the users subject: validate legacy v1 data, upgrade it to v3,
    validate again, and show the PostgreSQL migration for the same move."""
    from versioning.facade import DataVersionManager

    manager = DataVersionManager(load_registry(registry_dir, ["users"]), "users")
    click.echo(f"users subject: versions {manager.versions}, mode {manager.subject.compatibility.value}\n")
    click.echo("1. Validate legacy v1 records against v1:")
    for record in LEGACY_USERS:
        click.echo(f"   {record['id']}: {manager.validate_schema(record, version=1)}")
    click.echo("\n   ...and against v3 as they are (v3's new fields are nullable with defaults):")
    for record in LEGACY_USERS[:1]:
        click.echo(f"   {record['id']}: {manager.validate_schema(record, version=3)}")
    click.echo("\n2. Upgrade them to v3 (updated_at starts as created_at; email and phone are null):")
    upgraded = [manager.upgrade_data(record, 3) for record in LEGACY_USERS]
    for record in upgraded:
        click.echo(f"   {json.dumps(record, ensure_ascii=False)}")
    click.echo("\n3. Validate the upgraded records (their own schema_version, 3, picks the version):")
    results = [manager.validate_schema(record) for record in upgraded]
    for record, result in zip(upgraded, results, strict=True):
        click.echo(f"   {record['id']}: {result}")
    click.echo("\n4. Downgrade back to v1 (only added fields: the originals come back):")
    back = [manager.upgrade_data(record, 1) for record in upgraded]
    same = all(
        {k: v for k, v in b.items() if k != "schema_version"} == o for b, o in zip(back, LEGACY_USERS, strict=True)
    )
    click.echo(f"   round trip identical: {same}")
    click.echo("\n5. The table migration v1 -> v3 for PostgreSQL:\n")
    click.echo(manager.create_migration_script(1, 3, "postgresql"))
    if not (same and all(r["valid"] for r in results)):
        raise Refused


def _versioning_error(error: BaseException) -> int:
    print_error(str(error))
    return ExitCode.BAD_INPUT


def main(argv: list[str] | None = None, prog_name: str = "versioning") -> int:
    """Run the CLI; returns the exit code (0 ok, 1 no, 2 bad input, 130 interrupted)."""
    from versioning.errors import VersioningError

    return run(cli, argv, prog_name, errors=[(VersioningError, _versioning_error)])
