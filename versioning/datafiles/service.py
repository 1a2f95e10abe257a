"""The data-file operations, one service function each: validate a file, upgrade a file.

Every caller goes through these (the CLI's ``validate`` and ``upgrade``, the Airflow task of
``dags/versioning_upgrade.py``, anything else), so a record's problems are found and reported the same way
everywhere: each as a :class:`RecordProblem` with its position, its place (line or record number) and every
error, passed to the caller's ``on_problem`` as it is found, and counted in the report.

The Airflow DAG maps one task per file over :func:`list_data_files` and runs :func:`upgrade_one_file` in each;
this module needs no Airflow, so it is tested (and usable) without it. Outputs are written atomically, so a task
that is retried or killed part way never leaves a half-written file behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from versioning.datafiles.atomic import atomic_output
from versioning.datafiles.batch import Batch
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.formats import DataFormat, detect_format
from versioning.datafiles.streaming import DEFAULT_BATCH_SIZE, read_batches, write_batches
from versioning.datafiles.upgrade import BATCH_SIZE, upgrade_file
from versioning.errors import VersioningError
from versioning.registry import Registry, Subject
from versioning.upgrade.pipeline import RowPipeline

DATA_SUFFIXES = (".parquet", ".pq", ".avro")
"""The file kinds the Airflow task upgrades."""


@dataclass(frozen=True)
class RecordProblem:
    """A record a data-file operation could not take, and why."""

    position: int
    """The record's number in the file, from 1."""
    where: str
    """Where to look in the file: ``line 3`` (JSON Lines) or ``record 3``."""
    errors: list[str]
    """Every error, each naming its field path (``v1: name: missing required field``)."""
    record: Any

    def lines(self, path: Path | str) -> list[str]:
        """The problem as the CLI prints it: one ``FILE, line N: ERROR`` line per error."""
        return [f"{path}, {self.where}: {error}" for error in self.errors]


OnProblem = Callable[[RecordProblem], None]


@dataclass
class ValidationReport:
    """What :func:`validate_data_file` found."""

    path: Path
    subject: str
    records: int = 0
    invalid: int = 0

    def summary(self) -> str:
        """``FILE: N records, M invalid (SUBJECT)``."""
        return f"{self.path}: {self.records} records, {self.invalid} invalid ({self.subject})"


@dataclass
class UpgradeReport:
    """What :func:`upgrade_data_file` did."""

    source: Path
    target: Path
    subject: str
    to_version: int
    from_version: int | None
    written: int = 0
    rejected: list[RecordProblem] = field(default_factory=list)
    file_path: bool = False
    """Whether the file-level fast path (Arrow columns, Avro record bytes) did the work."""

    def summary(self) -> str:
        """``TARGET: N records at SUBJECT vX (M rejected)``."""
        moved = f"{self.written} records at {self.subject} v{self.to_version}"
        return f"{self.target}: {moved} ({len(self.rejected)} rejected)"


class RecordsRejected(VersioningError):
    """Records could not be upgraded and no rejects file was given: nothing was written."""

    def __init__(self, report: UpgradeReport, shown: int = 5) -> None:
        self.report = report
        count = len(report.rejected)
        lines = [f"{report.source}: {count} record{'s' if count != 1 else ''} cannot be upgraded; nothing written:"]
        for problem in report.rejected[:shown]:
            lines += [f"  {line}" for line in problem.lines(report.source)]
        if count > shown:
            lines.append(f"  ... and {count - shown} more")
        super().__init__("\n".join(lines))


def validate_data_file(
    subject: Subject,
    path: Path | str,
    version: int | None = None,
    *,
    data_format: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_problem: OnProblem | None = None,
    max_block_bytes: int | None = None,
) -> ValidationReport:
    """Validate every record of a data file; each invalid one goes to ``on_problem`` as it is found.

    Without ``version`` each record's own ``schema_version`` chooses its version, else the newest. A JSON Lines
    line that holds no record (not UTF-8, not JSON, not an object) is an invalid record too, reported as such,
    and the lines after it are still checked. A binary file that is corrupt raises :class:`DataFileError`.
    """
    path = Path(path)
    report = ValidationReport(path, subject.name)
    read_as = subject.version_number(version) if version is not None else subject.latest
    batches = read_batches(
        path,
        data_format,
        batch_size=batch_size,
        schema=subject.schema(read_as),
        max_block_bytes=max_block_bytes,
        unreadable_lines=True,
    )
    for batch in batches:
        found = _unreadable_problems(batch)
        for index, record in enumerate(batch.records):
            errors = _record_errors(subject, record, version)
            if errors:
                found.append(RecordProblem(batch.position(index), batch.where(index), errors, record))
        report.records += len(batch.records) + len(batch.unreadable)
        report.invalid += len(found)
        if on_problem is not None:
            for problem in sorted(found, key=lambda p: p.position):
                on_problem(problem)
    return report


def _unreadable_problems(batch: Batch) -> list[RecordProblem]:
    return [RecordProblem(u.line, f"line {u.line}", [u.message], u.text) for u in batch.unreadable]


