"""Which kind of data file a path holds: JSON Lines, Avro object container, or Parquet."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from versioning.datafiles.errors import DataFileError


class DataFormat(StrEnum):
    """A data file format the versioning tools read and write."""

    JSONL = "jsonl"
    """JSON Lines: one JSON object per line, UTF-8 (``.jsonl``, ``.ndjson``, ``.json-lines``)."""
    AVRO = "avro"
    """Avro object container file, with its writer schema in the header (``.avro``)."""
    PARQUET = "parquet"
    """Apache Parquet, columnar (``.parquet``, ``.pq``)."""


_BY_SUFFIX: dict[str, DataFormat] = {
    ".jsonl": DataFormat.JSONL,
    ".ndjson": DataFormat.JSONL,
    ".json-lines": DataFormat.JSONL,
    ".avro": DataFormat.AVRO,
    ".parquet": DataFormat.PARQUET,
    ".pq": DataFormat.PARQUET,
}

# Names accepted for an explicit ``--format``: the format names plus the extensions without their dot.
_BY_NAME: dict[str, DataFormat] = {
    **{fmt.value: fmt for fmt in DataFormat},
    **{suffix.removeprefix("."): fmt for suffix, fmt in _BY_SUFFIX.items()},
}


def detect_format(path: Path | str, explicit: str | None = None) -> DataFormat:
    """Return the format of ``path``: ``explicit`` when given (e.g. from ``--format``), else its extension.

    Extensions are matched case-insensitively: ``.jsonl``, ``.ndjson``, ``.json-lines``, ``.avro``,
    ``.parquet``, ``.pq``. Raises :class:`DataFileError` naming the known ones when neither says a format.
    """
    path = Path(path)
    if explicit is not None:
        fmt = _BY_NAME.get(str(explicit).strip().lower())
        if fmt is None:
            known = ", ".join(fmt.value for fmt in DataFormat)
            raise DataFileError(path, f"unknown format {explicit!r}; use one of: {known}")
        return fmt
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(_BY_SUFFIX)
        found = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise DataFileError(
            path,
            f"cannot tell the data format from {found}; known extensions: {known}. "
            "Rename the file or name the format with --format (jsonl, avro or parquet)",
        )
    return fmt
