"""Validate a batch of rows against their version and move the valid ones to another version, fast.

The reference path, which this matches record for record: each record is checked with the source version's
:class:`~versioning.validation.Validator`; invalid records are reported with their positions and left out;
valid ones go through :meth:`Subject.convert`. Upgraded records are checked against the target version
too where nothing else vouches for them: all of them when the path runs a ``call`` step (a Python function),
and those whose own ``schema_version`` stamp named another version than the batch's (``convert`` starts from
the stamp, so such a record may not have moved as the batch did).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from versioning.errors import VersioningError
from versioning.upgrade.rows import RowUpgrader
from versioning.validation.reference import VERSION_FIELD, FieldError, RecordErrors
from versioning.validation.rows import RowValidator

if TYPE_CHECKING:
    from versioning.registry import Subject


@dataclass
class UpgradedRows:
    """The outcome of :func:`upgrade_rows`."""

    records: list[dict[str, Any]]
    """The valid input records at the target version, in input order (invalid ones left out)."""
    invalid: list[RecordErrors] = field(default_factory=list)
    """Input records invalid for the source version, with their input positions."""
    invalid_output: list[RecordErrors] = field(default_factory=list)
    """Upgraded records invalid for the target version (only looked for when a ``call`` step ran), with the
    input position of the record they came from."""


class RowPipeline:
    """Validation against ``from_version`` and the move to ``to_version``, compiled once for many batches."""

    def __init__(self, subject: Subject, from_version: int, to_version: int) -> None:
        self.subject = subject
        self.upgrader = RowUpgrader(subject, from_version, to_version)
        self.source = RowValidator(subject.schemas[self.upgrader.from_version], subject.validator(from_version))
        self.check_output = any(step.has_callable for step, _ in subject.path(from_version, to_version))
        self.target = RowValidator(subject.schemas[self.upgrader.to_version], subject.validator(to_version))

    def run(self, records: Sequence[dict[str, Any]], first_position: int = 1) -> UpgradedRows:
        """Validate and upgrade one batch; positions count from ``first_position``."""
        mask = self.source.valid_mask(records)
        if mask is None:
            valid, positions = records, None
        else:
            kept = [i for i, ok in enumerate(mask) if ok]
            valid, positions = [records[i] for i in kept], kept
        fallbacks = self.upgrader.fallbacks
        try:
            result = UpgradedRows(self.upgrader.upgrade_valid(valid))
        except VersioningError:
            # Some record cannot move (an unknown schema_version, a value a narrower type cannot hold): redo
            # the batch record by record, so that record is rejected with its reason and the others go on.
            result, valid, positions = self._one_by_one(valid, positions, first_position)
        took_reference = self.upgrader.fallbacks != fallbacks
        if mask is not None:
            result.invalid = list(self.source.invalid(records, first_position))
        start = self.upgrader.from_version
        if self.check_output:
            suspects = list(range(len(valid)))
        elif not took_reference:
            suspects = []  # every record fitted the plan: valid in, valid out
        else:
            # None (no stamp) and the batch's own version are the cheap common answers.
            suspects = [i for i, r in enumerate(valid) if r.get(VERSION_FIELD, start) not in (None, start)]
        for i in suspects:
            errors = self.target.errors(result.records[i])
            if errors:
                index = i if positions is None else positions[i]
                result.invalid_output.append(RecordErrors(first_position + index, errors))
        result.invalid_output.sort(key=lambda e: e.position)
        return result

    def _one_by_one(
        self, valid: Sequence[dict[str, Any]], positions: list[int] | None, first_position: int
    ) -> tuple[UpgradedRows, list[dict[str, Any]], list[int]]:
        """Upgrade records one at a time; those that cannot move are left out with their error."""
        moved: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        kept_positions: list[int] = []
        failed: list[RecordErrors] = []
        for i, record in enumerate(valid):
            index = i if positions is None else positions[i]
            try:
                (out,) = self.upgrader.upgrade_valid([record])
            except VersioningError as err:
                failed.append(RecordErrors(first_position + index, [FieldError("", str(err))]))
                continue
            moved.append(out)
            kept.append(record)
            kept_positions.append(index)
        return UpgradedRows(moved, invalid_output=failed), kept, kept_positions


def upgrade_rows(
    subject: Subject, records: Sequence[dict[str, Any]], to_version: int, from_version: int, first_position: int = 1
) -> UpgradedRows:
    """Validate records against ``from_version`` and move the valid ones to ``to_version`` (see the module)."""
    return RowPipeline(subject, from_version, to_version).run(records, first_position)
