"""The work of one scale-out upgrade task: list a folder's data files, upgrade one file into the output folder.

The Airflow DAG ``dags/versioning_upgrade.py`` maps one task per file over :func:`list_data_files` and runs
:func:`upgrade_one_file` in each, on the Celery worker pools; this module itself needs no Airflow, so it is
tested (and usable) without it. Each output is written atomically, so a task that is retried or killed part
way never leaves a half-written file behind, and re-running a task overwrites its output whole.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from versioning.datafiles.errors import DataFileError
from versioning.fast.files import BATCH_SIZE, upgrade_file
from versioning.registry import Registry

DATA_SUFFIXES = (".parquet", ".pq", ".avro")
"""The file kinds the fast upgrade reads."""


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
    """Upgrade one file of ``subject`` into ``output_folder``; returns a JSON-ready summary for the task log.

    Raises :class:`~versioning.errors.VersioningError` subclasses with the file, record and field for bad
    input, so the task fails with a message a person can act on.
    """
    found = Registry.load(registry).subject(subject)
    target = output_path(source, input_folder, output_folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    done = upgrade_file(found, source, target, to_version, from_version, batch_size=batch_size)
    summary = asdict(done)
    summary.update(source=str(done.source), target=str(done.target), format=done.format.value)
    return summary
