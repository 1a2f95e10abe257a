"""Types of the compiled plain-value scan (versioning/validation/_plain.c)."""

from collections.abc import Sequence
from typing import Any

def records_plain(
    records: Sequence[Any],
    converted: list[Any] | None,
    slots: tuple[tuple[int, str], ...],
    originals: tuple[str, ...],
    leaves: frozenset[type],
    unset: Any,
    /,
) -> bool: ...
def slot_offset(struct_type: type, name: str, /) -> int: ...
