"""Read and write data files in batches, whatever their format, with bounded memory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from versioning.datafiles.arrow_types import arrow_schema
from versioning.datafiles.atomic import atomic_output
from versioning.datafiles.avro_files import read_avro, write_avro
from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.batch import Batch
from versioning.datafiles.defaults import default_filler
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.formats import DataFormat, detect_format
from versioning.datafiles.jsonl_files import read_jsonl, write_jsonl
from versioning.datafiles.parquet_files import open_parquet, read_parquet, write_parquet
from versioning.datafiles.progress import progress_bar, wants_progress

DEFAULT_BATCH_SIZE = 10_000
"""Records per batch: large enough to amortise per-batch work, small enough to keep memory flat."""


def read_batches(
    path: Path | str,
    fmt: DataFormat | str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    schema: dict[str, Any] | AvroSchema | None = None,
    progress: bool | None = None,
    max_block_bytes: int | None = None,
    unreadable_lines: bool = False,
) -> Iterator[Batch]:
    """Stream the records of a data file in batches of at most ``batch_size``.

    ``fmt`` overrides the format the extension says (see :func:`detect_format`). ``schema`` is the Avro
    schema the records are meant to have; for JSON Lines it turns the JSON forms of logical types and bytes
    into Python values (see :mod:`versioning.datafiles.json_values`), for Parquet it turns ``uuid`` strings
    into UUIDs. Avro files are always decoded with the schema in their own header, so the records come back
    exactly as written. ``progress`` shows a bar on standard error (default: when it is a terminal).
    ``max_block_bytes`` bounds what one Avro block may inflate to (see
    :mod:`~versioning.datafiles.avro_container`). With ``unreadable_lines``, a JSON Lines line that is not
    UTF-8, not JSON or not an object does not stop the reading: it comes in :attr:`Batch.unreadable`, so every
    problem of the file can be reported.

    The format and the file's existence are checked at once; everything else raises
    :class:`DataFileError` while iterating, naming the line or record.
    """
    path = Path(path)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    data_format = detect_format(path, fmt)
    parsed = _parse(schema, path)
    _check_readable(path)
    return _read(path, data_format, batch_size, parsed, wants_progress(progress), max_block_bytes, unreadable_lines)


def write_batches(
    path: Path | str,
    batches: Iterable[list[dict[str, Any]]],
    *,
    schema: dict[str, Any] | AvroSchema,
    fmt: DataFormat | str | None = None,
    progress: bool | None = None,
) -> int:
    """Write batches of records to ``path`` with ``schema``; returns how many records were written.

    A field a record leaves out is written with its schema default; keys the schema does not name are
    ignored by Avro and Parquet and kept by JSON Lines (e.g. ``schema_version``). Every record is checked
    against ``schema`` first, so an error names the record (1-based, across all batches) and the field.

    The file appears at ``path`` only when everything was written: an error, in a record or raised by
    ``batches`` itself, leaves ``path`` as it was and no temporary file behind. Writing over the file being
    read (an in-place upgrade) is safe for the same reason.
    """
    path = Path(path)
    data_format = detect_format(path, fmt)
    parsed = schema if isinstance(schema, AvroSchema) else AvroSchema.parse(schema, where=f"schema for {path}")
    if path.is_dir():
        raise DataFileError(path, "is a folder; give a file name to write to")
    if data_format is DataFormat.PARQUET:
        arrow_schema(parsed)  # refuse a schema Parquet cannot hold before any record is produced
    fill = default_filler(parsed)
    if fill is not None:
        batches = ([fill(record) for record in records] for records in batches)
    with (
        progress_bar(f"writing {path.name}", total=None, unit="records", enabled=wants_progress(progress)) as report,
        atomic_output(path) as target,
    ):
        if data_format is DataFormat.JSONL:
            return write_jsonl(path, target, batches, schema=parsed, report=report)
        if data_format is DataFormat.AVRO:
            return write_avro(path, target, batches, schema=parsed, report=report)
        return write_parquet(path, target, batches, schema=parsed, report=report)


def _read(
    path: Path,
    data_format: DataFormat,
    batch_size: int,
    schema: AvroSchema | None,
    show: bool,
    max_block_bytes: int | None,
    unreadable_lines: bool,
) -> Iterator[Batch]:
    if data_format is DataFormat.PARQUET:
        # pyarrow reads the file itself (native I/O), faster than through a Python file object.
        with open_parquet(path) as parquet:
            total = parquet.metadata.num_rows
            with progress_bar(f"reading {path.name}", total=total, unit="records", enabled=show) as report:
                yield from read_parquet(path, parquet, batch_size=batch_size, schema=schema, report=report)
        return
    with _open(path) as source:
        size = path.stat().st_size
        with progress_bar(f"reading {path.name}", total=size, unit="bytes", enabled=show) as report:
            if data_format is DataFormat.JSONL:
                yield from read_jsonl(
                    path, source, batch_size=batch_size, schema=schema, report=report, keep_going=unreadable_lines
                )
            else:
                yield from read_avro(
                    path, source, batch_size=batch_size, report=report, max_block_bytes=max_block_bytes
                )


@contextlib.contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    try:
        source = path.open("rb")
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror}); check the path and its permissions") from exc
    with source:
        yield source


def _check_readable(path: Path) -> None:
    if path.is_dir():
        raise DataFileError(path, "is a folder, not a data file; give the path of a file")
    if not path.exists():
        raise DataFileError(path, f"no such file (looked in {path.absolute().parent}); check the path")


def _parse(schema: dict[str, Any] | AvroSchema | None, path: Path) -> AvroSchema | None:
    if schema is None or isinstance(schema, AvroSchema):
        return schema
    return AvroSchema.parse(schema, where=f"schema given for {path}")
