"""Errors about data files: which file, which line or record, what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path

from versioning.errors import VersioningError


class DataFileError(VersioningError):
    """A data file cannot be read or written.

    ``str()`` names the file, the line (JSON Lines input) or record (Avro, Parquet, and every output) and
    the fix, e.g. ``data/users.jsonl, line 17: not valid JSON (Expecting ',' delimiter at column 12); fix or
    remove the line``.
    """

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        position: int | None = None,
        unit: str = "record",
        field: str | None = None,
    ) -> None:
        self.path = Path(path)
        """The data file, as the caller named it."""
        self.position = position
        """1-based line number (``unit == "line"``) or record number (``unit == "record"``), if known."""
        self.unit = unit
        """What :attr:`position` counts: ``"line"`` or ``"record"``."""
        self.field = field
        """The field the problem is in, as fastavro or pyarrow name it, when known."""
        self.message = message
        """What is wrong and how to fix it."""
        super().__init__(str(self))

    @property
    def where(self) -> str:
        """The file and, when known, the line or record: ``data/users.jsonl, line 17``."""
        if self.position is None:
            return str(self.path)
        return f"{self.path}, {self.unit} {self.position}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ParquetSchemaError(VersioningError):
    """An Avro schema uses something Parquet cannot store (e.g. a union of several non-null types)."""

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        """JSON pointer into the Avro schema, e.g. ``/fields/3/type``."""
        self.message = message
        """What cannot be stored and what to do instead."""
        super().__init__(f"schema{'#' + location if location else ''}: {message}")
