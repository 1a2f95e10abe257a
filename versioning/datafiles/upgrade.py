"""Upgrading whole data files, streamed batch by batch, so memory is bounded by the batch, not the file.

- Parquet: ``ParquetFile.iter_batches`` -> :class:`~versioning.upgrade.columns.ColumnUpgrader` (Arrow operations)
  -> ``ParquetWriter``, one row group per batch, with the file's compression.
- Avro container files: fastavro reads block by block (a file written with another schema than the source
  version is resolved to it, so every record is decoded as a valid record of that version) -> the compiled
  row upgrade -> fastavro writes with the target version and the file's codec.

Output is written atomically (:func:`versioning.datafiles.atomic.atomic_output`): readers see the old file or
the whole new one. An invalid record stops the upgrade with a :class:`DataFileError` naming the file, the record
and the field; nothing is written then.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from versioning.datafiles.atomic import atomic_output
from versioning.datafiles.avro_bytes import NotByteUpgradable, upgrade_avro_bytes
from versioning.datafiles.avro_container import read_container, read_header
from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.formats import DataFormat, detect_format
from versioning.datafiles.parquet_files import check_batch, open_parquet
from versioning.errors import VersioningError
from versioning.registry import Subject
from versioning.upgrade.columns import ColumnUpgrader
from versioning.upgrade.pipeline import RowPipeline
from versioning.validation import RecordErrors
from versioning.validation.columns import InvalidColumnsError

BATCH_SIZE = 65_536
"""Rows per batch: Arrow operations and msgspec calls are amortised well before this; memory stays small."""


PARQUET_READ = {"pre_buffer": False, "buffer_size": 1 << 20}
"""How Parquet is read: pyarrow's default pre-buffering keeps the file's column chunks in memory as it goes
(53 MB held after streaming a 54 MB file); a 1 MiB read buffer keeps memory to the batch being worked on."""


@dataclass(frozen=True)
class FileUpgrade:
    """What an upgraded file was: where from and to, its format, rows, and versions."""

    source: Path
    target: Path
    format: DataFormat
    rows: int
    from_version: int
    to_version: int


def upgrade_file(
    subject: Subject,
    source: str | Path,
    target: str | Path,
    to_version: int,
    from_version: int,
    *,
    batch_size: int = BATCH_SIZE,
    data_format: str | None = None,
    max_block_bytes: int | None = None,
) -> FileUpgrade:
    """Upgrade a Parquet or Avro file of ``subject`` from ``from_version`` to ``to_version`` into ``target``.

    The format comes from the extension unless ``data_format`` names it. ``target`` may not be ``source``.
    ``max_block_bytes`` bounds what one Avro block may inflate to.
    """
    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise DataFileError(target, "the output would overwrite the input; write to another folder or name")
    fmt = detect_format(source, data_format)
    if fmt is DataFormat.PARQUET:
        rows = upgrade_parquet(subject, source, target, to_version, from_version, batch_size=batch_size)
    elif fmt is DataFormat.AVRO:
        rows = upgrade_avro(
            subject, source, target, to_version, from_version, batch_size=batch_size, max_block_bytes=max_block_bytes
        )
    else:
        raise DataFileError(source, f"the fast upgrade reads Parquet and Avro, not {fmt.value}; convert it first")
    return FileUpgrade(source, target, fmt, rows, from_version, to_version)


def upgrade_parquet(
    subject: Subject,
    source: Path,
    target: Path,
    to_version: int,
    from_version: int,
    *,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Upgrade a Parquet file with Arrow operations, a batch at a time; returns the number of rows."""
    upgrader = ColumnUpgrader(subject, from_version, to_version)
    parquet = open_parquet(source, **PARQUET_READ)
    compression = _parquet_compression(parquet)
    rows = 0
    with (
        atomic_output(target) as out,
        pq.ParquetWriter(out, upgrader.target.arrow, compression=compression, write_page_checksum=True) as writer,
    ):
        batches = parquet.iter_batches(batch_size=batch_size)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as exc:  # a page that does not decode, or fails its CRC
                raise DataFileError(
                    source,
                    f"the Parquet file is truncated or corrupt ({exc}); restore it from its source",
                    position=rows + 1,
                ) from exc
            check_batch(source, batch, rows + 1)  # text pages are otherwise copied on unchecked
            try:
                writer.write_batch(upgrader.upgrade(batch, first_row=rows + 1))
            except InvalidColumnsError as exc:
                where = next((e.rows[0] for e in exc.errors if e.rows), rows + 1)
                field = exc.errors[0].path if exc.errors else None
                raise DataFileError(source, f"{exc}; fix the file", position=where, field=field) from exc
            rows += batch.num_rows
    return rows


