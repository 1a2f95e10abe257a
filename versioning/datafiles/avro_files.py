"""Avro object container files, read lazily block by block and written in blocks with fastavro."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fastavro

from versioning.datafiles.avro_container import read_container
from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.batch import Batch
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.progress import Report
from versioning.datafiles.record_check import check_record

CODEC = "deflate"
"""Block compression for written files: zlib, in every Avro implementation and in the standard library."""


def read_avro(
    path: Path, source: BinaryIO, *, batch_size: int, report: Report, max_block_bytes: int | None = None
) -> Iterator[Batch]:
    """Yield the records of an open Avro container file, decoded with the schema in its header.

    The file is framed defensively (:mod:`versioning.datafiles.avro_container`): bad magic, an unknown codec, a
    truncated or oversized block, a wrong sync marker, a wrong record count or undecodable data raise
    :class:`DataFileError` naming the file and the first record that could not be read. No block inflates to
    more than ``max_block_bytes`` (default :data:`~versioning.datafiles.avro_container.DEFAULT_MAX_BLOCK_BYTES`).
    """
    records: list[dict[str, Any]] = []
    first = 1
    for position, record in enumerate(read_container(path, source, max_block_bytes=max_block_bytes), start=1):
        records.append(record)
        if len(records) >= batch_size:
            yield Batch(records, first)
            report(source.tell())
            first, records = position + 1, []
    if records:
        yield Batch(records, first)
    report(source.tell())


def write_avro(
    path: Path, target: BinaryIO, batches: Iterable[list[dict[str, Any]]], *, schema: AvroSchema, report: Report
) -> int:
    """Write an Avro container file (deflate blocks) with ``schema`` in its header; returns the count."""
    writer = fastavro.write.Writer(target, schema.parsed, codec=CODEC)
    count = 0
    for records in batches:
        for record in records:
            count += 1
            check_record(record, schema, path, count)
            try:
                writer.write(record)
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                raise DataFileError(
                    path, f"cannot be written with the schema ({_reason(exc)}); fix the record", position=count
                ) from exc
        report(count)
    writer.flush()
    return count


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
