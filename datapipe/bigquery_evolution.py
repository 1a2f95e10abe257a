"""BigQuery's own rules for changing a table's schema in place.

BigQuery changes an existing table's schema in place only by adding NULLABLE (or REPEATED) columns and by
relaxing REQUIRED columns to NULLABLE. Anything else (a dropped, renamed or retyped column, a NULLABLE column
made REQUIRED, a new REQUIRED column) needs the table recreated: a full load does that on its next run (it
replaces the table); an incremental table must be rebuilt by hand or reloaded in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BigQueryChange:
    """One difference between a table's previous and new BigQuery schema."""

    column: str
    message: str
    in_place: bool
    """True when BigQuery applies the change to the existing table."""

    def __str__(self) -> str:
        how = "in place" if self.in_place else "needs the table recreated"
        return f"{self.column}: {self.message} ({how})"


def bigquery_changes(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[BigQueryChange]:
    """Every column-level change from ``previous`` to ``new`` (BigQuery JSON schemas), in column order."""
    old = {f["name"].lower(): f for f in previous}
    changes: list[BigQueryChange] = []
    for field in new:
        name = field["name"]
        before = old.pop(name.lower(), None)
        mode = field.get("mode", "NULLABLE")
        if before is None:
            if mode == "REQUIRED":
                changes.append(BigQueryChange(name, "added as a REQUIRED column", in_place=False))
            else:
                changes.append(BigQueryChange(name, f"added as a {mode} column", in_place=True))
            continue
        if _type(before) != _type(field):
            changes.append(
                BigQueryChange(name, f"type changes from {_type(before)} to {_type(field)}", in_place=False)
            )
        old_mode = before.get("mode", "NULLABLE")
        if old_mode != mode:
            relaxation = old_mode == "REQUIRED" and mode == "NULLABLE"
            changes.append(BigQueryChange(name, f"mode changes from {old_mode} to {mode}", in_place=relaxation))
    for before in old.values():
        changes.append(BigQueryChange(before["name"], "dropped", in_place=False))
    return changes


def _type(field: dict[str, Any]) -> str:
    parameters = ", ".join(str(field[k]) for k in ("precision", "scale") if k in field)
    return f"{field['type']}({parameters})" if parameters else str(field["type"])