def _parquet_compression(parquet: pq.ParquetFile) -> str:
    """The input's codec, as ``ParquetWriter`` names it (the footer says UNCOMPRESSED where it wants none)."""
    if parquet.metadata.num_row_groups and parquet.metadata.num_columns:
        codec = str(parquet.metadata.row_group(0).column(0).compression).lower()
        return "none" if codec == "uncompressed" else codec
    return "snappy"


def upgrade_avro(
    subject: Subject,
    source: Path,
    target: Path,
    to_version: int,
    from_version: int,
    *,
    batch_size: int = BATCH_SIZE,
    byte_path: bool = True,
    max_block_bytes: int | None = None,
) -> int:
    """Upgrade an Avro container file; returns the number of records.

    Files the byte path takes (:mod:`versioning.datafiles.avro_bytes`: declarative steps over flat records, written
    with the source version's own schema, codec null or deflate) are rebuilt from their record bytes, block by
    block, without decoding a value. Any other file is decoded by fastavro a batch of records at a time,
    upgraded, and encoded again. ``byte_path=False`` always decodes (to compare the two, or rule one out).
    """
    if byte_path:
        try:
            return upgrade_avro_bytes(
                subject, source, target, to_version, from_version, max_block_bytes=max_block_bytes
            )
        except NotByteUpgradable:
            pass  # nothing written yet; decode instead

    pipeline = RowPipeline(subject, from_version, to_version)
    reader_schema = AvroSchema.parse(subject.schema(from_version), where=f"{subject.name} v{from_version}")
    target_schema = AvroSchema.parse(subject.schema(to_version), where=f"{subject.name} v{to_version}")
    counted = [0]
    with source.open("rb") as handle:
        header = read_header(source, handle)
        # Written with another schema: fastavro resolves each record to the source version (slower per record).
        resolve = None if header.writer_schema == reader_schema.parsed else reader_schema.parsed
        records = read_container(source, handle, reader_schema=resolve, max_block_bytes=max_block_bytes, header=header)
        with atomic_output(target) as out:
            fastavro.writer(
                out, target_schema.parsed, _upgraded(pipeline, records, source, batch_size, counted), codec=header.codec
            )
    return counted[0]


def _upgraded(
    pipeline: RowPipeline, records: Any, source: Path, batch_size: int, counted: list[int]
) -> Iterator[dict[str, Any]]:
    # fastavro decodes every record by the source version's schema, so each one is a valid record of it
    # already; checking again would only cost time. What a call step returns is checked, as in the pipeline.
    upgrade = pipeline.upgrader.upgrade_valid
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, batch_size)):
        try:
            upgraded = upgrade(batch)
        except VersioningError as exc:
            raise _cannot_move(pipeline, batch, source, counted[0]) from exc
        if pipeline.check_output:
            problems = list(pipeline.target.invalid(upgraded, counted[0] + 1))
            if problems:
                raise _invalid(source, problems[0], False)
        counted[0] += len(batch)
        yield from upgraded


def _cannot_move(pipeline: RowPipeline, batch: list[dict[str, Any]], source: Path, before: int) -> DataFileError:
    """The first record of a batch that cannot move (a value a narrower type cannot hold...), as a file error."""
    for index, record in enumerate(batch):
        try:
            pipeline.upgrader.upgrade_valid([record])
        except VersioningError as exc:
            return DataFileError(
                source,
                f"cannot move to v{pipeline.upgrader.to_version}: {exc}; fix the record or the step",
                position=before + index + 1,
            )
    return DataFileError(source, "a record cannot move; upgrade it with Subject.convert to see why")


def _invalid(source: Path, found: RecordErrors, in_input: bool) -> DataFileError:
    what = (
        "is not valid for the source version" if in_input else "is not valid for the target version after the upgrade"
    )
    errors = "; ".join(str(e) for e in found.errors)
    first = found.errors[0].path if found.errors else None
    return DataFileError(source, f"{what}: {errors}; fix the record or the step", position=found.position, field=first)
