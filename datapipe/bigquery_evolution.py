"""BigQuery's own rules for changing a table's schema in place.

BigQuery changes an existing table's schema in place by adding NULLABLE (or REPEATED) columns, by relaxing
REQUIRED columns to NULLABLE, and by widening a column's type where no value can change (``ALTER COLUMN ... SET
DATA TYPE``: INT64 to NUMERIC, BIGNUMERIC or FLOAT64; NUMERIC to BIGNUMERIC or FLOAT64; a NUMERIC/BIGNUMERIC with
at least as many integer and fractional digits). Anything else (a dropped, renamed or otherwise retyped column, a
NULLABLE column made REQUIRED, a new REQUIRED column) needs the table recreated: a full load does that on its next
run (it replaces the table); an incremental table's DAG stops with a message (see :mod:`datapipe.bigquery_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    """What one column-level change is."""

    ADD = "add"
    """A new column."""
    RELAX = "relax"
    """REQUIRED becomes NULLABLE."""
    WIDEN = "widen"
    """The type becomes a wider one."""
    RETYPE = "retype"
    """The type changes in a way that is not a widening BigQuery allows."""
    TIGHTEN = "tighten"
    """NULLABLE becomes REQUIRED."""
    DROP = "drop"
    """The column is gone."""


@dataclass(frozen=True)
class BigQueryChange:
    """One difference between a table's previous and new BigQuery schema."""

    column: str
    message: str
    in_place: bool
    """True when BigQuery applies the change to the existing table (see the module docstring)."""
    kind: ChangeKind = ChangeKind.ADD
    field: dict[str, Any] = field(default_factory=dict)
    """The column in the new schema (empty for a dropped column)."""

    def __str__(self) -> str:
        how = "in place" if self.in_place else "needs the table recreated"
        return f"{self.column}: {self.message} ({how})"


def bigquery_changes(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[BigQueryChange]:
    """Every column-level change from ``previous`` to ``new`` (BigQuery JSON schemas), in column order."""
    old = {f["name"].lower(): f for f in previous}
    changes: list[BigQueryChange] = []
    for column in new:
        name = column["name"]
        before = old.pop(name.lower(), None)
        mode = column.get("mode", "NULLABLE")
        if before is None:
            in_place = mode != "REQUIRED"
            changes.append(BigQueryChange(name, f"added as a {mode} column", in_place, ChangeKind.ADD, column))
            continue
        if _type(before) != _type(column):
            widening = is_widening(before, column)
            changes.append(
                BigQueryChange(
                    name, f"type {'widens' if widening else 'changes'} from {_type(before)} to {_type(column)}",
                    widening, ChangeKind.WIDEN if widening else ChangeKind.RETYPE, column,
                )
            )
        old_mode = before.get("mode", "NULLABLE")
        if old_mode != mode:
            relaxation = old_mode == "REQUIRED" and mode == "NULLABLE"
            changes.append(
                BigQueryChange(name, f"mode changes from {old_mode} to {mode}", relaxation,
                               ChangeKind.RELAX if relaxation else ChangeKind.TIGHTEN, column)
            )
    for before in old.values():
        changes.append(BigQueryChange(before["name"], "dropped", False, ChangeKind.DROP))
    return changes


_DECIMALS = ("NUMERIC", "BIGNUMERIC")
# BigQuery's defaults for an unparameterised decimal: NUMERIC(38, 9), BIGNUMERIC(76, 38) (integer digits 29, 38).
_DEFAULT_DIGITS = {"NUMERIC": (38, 9), "BIGNUMERIC": (76, 38)}


def is_widening(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether BigQuery's ``ALTER COLUMN SET DATA TYPE`` takes the column from ``before``'s type to ``after``'s."""
    old, new = before["type"], after["type"]
    if old == "INTEGER":
        return new in ("NUMERIC", "BIGNUMERIC", "FLOAT") and _integer_digits(after) >= 19
    if old in _DECIMALS and new == "FLOAT":
        return True
    if old in _DECIMALS and new in _DECIMALS and not (old == "BIGNUMERIC" and new == "NUMERIC"):
        old_precision, old_scale = _digits(before)
        new_precision, new_scale = _digits(after)
        return new_scale >= old_scale and new_precision - new_scale >= old_precision - old_scale
    return False


def _digits(column: dict[str, Any]) -> tuple[int, int]:
    default_precision, default_scale = _DEFAULT_DIGITS[column["type"]]
    if "precision" not in column:
        return default_precision, default_scale
    return int(column["precision"]), int(column.get("scale", 0))


def _integer_digits(column: dict[str, Any]) -> int:
    if column["type"] == "FLOAT":
        return 308
    precision, scale = _digits(column)
    return precision - scale


def _type(column: dict[str, Any]) -> str:
    parameters = ", ".join(str(column[k]) for k in ("precision", "scale") if k in column)
    return f"{column['type']}({parameters})" if parameters else str(column["type"])
