"""Validating rows (lists of dicts) fast, with exactly the reference validator's verdicts and errors.

A batch is checked by msgspec in chunks, one ``msgspec.convert`` call each. A chunk msgspec accepts is valid
(the compiled type is never more lenient than the reference, see :mod:`versioning.validation.msgspec_types`); a
chunk it rejects is checked record by record with the reference :class:`~versioning.validation.Validator`,
so every error message, path and order is the reference's own.

msgspec is more lenient than the reference in three places, each closed here so that the answers are exactly
the reference's for any Python values: it takes a lone surrogate in a string (the chunk is also encoded as
UTF-8, see :meth:`RowValidator._chunk_valid`), a subclass of str (the encoder refuses it), and a tuple or set
for an array or a dict subclass for a map or record (the fields that can hold containers are walked for exact
``list`` and ``dict``; a schema without such fields pays nothing for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import msgspec

from versioning.schema import Schema
from versioning.validation.msgspec_types import BUILTIN_TYPES, compile_record_type
from versioning.validation.reference import FieldError, RecordErrors, Validator

CHUNK = 4096
"""Records per msgspec call: large enough to amortise the call, small enough to stay in the CPU cache."""


class RowValidator:
    """A subject version's validator for many records at once; same answers as :class:`Validator`.

    ``fast`` says whether msgspec checks the records; when False (a schema msgspec cannot check exactly, e.g.
    one with decimals) every record goes through the reference validator.
    """

    def __init__(self, schema: Schema, reference: Validator | None = None) -> None:
        self.schema = schema
        self.reference = reference or Validator(schema)
        record_type = compile_record_type(schema.parsed)
        self.fast = record_type is not None
        self._batch_type: Any = list[record_type] if record_type is not None else None  # type: ignore[valid-type]
        self._container_fields = [f.name for f in schema.parsed.fields if _may_hold_containers(f.type)]  # type: ignore[attr-defined]

    def errors(self, record: Any) -> list[FieldError]:
        """Every error of one record (the reference validator's answer)."""
        return self.reference.errors(record)

    def invalid(self, records: Iterable[Any], first_position: int = 1) -> Iterator[RecordErrors]:
        """The invalid records among many with their positions, as :meth:`Validator.invalid` yields them."""
        rows = records if isinstance(records, Sequence) else list(records)
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            if not self._chunk_valid(chunk):
                yield from self.reference.invalid(chunk, first_position + start)

    def valid_mask(self, records: Sequence[Any]) -> list[bool] | None:
        """None when every record is valid, else one flag per record (the cheap answer for the common case)."""
        mask: list[bool] | None = None
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            if self._chunk_valid(chunk):
                continue
            if mask is None:
                mask = [True] * len(records)
            errors = self.reference.errors
            for i, record in enumerate(chunk, start):
                if errors(record):
                    mask[i] = False
        return mask

    def _chunk_valid(self, chunk: Sequence[Any]) -> bool:
        if self._batch_type is None:
            return False
        # msgspec takes dict subclasses as records; the reference does not, so they go the reference's way.
        if set(map(type, chunk)) - {dict}:
            return False
        try:
            msgspec.convert(chunk, self._batch_type, builtin_types=BUILTIN_TYPES)
        except (msgspec.ValidationError, UnicodeEncodeError):  # the latter: a lone surrogate in a rejected value
            return False
        # msgspec takes a tuple or set as an array and a dict subclass as a map or record; the reference does not.
        for name in self._container_fields:
            for record in chunk:
                if not _plain_containers(record.get(name)):
                    return False
        try:
            # msgspec takes any str; encoding the chunk as UTF-8 (msgpack) finds a lone surrogate anywhere in
            # it, keys included, in one C-level pass. Such a chunk goes to the reference, which names it.
            _ENCODER.encode(chunk)
        except (UnicodeEncodeError, TypeError, OverflowError):
            return False
        return True


_ENCODER = msgspec.msgpack.Encoder()
_SCALARS = frozenset({str, int, float, bool, type(None), bytes, bytearray})


def _may_hold_containers(schema: Any) -> bool:
    """Whether a field of this Avro type can hold a list or dict (an array, map or record, or a union with one)."""
    kind = schema.type
    if kind == "union":
        return any(_may_hold_containers(branch) for branch in schema.schemas)
    return kind in ("array", "map", "record", "error")


def _plain_containers(value: Any) -> bool:
    """True when every container in the value is exactly a list or a dict (what the reference accepts)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(map(_plain_containers, value)) if set(map(type, value)) - _SCALARS else True
    if kind is dict:
        values = value.values()
        return all(map(_plain_containers, values)) if set(map(type, values)) - _SCALARS else True
    return kind not in (tuple, set, frozenset) and not isinstance(value, (list, dict, tuple, set, frozenset))
