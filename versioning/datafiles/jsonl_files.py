"""JSON Lines files: one JSON object per line, UTF-8, read and written a batch at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.batch import Batch, UnreadableLine
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.json_values import json_reader, json_value
from versioning.datafiles.progress import Report
from versioning.datafiles.record_check import check_record

_BOM = b"\xef\xbb\xbf"

_JSON_KIND = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def read_jsonl(
    path: Path,
    source: BinaryIO,
    *,
    batch_size: int,
    schema: AvroSchema | None,
    report: Report,
    keep_going: bool = False,
) -> Iterator[Batch]:
    """Yield the records of an open JSON Lines file; blank lines are skipped but still counted.

    A line that holds no record raises :class:`DataFileError` naming it, unless ``keep_going``: then it is
    listed in its batch's :attr:`~Batch.unreadable` and the reading goes on, so every problem is found.
    """
    convert = json_reader(schema) if schema is not None else None
    records: list[dict[str, Any]] = []
    positions: list[int] = []
    unreadable: list[UnreadableLine] = []
    consumed = 0
    for line_number, raw in enumerate(source, start=1):
        consumed += len(raw)
        if line_number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if not raw.strip():
            continue
        try:
            record = _parse_line(path, line_number, raw)
        except DataFileError as exc:
            if not keep_going:
                raise
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            unreadable.append(UnreadableLine(line_number, exc.message, text))
        else:
            records.append(convert(record) if convert is not None else record)
            positions.append(line_number)
        if len(records) + len(unreadable) >= batch_size:
            yield _batch(records, positions, unreadable)
            report(consumed)
            records, positions, unreadable = [], [], []
    if records or unreadable:
        yield _batch(records, positions, unreadable)
    report(consumed)


def write_jsonl(
    path: Path, target: BinaryIO, batches: Iterable[list[dict[str, Any]]], *, schema: AvroSchema, report: Report
) -> int:
    """Write every record as one line of JSON (see :mod:`json_values` for the forms); returns the count."""
    encoder = json.JSONEncoder(default=json_value, ensure_ascii=False, separators=(",", ":"))
    count = 0
    for records in batches:
        lines = []
        for record in records:
            count += 1
            check_record(record, schema, path, count)
            try:
                lines.append(encoder.encode(record).encode("utf-8"))
            except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) is a ValueError
                raise DataFileError(path, f"cannot be written as JSON ({exc}); fix the record", position=count) from exc
        if lines:
            lines.append(b"")
            target.write(b"\n".join(lines))
        report(count)
    return count


def _parse_line(path: Path, line_number: int, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            path,
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); save the file as UTF-8",
            position=line_number,
            unit="line",
        ) from exc
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            path,
            f"not valid JSON ({exc.msg} at column {exc.colno}); fix or remove the line",
            position=line_number,
            unit="line",
        ) from exc
    except RecursionError as exc:
        raise DataFileError(
            path, "JSON nested too deeply to read; flatten the record", position=line_number, unit="line"
        ) from exc
    if not isinstance(record, dict):
        kind = "null" if record is None else _JSON_KIND.get(type(record), type(record).__name__)
        raise DataFileError(
            path,
            f"is {kind}, not a JSON object; each line must hold one record as a JSON object {{...}}",
            position=line_number,
            unit="line",
        )
    return record


def _batch(records: list[dict[str, Any]], positions: list[int], unreadable: list[UnreadableLine]) -> Batch:
    if not positions:
        return Batch([], unreadable[0].line, unit="line", unreadable=unreadable)
    consecutive = positions[-1] - positions[0] == len(positions) - 1
    shown = None if consecutive else positions
    return Batch(records, positions[0], unit="line", positions=shown, unreadable=unreadable)
