"""The error raised when a migration cannot be written or run."""

from __future__ import annotations

from versioning.errors import VersioningError


class MigrationError(VersioningError):
    """A migration that cannot be derived, rendered or applied: says which subject, step and field, and why.

    :attr:`subject` is the subject's name, :attr:`step` the step as ``"v1->v2"`` (empty when the problem is
    not in a step, e.g. an unknown dialect) and :attr:`field` the field involved, if any.
    """

    def __init__(self, message: str, *, subject: str = "", step: str = "", field: str = "") -> None:
        self.subject = subject
        self.step = step
        self.field = field
        where = " ".join(
            part
            for part in (
                f"subject {subject!r}" if subject else "",
                f"step {step}" if step else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