def upgrade_data_file(
    subject: Subject,
    source: Path | str,
    target: Path | str,
    to_version: int,
    from_version: int | None = None,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    rejects: Path | str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_problem: OnProblem | None = None,
    max_block_bytes: int | None = None,
) -> UpgradeReport:
    """Move every record of a data file to ``to_version`` (up or down), validating before and after.

    Each record starts at its own ``schema_version``, else ``from_version``. A record that is invalid or cannot
    move is never dropped silently: it goes to ``on_problem``, and then without ``rejects`` nothing is written
    and :class:`RecordsRejected` is raised; with ``rejects`` the others are written to ``target`` and the
    rejected ones, with their errors, to ``rejects`` (JSON Lines), and the report lists them.

    With ``from_version``, Avro to Avro and Parquet to Parquet take the file-level fast path (record bytes,
    Arrow columns); on any problem it writes nothing and the record-by-record path runs instead, to find every
    problem with its record and field. A JSON Lines line that holds no record is rejected like an invalid one
    (its text goes to ``rejects``); a corrupt binary file raises :class:`DataFileError` and writes nothing.
    ``max_block_bytes`` bounds what one Avro block may inflate to.
    """
    source, target = Path(source), Path(target)
    to = subject.version_number(to_version)
    start = subject.version_number(from_version) if from_version is not None else None
    report = UpgradeReport(source, target, subject.name, to, start)
    in_format, out_format = detect_format(source, input_format), detect_format(target, output_format)
    if start is not None and in_format == out_format and in_format is not DataFormat.JSONL and rejects is None:
        try:
            done = upgrade_file(
                subject,
                source,
                target,
                to,
                start,
                batch_size=batch_size,
                data_format=input_format,
                max_block_bytes=max_block_bytes,
            )
        except VersioningError:
            pass  # nothing written; the record path below finds every problem
        else:
            report.written, report.file_path = done.rows, True
            return report
    pipeline = RowPipeline(subject, start, to) if start is not None else None

    def upgraded() -> Iterator[list[dict[str, Any]]]:
        read_as = subject.schema(start if start is not None else subject.latest)
        batches = read_batches(
            source,
            input_format,
            batch_size=batch_size,
            schema=read_as,
            max_block_bytes=max_block_bytes,
            unreadable_lines=True,
        )
        for batch in batches:
            for problem in _unreadable_problems(batch):
                report.rejected.append(problem)
                if on_problem is not None:
                    on_problem(problem)
            if pipeline is not None and not batch.unreadable:
                fast = pipeline.run(batch.records)
                if not fast.invalid and not fast.invalid_output:
                    yield fast.records
                    continue
            # Something is wrong in this batch: redo it record by record, so every problem is the reference's.
            out: list[dict[str, Any]] = []
            for index, record in enumerate(batch.records):
                moved, errors = _move(subject, record, start, to)
                if moved is None or errors:
                    problem = RecordProblem(batch.position(index), batch.where(index), errors, _jsonable(record))
                    report.rejected.append(problem)
                    if on_problem is not None:
                        on_problem(problem)
                else:
                    out.append(moved)
            yield out
        if report.rejected and rejects is None:
            raise RecordsRejected(report)  # inside the stream, so the output file is abandoned, not completed

    report.written = write_batches(target, upgraded(), schema=subject.schema(to), fmt=output_format)
    if report.rejected and rejects is not None:
        with atomic_output(Path(rejects)) as handle:
            for problem in report.rejected:
                entry = {"position": problem.position, "errors": problem.errors, "record": problem.record}
                handle.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
    return report


def list_data_files(input_folder: str | Path, pattern: str = "*") -> list[str]:
    """The Parquet and Avro files under ``input_folder`` whose names match ``pattern``, sorted.

    Hidden files (``.name``, such as the temporary files of an interrupted write) are left out.
    """
    folder = Path(input_folder)
    if not folder.is_dir():
        raise DataFileError(folder, "the input folder does not exist; check the 'input' parameter")
    return sorted(
        str(p)
        for p in folder.rglob(pattern)
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not any(part.startswith(".") for part in p.parts)
    )


def output_path(source: str | Path, input_folder: str | Path, output_folder: str | Path) -> Path:
    """Where the upgraded form of ``source`` goes: the same relative path under ``output_folder``."""
    relative = Path(source).resolve().relative_to(Path(input_folder).resolve())
    return Path(output_folder) / relative


def upgrade_one_file(
    source: str,
    *,
    registry: str,
    subject: str,
    from_version: int,
    to_version: int,
    input_folder: str,
    output_folder: str,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """The Airflow task: upgrade one file of ``subject`` into ``output_folder`` with :func:`upgrade_data_file`.

    Returns a JSON-ready summary for the task log (source, target, format, rows, versions). Bad input raises a
    :class:`~versioning.errors.VersioningError` naming the file, record and field (:class:`RecordsRejected`
    lists the records that cannot be upgraded), so the task fails with a message a person can act on.
    """
    found = Registry.load(registry, [subject]).subject(subject)  # one task, one subject: nothing else is read
    target = output_path(source, input_folder, output_folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    done = upgrade_data_file(found, source, target, to_version, from_version, batch_size=batch_size)
    return {
        "source": str(done.source),
        "target": str(done.target),
        "format": detect_format(done.source).value,
        "rows": done.written,
        "from_version": from_version,
        "to_version": done.to_version,
    }


def _record_errors(subject: Subject, record: Any, version: int | None) -> list[str]:
    try:
        _, errors = subject.validate(record, version)
    except VersioningError as err:
        return [str(err)]
    return [str(e) for e in errors]


def _move(subject: Subject, record: Any, start: int | None, target: int) -> tuple[dict[str, Any] | None, list[str]]:
    """One record validated, moved and validated again (the reference path); errors instead of exceptions."""
    try:
        version = subject.record_version(record, start) if isinstance(record, dict) else start or subject.latest
        _, errors = subject.validate(record, version)
        if errors:
            return None, [f"v{version}: {e}" for e in errors]
        moved = subject.convert(record, target, version)
        _, errors = subject.validate(moved, target)
        return moved, [f"after upgrade to v{target}: {e}" for e in errors]
    except VersioningError as err:
        return None, [str(err)]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
