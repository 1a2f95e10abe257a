"""A slice of a data file's records, with where each one came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UnreadableLine:
    """A line of a JSON Lines file that holds no record (not UTF-8, not JSON, not an object), and why."""

    line: int
    """The 1-based line number."""
    message: str
    """What is wrong with it and how to fix it."""
    text: str
    """The line as text (bytes that are not UTF-8 replaced), for a rejects file."""


@dataclass
class Batch:
    """Records read from a data file, in file order, with their positions for error messages.

    A position is the 1-based line number for JSON Lines and the 1-based record number for Avro and
    Parquet, so a message can say ``line 17`` or ``record 17``.
    """

    records: list[dict[str, Any]]
    """The records, as the Python values fastavro reads and writes."""
    first_position: int
    """Position of ``records[0]``."""
    unit: str = "record"
    """What positions count: ``"line"`` (JSON Lines) or ``"record"``."""
    positions: list[int] | None = None
    """Position of every record when they are not consecutive (JSON Lines with blank lines between);
    ``None`` means ``records[i]`` is at ``first_position + i``."""
    unreadable: list[UnreadableLine] = field(default_factory=list)
    """Lines among these that hold no record, when the reader was asked to go on past them."""

    def position(self, index: int) -> int:
        """The line or record number of ``records[index]``."""
        if self.positions is not None:
            return self.positions[index]
        return self.first_position + index

    def where(self, index: int) -> str:
        """``"line 17"`` or ``"record 17"`` for ``records[index]``."""
        return f"{self.unit} {self.position(index)}"

    def __len__(self) -> int:
        return len(self.records)
